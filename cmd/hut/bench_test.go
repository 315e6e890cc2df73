package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchFlagErrors: bad bench flags fail at once with a message naming
// the flag (the benchmarks themselves are not run by the tests).
func TestBenchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	llmc := t.TempDir() // an llm.c checkout, but the test runs outside the repository root
	if err := os.WriteFile(filepath.Join(llmc, "train_gpt2.c"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--B", "0"}, "must be positive"},
		{[]string{"--rounds", "0"}, "must be positive"},
		{[]string{"--paired", "-1"}, "must not be negative"},
		{[]string{"--llmc", dir}, "no train_gpt2.c"},
		{[]string{"--llmc", llmc}, "tools/llmc/run.sh not found (run hut bench from the repository root)"},
		{[]string{"--peers"}, "tools/peer_pytorch_bench.py not found (run hut bench from the repository root)"},
		{[]string{"--methods", "dora", "--step", "--gemm=false"}, "unknown method"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"bench"}, c.args...)
		if got := Main(args, &out, &errb); got != 2 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("hut %v: exit %d (want 2), stderr %q (want %q)", args, got, errb.String(), c.msg)
		}
	}
}

// TestCombineRounds: the median round's time and the rates from it, the
// fastest step and the largest memory of all rounds.
func TestCombineRounds(t *testing.T) {
	rec := func(step, min, rss float64) benchRecord {
		return benchRecord{"bench": "step", "method": "hut", "B": 4.0, "T": 64.0, "flops_per_token": 500.0,
			"step_s": step, "step_s_min": min, "peak_rss_mb": rss, "tokens_per_s": 256 / step}
	}
	one := rec(0.6, 0.59, 800)
	if got := combineRounds([]benchRecord{one}); got["step_s"] != 0.6 || got["rounds"] != nil {
		t.Errorf("one round changed: %v", got)
	}
	got := combineRounds([]benchRecord{rec(0.7, 0.69, 800), rec(0.5, 0.48, 830), rec(0.6, 0.55, 810)})
	for k, want := range map[string]float64{"step_s": 0.6, "step_s_min": 0.48, "peak_rss_mb": 830, "tokens_per_s": 426.7, "gflops": 213.3} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if r, _ := got["step_s_rounds"].([]float64); len(r) != 3 || r[0] != 0.7 {
		t.Errorf("step_s_rounds = %v", got["step_s_rounds"])
	}
}

// TestCombinePeerRounds: the PyTorch peer's median round and every round.
func TestCombinePeerRounds(t *testing.T) {
	rec := func(step float64) benchRecord {
		return benchRecord{"peer": "pytorch", "method": "hut", "B": 4.0, "T": 64.0, "step_s_median": step, "tokens_per_s": 256 / step}
	}
	if got := combinePeerRounds([]benchRecord{rec(1.5)}); got["step_s_median"] != 1.5 || got["rounds"] != nil {
		t.Errorf("one round changed: %v", got)
	}
	got := combinePeerRounds([]benchRecord{rec(1.8), rec(1.5), rec(1.6), rec(1.55), rec(1.7)})
	if got["step_s_median"] != 1.6 || got["rounds"] != 5 || got["tokens_per_s"] != 160.0 {
		t.Errorf("median record = %v", got)
	}
	if r, _ := got["step_s_rounds"].([]float64); len(r) != 5 || r[0] != 1.8 {
		t.Errorf("step_s_rounds = %v", got["step_s_rounds"])
	}
}

// TestRoundRatio: the median of the per-round ratios, only with two or more
// rounds of both.
func TestRoundRatio(t *testing.T) {
	recs := func(xs ...float64) []benchRecord {
		var r []benchRecord
		for _, x := range xs {
			r = append(r, benchRecord{"step_s": x})
		}
		return r
	}
	// The machine slows down in round 3: per round HUT is 1.02, 1.04 and
	// 1.06× frozen, whatever the medians of each method say.
	got, ok := roundRatio(recs(0.51, 0.52, 0.636), recs(0.5, 0.5, 0.6), "step_s", "step_s")
	if !ok || got != 0.52/0.5 {
		t.Errorf("roundRatio = %v, %v; want %v", got, ok, 0.52/0.5)
	}
	for _, c := range [][2][]benchRecord{{recs(0.5), recs(0.5)}, {recs(0.5, 0.5), recs(0.5)}, {recs(0.5, 0.5), recs(0.5, 0)}} {
		if _, ok := roundRatio(c[0], c[1], "step_s", "step_s"); ok {
			t.Errorf("roundRatio(%v, %v) ok", c[0], c[1])
		}
	}
}

// TestTurnRatio: the median of the per-turn ratios, not the ratio of the
// medians (the machine slows down in the last two turns).
func TestTurnRatio(t *testing.T) {
	// Per turn 1.04, 1.06, 1.02, 1.03, 1.05; the medians' ratio is 1.06.
	hut := []float64{0.52, 0.53, 0.51, 0.6798, 0.714}
	frozen := []float64{0.50, 0.50, 0.50, 0.66, 0.68}
	if got, want := turnRatio(hut, frozen), 0.52/0.5; got != want {
		t.Errorf("turnRatio = %v, want %v", got, want)
	}
}

// TestPairedChild: one process, both methods, a record per method and the
// ratios of the first to the others.
func TestPairedChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two GPT-2 124M models")
	}
	var out bytes.Buffer
	if err := pairedChild([]string{"hut", "frozen"}, 1, 4, 2, 3, "", &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	var recs []benchRecord
	for _, l := range lines {
		var r benchRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	for i, m := range []string{"hut", "frozen"} {
		if recs[i]["bench"] != "step_paired" || recs[i]["method"] != m || recs[i]["turns"] != 3.0 {
			t.Errorf("record %d = %v", i, recs[i])
		}
		if s, _ := recs[i]["step_s"].(float64); s <= 0 {
			t.Errorf("%s step_s = %v", m, recs[i]["step_s"])
		}
	}
	if r := recs[2]; r["bench"] != "paired_ratios" || r["of"] != "hut" {
		t.Errorf("ratios record = %v", r)
	} else if v, _ := r["frozen"].(float64); v <= 0 {
		t.Errorf("hut over frozen = %v", r["frozen"])
	}
}

// TestPairedInChild: HUT is paired with each other method in a process of
// its own, whatever the order of --methods; every record names its pair.
func TestPairedInChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four GPT-2 124M models in two processes")
	}
	var errb bytes.Buffer
	recs, ratios, err := pairedInChild([]string{"frozen", "hut", "lora"}, 1, 4, 2, 2, "", &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	want := [][2]string{{"hut", "frozen"}, {"frozen", "hut"}, {"hut", "lora"}, {"lora", "hut"}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		if r := recs[i]; r["bench"] != "step_paired" || r["method"] != w[0] || r["paired_with"] != w[1] {
			t.Errorf("record %d = %v, want %s paired with %s", i, r, w[0], w[1])
		}
	}
	if len(ratios) != 2 || ratios["frozen"] <= 0 || ratios["lora"] <= 0 {
		t.Errorf("ratios = %v, want hut over frozen and over lora", ratios)
	}
	if n := strings.Count(errb.String(), "in one process"); n != 2 {
		t.Errorf("%d child processes announced, want 2:\n%s", n, errb.String())
	}
}

func TestOpenblasCoreWarning(t *testing.T) {
	for _, tc := range []struct {
		core, impl string
		warn       bool
	}{
		{"", "avx512-8x32", false},         // no OpenBLAS compiled in
		{"SkylakeX", "avx512-8x32", false}, // matched
		{"Haswell", "avx512-8x32", false},  // AVX2 peer chosen on purpose
		{"Zen", "avx2-6x16", false},        // a Zen 3 as OpenBLAS sees it
		{"Prescott", "avx512-8x32", true},  // unknown CPU: SSE3 fallback
		{"Sandybridge", "avx2-6x16", true}, // AVX without FMA
		{"Prescott", "go-3x4", false},      // ours without assembly either
	} {
		w := openblasCoreWarning(tc.core, tc.impl)
		if (w != "") != tc.warn {
			t.Errorf("openblasCoreWarning(%q, %q) = %q, want a warning: %v", tc.core, tc.impl, w, tc.warn)
		}
		if w != "" && (!strings.Contains(w, tc.core) || !strings.Contains(w, "OPENBLAS_CORETYPE")) {
			t.Errorf("warning %q should name the core and OPENBLAS_CORETYPE", w)
		}
	}
}
