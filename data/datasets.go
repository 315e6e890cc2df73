// Package datasets carries, embedded in the binary, the data files that hut's
// default jobs need, so that a fresh clone works without any download:
// the E2E NLG challenge train/dev/test sets (and LoRA's text format of dev
// and test), the GLUE CoLA, SST-2, MRPC, STS-B, RTE and WNLI train/dev sets,
// and tiny-shakespeare. Files are stored gzip-compressed; Open returns the
// decompressed bytes. Provenance and licences are in the SOURCE.md file of
// each folder.
//
// Only commands import this package; the core packages (and so the wasm
// build) read data through io.Reader and never embed the corpora.
package datasets

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"sort"
	"strings"
)

//go:embed e2e/*.gz glue/*/*.gz tinyshakespeare/*.gz
var files embed.FS

// alias maps short names to the embedded file names (without .gz).
var alias = map[string]string{
	"e2e/train.csv": "e2e/trainset.csv",
	"e2e/dev.csv":   "e2e/devset.csv",
	"e2e/test.csv":  "e2e/testset_w_refs.csv",
}

// List returns the names Open accepts, sorted.
func List() []string {
	var names []string
	for _, dir := range []string{"e2e", "glue/cola", "glue/sst2", "glue/mrpc", "glue/stsb", "glue/rte", "glue/wnli", "tinyshakespeare"} {
		ents, err := files.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			names = append(names, dir+"/"+strings.TrimSuffix(e.Name(), ".gz"))
		}
	}
	for a := range alias {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// Open returns the contents of the named file, e.g. "e2e/train.csv",
// "glue/sst2/dev.tsv" or "tinyshakespeare/input.txt" (see List).
func Open(name string) (io.ReadCloser, error) {
	real := name
	if a, ok := alias[name]; ok {
		real = a
	}
	raw, err := files.ReadFile(real + ".gz")
	if err != nil {
		return nil, fmt.Errorf("datasets: no embedded file %q (have: %s)", name, strings.Join(List(), ", "))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	return zr, nil
}

// ReadFile returns the whole decompressed file.
func ReadFile(name string) ([]byte, error) {
	rc, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", name, err)
	}
	return b, nil
}
