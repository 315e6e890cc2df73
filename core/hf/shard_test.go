package hf

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hutml/hut/core/safetensors"
)

func writeST(t *testing.T, path string, tensors map[string][]float32) {
	t.Helper()
	var ts []safetensors.Tensor
	for n, v := range tensors {
		ts = append(ts, safetensors.Tensor{Name: n, Shape: []int{len(v)}, F32: v})
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func writeIndex(t *testing.T, dir string, wm map[string]string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": wm})
	p := filepath.Join(dir, SafetensorsIndexName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// shardedDir writes a two-shard safetensors checkpoint.
func shardedDir(t *testing.T) string {
	dir := t.TempDir()
	writeST(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), map[string][]float32{"a": {1, 2}, "b": {3}})
	writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), map[string][]float32{"c": {4, 5, 6}})
	writeIndex(t, dir, map[string]string{
		"a": "model-00001-of-00002.safetensors",
		"b": "model-00001-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors",
	})
	return dir
}

func TestShardedSafetensors(t *testing.T) {
	dir := shardedDir(t)
	sd, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sd.Names(), ","); got != "a,b,c" {
		t.Fatalf("names %s", got)
	}
	if c := sd["c"]; c.Data[2] != 6 || !strings.HasSuffix(c.File, "model-00002-of-00002.safetensors") {
		t.Errorf("c = %+v", c)
	}
	ix, err := ReadIndex(filepath.Join(dir, SafetensorsIndexName))
	if err != nil {
		t.Fatal(err)
	}
	if s := ix.Shards(); len(s) != 2 || !sort.StringsAreSorted(s) {
		t.Errorf("Shards() = %v", s)
	}
}

func TestShardedErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"missing shard", func(dir string) {
			os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
		}, "1 of 2 shards missing: model-00002-of-00002.safetensors"},
		{"tensor absent", func(dir string) {
			writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors", "d": "model-00002-of-00002.safetensors"})
		}, `"d" (in model-00002-of-00002.safetensors)`},
		{"wrong shard", func(dir string) {
			writeIndex(t, dir, map[string]string{"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})
		}, `tensor "a" is in model-00001-of-00002.safetensors but the index assigns it to model-00002-of-00002.safetensors`},
		{"duplicate", func(dir string) {
			writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), map[string][]float32{"c": {4}, "b": {9}})
			writeIndex(t, dir, map[string]string{"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})
		}, `tensor "b" is in both`},
		{"escaping shard name", func(dir string) {
			writeIndex(t, dir, map[string]string{"a": "../../etc/passwd"})
		}, "not a plain relative file name"},
		{"absolute shard name", func(dir string) {
			writeIndex(t, dir, map[string]string{"a": "/etc/passwd"})
		}, "not a plain relative file name"},
		{"empty index", func(dir string) {
			os.WriteFile(filepath.Join(dir, SafetensorsIndexName), []byte(`{"weight_map":{}}`), 0o644)
		}, "empty or missing weight_map"},
		{"bad json", func(dir string) {
			os.WriteFile(filepath.Join(dir, SafetensorsIndexName), []byte(`[`), 0o644)
		}, "not a JSON object"},
		{"corrupt shard", func(dir string) {
			os.WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), []byte("garbage!!"), 0o644)
		}, "model-00002-of-00002.safetensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := shardedDir(t)
			c.setup(dir)
			_, err := LoadDir(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestValidShardName(t *testing.T) {
	for name, ok := range map[string]bool{
		"model-00001-of-00002.safetensors": true,
		"sub/model.safetensors":            true,
		"":                                 false,
		"..":                               false,
		"../x":                             false,
		"a/../../x":                        false,
		"/abs":                             false,
		`a\b`:                              false,
		"c:x":                              false,
		"./x":                              false,
		"a//b":                             false,
	} {
		if ValidShardName(name) != ok {
			t.Errorf("ValidShardName(%q) = %v", name, !ok)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"gpt2","n_embd":768}`), 0o644)
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg["model_type"] != "gpt2" || cfg["n_embd"] != float64(768) {
		t.Errorf("cfg = %v", cfg)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`null`), 0o644)
	if _, err := LoadConfig(dir); err == nil {
		t.Error("null config accepted")
	}
	if _, err := LoadConfig(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %v", err)
	}
}
