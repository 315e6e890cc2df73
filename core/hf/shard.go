package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hutml/hut/core/safetensors"
)

// ShardIndex is a sharded checkpoint's index, model.safetensors.index.json
// or pytorch_model.bin.index.json: weight_map sends every tensor name to
// the shard file holding it.
type ShardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ReadIndex reads and validates a shard index file.
func ReadIndex(path string) (*ShardIndex, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard index: %w", err)
	}
	return ParseIndex(b, path)
}

// ParseIndex validates the JSON of a shard index; name is used in errors.
// Every shard name must be a relative path inside the checkpoint directory
// (no "..", no absolute paths), so a hostile index cannot point elsewhere.
func ParseIndex(b []byte, name string) (*ShardIndex, error) {
	var ix ShardIndex
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&ix); err != nil {
		return nil, fmt.Errorf("shard index %s: not a JSON object with a weight_map: %v", name, err)
	}
	if len(ix.WeightMap) == 0 {
		return nil, fmt.Errorf("shard index %s: empty or missing weight_map", name)
	}
	for t, shard := range ix.WeightMap {
		if !ValidShardName(shard) {
			return nil, fmt.Errorf("shard index %s: tensor %q maps to %q, which is not a plain relative file name", name, t, shard)
		}
	}
	return &ix, nil
}

// ValidShardName reports whether a file name taken from an index (or from
// the Hub) is a clean relative path that stays inside its directory.
func ValidShardName(name string) bool {
	return name != "" && len(name) <= 255 && path.Clean(name) == name && !path.IsAbs(name) &&
		name != ".." && !strings.HasPrefix(name, "../") &&
		!strings.ContainsAny(name, "\\:\x00") && filepath.IsLocal(name)
}

// Shards returns the distinct shard file names, sorted.
func (ix *ShardIndex) Shards() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ix.WeightMap {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// LoadSharded reads a sharded checkpoint from its index file. Shards are
// .safetensors or .bin files next to the index. It checks that no shard is
// missing, that every tensor the index lists is in the shard it names, and
// that no tensor appears in two shards.
func LoadSharded(indexPath string) (StateDict, error) {
	ix, err := ReadIndex(indexPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	shards := ix.Shards()
	var missing []string
	for _, s := range shards {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(s))); err != nil {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sharded checkpoint %s: %d of %d shards missing: %s", indexPath, len(missing), len(shards), strings.Join(missing, ", "))
	}
	sd := StateDict{}
	from := map[string]string{} // tensor → shard it was found in
	for _, s := range shards {
		p := filepath.Join(dir, filepath.FromSlash(s))
		part, names, err := loadShard(p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if prev, dup := from[n]; dup {
				return nil, fmt.Errorf("sharded checkpoint %s: tensor %q is in both %s and %s", indexPath, n, prev, s)
			}
			if want, listed := ix.WeightMap[n]; listed && want != s {
				return nil, fmt.Errorf("sharded checkpoint %s: tensor %q is in %s but the index assigns it to %s", indexPath, n, s, want)
			}
			from[n] = s
		}
		for n, t := range part {
			sd[n] = t
		}
	}
	var absent []string
	for n, s := range ix.WeightMap {
		if _, ok := from[n]; !ok {
			absent = append(absent, fmt.Sprintf("%q (in %s)", n, s))
		}
	}
	if len(absent) > 0 {
		sort.Strings(absent)
		more := ""
		if len(absent) > 5 {
			more = fmt.Sprintf(" and %d more", len(absent)-5)
			absent = absent[:5]
		}
		return nil, fmt.Errorf("sharded checkpoint %s: tensors listed in the index but missing from their shards: %s%s", indexPath, strings.Join(absent, ", "), more)
	}
	return sd, nil
}

// loadShard reads one shard and also returns the names of all its tensors,
// including the non-float ones that are not loaded.
func loadShard(p string) (StateDict, []string, error) {
	switch {
	case strings.HasSuffix(p, ".safetensors"):
		f, err := safetensors.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		sd, err := fromFile(f, p)
		return sd, f.Names(), err
	case strings.HasSuffix(p, ".bin"):
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s: %w", p, err)
		}
		return parseTorch(b, p)
	}
	return nil, nil, fmt.Errorf("shard %s: unknown format (expected .safetensors or .bin)", p)
}

// LoadConfig reads dir/config.json as generic JSON. Typed model configs
// are built from it by the model packages.
func LoadConfig(dir string) (map[string]any, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: not a JSON object: %v", p, err)
	}
	if cfg == nil {
		return nil, fmt.Errorf("config %s: not a JSON object (null)", p)
	}
	return cfg, nil
}
