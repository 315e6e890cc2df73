package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/metrics"
	"github.com/hutml/hut/core/model/roberta"
	datasets "github.com/hutml/hut/data"
)

func init() {
	register("score", "score outputs: E2E (BLEU, NIST, METEOR, ROUGE-L, CIDEr) or GLUE metrics", runScore)
}

// embeddedPrefix selects a file of package datasets instead of a path, e.g.
// --refs embedded:e2e/test.csv.
const embeddedPrefix = "embedded:"

// readScoreInput reads a path or an embedded:NAME file.
func readScoreInput(flagName, path string) ([]byte, string, error) {
	if name, ok := strings.CutPrefix(path, embeddedPrefix); ok {
		b, err := datasets.ReadFile(name)
		if err != nil {
			return nil, "", usagef("--%s: %v", flagName, err)
		}
		return b, path, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("--%s: %w", flagName, err)
	}
	return b, path, nil
}

func runScore(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", "--task e2e --refs FILE --hyps FILE | --task cola|sst2|mrpc|stsb|rte|wnli|mnli|qnli|qqp --preds FILE --labels FILE", stderr)
	task := fs.String("task", "", "e2e, or a GLUE task: "+strings.Join(data.TaskNames(), ", "))
	refs := fs.String("refs", "", "E2E references: the scorer's text format (references of one instance on consecutive lines, blank line between instances) or a CSV/TSV with mr,ref columns (by extension .csv/.tsv); embedded:e2e/test.csv for the E2E test set")
	hyps := fs.String("hyps", "", "E2E system outputs, one per line, in the order of the reference instances")
	preds := fs.String("preds", "", "GLUE predictions: one label (name or id; a score for stsb) per line, or GLUE's index<TAB>prediction format")
	labels := fs.String("labels", "", "GLUE gold labels: the task's TSV (e.g. dev.tsv, or embedded:glue/sst2/dev.tsv) or one label per line")
	if err := parseFlagsOnly(fs, interspersed(fs, args)); err != nil {
		return err
	}
	if *task == "" {
		return usagef("--task is required (e2e or one of %s)", strings.Join(data.TaskNames(), ", "))
	}
	enc := json.NewEncoder(stdout)
	if strings.EqualFold(*task, "e2e") {
		if *refs == "" || *hyps == "" {
			return usagef("--task e2e needs --refs and --hyps")
		}
		s, err := scoreE2E(*refs, *hyps)
		if err != nil {
			return err
		}
		return enc.Encode(s)
	}
	t, err := data.LookupTask(*task)
	if err != nil {
		return usagef("--task: %v", err)
	}
	if *preds == "" || *labels == "" {
		return usagef("--task %s needs --preds and --labels", t.Name)
	}
	res, err := scoreGLUE(t, *preds, *labels)
	if err != nil {
		return err
	}
	return enc.Encode(res)
}

// scoreE2E loads references and outputs the way tuetschek/e2e-metrics does
// and returns its five scores.
func scoreE2E(refPath, hypPath string) (metrics.E2EScores, error) {
	var zero metrics.E2EScores
	rb, rname, err := readScoreInput("refs", refPath)
	if err != nil {
		return zero, err
	}
	var refs [][]string
	if ext := strings.ToLower(filepath.Ext(rname)); ext == ".csv" || ext == ".tsv" {
		rows, err := data.ReadE2ECSV(bytes.NewReader(rb), rname)
		if err != nil {
			return zero, err
		}
		for i, inst := range data.GroupE2E(rows) {
			if rows[0].Ref == "" && len(inst.Refs) == 1 && inst.Refs[0] == "" {
				return zero, fmt.Errorf("%s: instance %d (line %d) has no reference column; use testset_w_refs.csv", rname, i+1, inst.Line)
			}
			refs = append(refs, inst.Refs)
		}
	} else {
		if refs, err = data.ReadMultiRef(bytes.NewReader(rb), rname); err != nil {
			return zero, err
		}
	}
	hb, hname, err := readScoreInput("hyps", hypPath)
	if err != nil {
		return zero, err
	}
	hyps, err := data.ReadLines(bytes.NewReader(hb), hname)
	if err != nil {
		return zero, err
	}
	if len(hyps) != len(refs) {
		line := min(len(hyps), len(refs)) + 1
		return zero, fmt.Errorf("%s:%d: %d outputs for %d reference instances in %s; want one output line per instance", hname, line, len(hyps), len(refs), rname)
	}
	return metrics.E2E(refs, hyps)
}

// scoreGLUE returns the task's metrics keyed by name.
func scoreGLUE(t *data.Task, predPath, labelPath string) (map[string]float64, error) {
	pb, pname, err := readScoreInput("preds", predPath)
	if err != nil {
		return nil, err
	}
	lb, lname, err := readScoreInput("labels", labelPath)
	if err != nil {
		return nil, err
	}
	p, err := data.ReadPredictions(t, bytes.NewReader(pb), pname)
	if err != nil {
		return nil, err
	}
	g, err := data.ReadPredictions(t, bytes.NewReader(lb), lname)
	if err != nil {
		return nil, err
	}
	if p.Len() != g.Len() {
		return nil, fmt.Errorf("%s: %d predictions for %d labels in %s", pname, p.Len(), g.Len(), lname)
	}
	out, err := roberta.GLUEScores(t, p, g)
	if err != nil {
		return nil, err
	}
	for _, m := range t.Metrics {
		if math.IsNaN(out[m]) {
			return nil, errors.New(m + " is undefined: the predictions or the labels are constant")
		}
	}
	return out, nil
}
