package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
// fastest step and the largest memory of all rounds, each phase's median.
func TestCombineRounds(t *testing.T) {
	rec := func(step, min, rss float64) benchRecord {
		return benchRecord{"bench": "step", "method": "hut", "B": 4.0, "T": 64.0, "flops_per_token": 500.0,
			"step_s": step, "step_s_min": min, "peak_rss_mb": rss, "tokens_per_s": 256 / step,
			"forward_s": 0.6 * step, "backward_s": 0.4 * step, "optimizer_s": 0.001}
	}
	one := rec(0.6, 0.59, 800)
	if got := combineRounds([]benchRecord{one}); got["step_s"] != 0.6 || got["rounds"] != nil {
		t.Errorf("one round changed: %v", got)
	}
	got := combineRounds([]benchRecord{rec(0.7, 0.69, 800), rec(0.5, 0.48, 830), rec(0.6, 0.55, 810)})
	for k, want := range map[string]float64{"step_s": 0.6, "step_s_min": 0.48, "peak_rss_mb": 830, "tokens_per_s": 426.7, "gflops": 213.3,
		"forward_s": 0.6 * 0.6, "backward_s": 0.4 * 0.6, "optimizer_s": 0.001} {
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
		ts := stepTurns(recs[i])
		if len(ts) != 3 {
			t.Errorf("%s step_s_turns = %v, want 3 times", m, recs[i]["step_s_turns"])
			continue
		}
		// Each turn's phases lie within its step (rounded to 1e-5 s and
		// 1e-6 s); forward and backward take time, the optimizer of the
		// frozen pass has nothing to update.
		for turn, step := range ts {
			var sum float64
			for _, name := range stepPhases {
				pt := recs[i].turns(name + "_s_turns")
				if len(pt) != 3 {
					t.Fatalf("%s %s_s_turns = %v, want 3 times", m, name, recs[i][name+"_s_turns"])
				}
				if pt[turn] < 0 || (name != "optimizer" && pt[turn] <= 0) {
					t.Errorf("%s turn %d: %s took %v s", m, turn, name, pt[turn])
				}
				sum += pt[turn]
			}
			if sum > step+2e-5 {
				t.Errorf("%s turn %d: phases add up to %v s, more than the step's %v s", m, turn, sum, step)
			}
		}
	}
	if r := recs[2]; r["bench"] != "paired_ratios" || r["of"] != "hut" {
		t.Errorf("ratios record = %v", r)
	} else if v, _ := r["frozen"].(float64); v <= 0 {
		t.Errorf("hut over frozen = %v", r["frozen"])
	}
}

// TestPairedInChild: HUT is paired with each other method in a process of
// its own, whatever the order of --methods; every record names its pair
// and carries its step times turn by turn.
func TestPairedInChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four GPT-2 124M models in two processes")
	}
	var errb bytes.Buffer
	runs, err := pairedInChild([]string{"frozen", "hut", "lora"}, 1, 4, 2, 2, "", &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if len(runs) != 2 {
		t.Fatalf("%d pair runs, want 2", len(runs))
	}
	for i, other := range []string{"frozen", "lora"} {
		for _, c := range []struct {
			rec          benchRecord
			method, with string
		}{{runs[i].first, "hut", other}, {runs[i].other, other, "hut"}} {
			if c.rec["bench"] != "step_paired" || c.rec["method"] != c.method || c.rec["paired_with"] != c.with {
				t.Errorf("pair %d: record %v, want %s paired with %s", i, c.rec, c.method, c.with)
			}
			if ts := stepTurns(c.rec); len(ts) != 2 || ts[0] <= 0 || ts[1] <= 0 {
				t.Errorf("pair %d, %s: step_s_turns = %v", i, c.method, c.rec["step_s_turns"])
			}
		}
	}
	if n := strings.Count(errb.String(), "in one process"); n != 2 {
		t.Errorf("%d child processes announced, want 2:\n%s", n, errb.String())
	}
}

// TestCombinePairs: the pairs' processes are pooled turn by turn; the
// ratio is the median over all turns, not the ratio of medians, and each
// process's own median is kept; so are the phases' times and differences.
func TestCombinePairs(t *testing.T) {
	rec := func(method, with string, turns ...float64) benchRecord {
		// Each step: 60% forward, 40% backward, no optimizer.
		var fw, bw []float64
		for _, v := range turns {
			fw, bw = append(fw, 0.6*v), append(bw, 0.4*v)
		}
		return benchRecord{"bench": "step_paired", "method": method, "paired_with": with, "B": 4.0, "T": 64.0,
			"flops_per_token": 500.0, "step_s": median(slices.Clone(turns)), "step_s_turns": turns,
			"forward_s_turns": fw, "backward_s_turns": bw, "optimizer_s_turns": make([]float64, len(turns))}
	}
	runs := []pairRun{
		{rec("hut", "frozen", 0.52, 0.53, 0.51), rec("frozen", "hut", 0.50, 0.50, 0.50)},   // 1.04, 1.06, 1.02
		{rec("hut", "lora", 0.50, 0.50, 0.50), rec("lora", "hut", 0.50, 0.50, 0.50)},       // 1, 1, 1
		{rec("hut", "frozen", 0.63, 0.618, 0.642), rec("frozen", "hut", 0.60, 0.60, 0.60)}, // 1.05, 1.03, 1.07
	}
	recs, ratio, byProc, extraMS := combinePairs(runs)
	// Six turns over frozen: 1.02 … 1.07; median takes the upper middle one.
	if got, want := ratio["frozen"], 0.63/0.6; got != want {
		t.Errorf("ratio over frozen = %v, want %v", got, want)
	}
	if ratio["lora"] != 1 {
		t.Errorf("ratio over lora = %v, want 1", ratio["lora"])
	}
	if got := byProc["frozen"]; len(got) != 2 || got[0] != 1.04 || got[1] != 1.05 {
		t.Errorf("by process = %v, want [1.04 1.05]", got)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4: %v", len(recs), recs)
	}
	h := recs[0]
	if h["method"] != "hut" || h["paired_with"] != "frozen" || h["turns"] != 6 || h["step_s"] != 0.618 || h["step_s_turns"] != nil {
		t.Errorf("hut's pooled record = %v", h)
	}
	if r, _ := h["step_s_rounds"].([]float64); len(r) != 2 {
		t.Errorf("step_s_rounds = %v", h["step_s_rounds"])
	}
	if h["tokens_per_s"] != 414.2 || h["gflops"] != 207.1 {
		t.Errorf("rates = %v tokens/s, %v GFLOP/s; want 414.2, 207.1", h["tokens_per_s"], h["gflops"])
	}
	// Phases: pooled medians, the turns dropped.
	if h["forward_s"] != round(0.6*0.618, 5) || h["backward_s"] != round(0.4*0.618, 5) || h["optimizer_s"] != 0.0 {
		t.Errorf("hut's phases = %v, %v, %v", h["forward_s"], h["backward_s"], h["optimizer_s"])
	}
	if h["forward_s_turns"] != nil || h["backward_s_turns"] != nil {
		t.Errorf("phase turns kept in the pooled record: %v", h)
	}
	// HUT minus frozen, turn by turn: 20, 30, 10, 30, 18, 42 ms; the
	// median (upper middle) is 30 ms, 60% of it forward, 40% backward.
	if ms := extraMS["frozen"]; ms["forward"] != 18.0 || ms["backward"] != 12.0 || ms["optimizer"] != 0.0 {
		t.Errorf("hut minus frozen by phase = %v ms, want forward 18, backward 12, optimizer 0", ms)
	}
	if ms := extraMS["lora"]; ms["forward"] != 0.0 || ms["backward"] != 0.0 {
		t.Errorf("hut minus lora by phase = %v ms, want 0", ms)
	}
	if recs[2]["method"] != "hut" || recs[2]["paired_with"] != "lora" || recs[3]["method"] != "lora" {
		t.Errorf("records out of order: %v", recs)
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
