package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchLines is a hut bench run as JSON lines, every target met: the
// records hut bench writes, in its order, with made-up numbers.
func benchLines(t *testing.T, edit func(kind string, r benchRecord)) string {
	t.Helper()
	recs := []benchRecord{
		{"bench": "machine", "cpu": "Test CPU", "goos": "linux", "goarch": "amd64", "threads": 2.0, "gemm_kernel": "avx2-6x16",
			"hut_isa": "avx2", "openblas": true, "openblas_core": "Haswell", "pack_weights": true},
		{"bench": "peak", "gflops": 200.0, "isa": "avx2", "threads": 2.0},
		{"bench": "sgemm", "shape": "fwd_qkv", "m": 256.0, "n": 2304.0, "k": 768.0, "ours_gflops": 160.0, "openblas_gflops": 150.0,
			"ratio_openblas": 1.07, "gonum_gflops": 10.0, "ratio_gonum": 16.0},
		{"bench": "sgemm", "shape": "dx_fc", "m": 256.0, "n": 768.0, "k": 3072.0, "ours_gflops": 150.0, "openblas_gflops": 155.0,
			"ratio_openblas": 0.97, "gonum_gflops": 12.0, "ratio_gonum": 12.5},
		{"bench": "step", "method": "frozen", "model": "gpt2-124M", "B": 4.0, "T": 64.0, "trainable": 0.0, "targets": "",
			"step_s": 0.8, "step_s_rounds": []any{0.8, 0.81}, "tokens_per_s": 320.0, "gflops": 160.4, "peak_fraction": 0.802, "peak_rss_mb": 990.0},
		{"bench": "step", "method": "hut", "model": "gpt2-124M", "B": 4.0, "T": 64.0, "trainable": 1179648.0,
			"targets": "attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj",
			"step_s":  0.82, "step_s_rounds": []any{0.82, 0.83}, "tokens_per_s": 312.0, "gflops": 156.5, "peak_fraction": 0.782, "peak_rss_mb": 1041.0},
		{"bench": "step", "method": "lora", "model": "gpt2-124M", "B": 4.0, "T": 64.0, "trainable": 294912.0, "targets": "attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj",
			"step_s": 0.86, "step_s_rounds": []any{0.86, 0.87}, "tokens_per_s": 298.0, "gflops": 150.0, "peak_fraction": 0.75, "peak_rss_mb": 1000.0},
		{"bench": "peer", "method": "hut", "step_s_median": 2.8, "step_s_rounds": []any{2.8, 2.7}, "speedup_of_hut_engine": 3.41, "speedup_by_round": 3.3},
		{"bench": "peer_llmc", "B": 4.0, "T": 64.0, "step_s": 7.0, "steps": 5.0, "hut_faster_by": 8.54, "full_faster_by": 4.6, "march": "haswell"},
		{"bench": "peer_paired", "method": "hut", "peer": "pytorch-test", "turns": 20.0, "step_s": 0.83, "peer_step_s": 2.75,
			"speedup_paired": 3.32, "speedup_paired_rounds": []any{3.3, 3.34}},
		{"bench": "step_paired", "method": "hut", "paired_with": "frozen", "step_s": 0.83},
		{"bench": "step_paired", "method": "frozen", "paired_with": "hut", "step_s": 0.81},
		{"bench": "summary", "hut_over_frozen": 1.025, "hut_over_frozen_by_round": 1.03, "hut_over_frozen_paired": 1.02,
			"hut_over_frozen_paired_rounds": []any{1.02, 1.024}, "hut_minus_frozen_paired_ms": map[string]any{"forward": 1.5, "backward": 9.0, "optimizer": 1.6},
			"hut_over_lora": 0.953, "hut_over_lora_by_round": 0.95, "hut_over_lora_paired": 0.96},
	}
	var b strings.Builder
	for _, r := range recs {
		if edit != nil {
			edit(r.str("bench")+"/"+r.str("method"), r)
		}
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestBenchReport: the report's tables and its verdict on each target, for
// runs that meet every target, miss some, or leave some unmeasured.
func TestBenchReport(t *testing.T) {
	for _, c := range []struct {
		name    string
		edit    func(kind string, r benchRecord)
		want    []string // lines (or parts of lines) the report must have
		notWant []string
	}{
		{"all met", nil, []string{
			"Machine: Test CPU (linux/amd64), 2 threads, GEMM kernel `avx2-6x16` (HUT_ISA avx2), OpenBLAS core Haswell",
			"Peak 200.0 GFLOP/s (avx2 FMA loop, 2 threads).",
			"| fwd_qkv | 256×2304×768 | 160.0 | 150.0 | 1.07 | 10.0 | 16.0 |",
			"| hut | attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj | 1,179,648 | 0.820 | 0.820, 0.830 | 0.830 (with frozen) | 312 | 156.5 | 78.2% | 1041 | 2.800 (2.800, 2.700) | 3.41× (3.30×) |",
			"| frozen | – | 0 | 0.800 | 0.800, 0.810 | 0.810 | 320 |",
			"| frozen | 1.025 | 1.030 | 1.020 | 1.020, 1.024 | 1.50, 9.00, 1.60 |",
			"llm.c (GPT-2 124M, B=4, T=64, -march=haswell): 7.000 s a full fine-tuning step (median of 5); ours faster by 8.5× (HUT), 4.6× (full fine-tuning).",
			"| sgemm ≥ 0.9× OpenBLAS on every shape | 0.97–1.07× (median 1.02×) over 2 shapes | yes |",
			"| sgemm ≥ 10× gonum on every shape | 12.5–16.0× (median 14.2×) over 2 shapes | yes |",
			"| GPT-2 124M HUT step (B=4, T=64) ≤ 1.2 s | 0.820 s | yes |",
			"| HUT step ≥ 3× faster than PyTorch's | 3.41× (PyTorch 2.800 s, ours 0.820 s); by round 3.30×; paired 3.32× | yes |",
			"PyTorch's hut step in turn with ours (20 turns, one process a round): PyTorch 2.750 s, ours 0.830 s; ours faster by 3.32× (the median of the turns' ratios; by process 3.30×, 3.34×).",
			"| HUT step ≥ 5× faster than llm.c's full fine-tuning step | 8.5× (llm.c 7.00 s, -march=haswell) | yes |",
			"| peak memory of the HUT run ≤ 1.3 GB | 1041 MiB (1.09 GB) | yes |",
			"| HUT step ≤ 1.05× the frozen forward + input-gradient pass | 1.025 medians, 1.030 by round, 1.020 paired | yes |",
			"| HUT step faster than LoRA's at equal targets | 0.953 medians, 0.950 by round, 0.960 paired | yes |",
		}, []string{"| no |", "| partly", "targets differ"}},
		{"some missed", func(kind string, r benchRecord) {
			switch kind {
			case "sgemm/":
				if r.str("shape") == "dx_fc" {
					r["ratio_openblas"], r["ratio_gonum"] = 0.89, 9.9
				}
			case "peer/hut":
				r["speedup_by_round"] = 2.96
			case "peer_paired/hut":
				r["speedup_paired"] = 2.9
			case "step/hut":
				r["peak_rss_mb"] = 1300.0
				r["step_s"] = 1.25
			case "summary/":
				r["hut_over_frozen_paired"] = 1.051
				r["hut_over_lora"], r["hut_over_lora_by_round"], r["hut_over_lora_paired"] = 1.0, 1.01, 1.02
			}
		}, []string{
			"| sgemm ≥ 0.9× OpenBLAS on every shape | 0.89–1.07× (median 0.98×) over 2 shapes | no |",
			"| sgemm ≥ 10× gonum on every shape | 9.9–16.0× (median 12.9×) over 2 shapes | no |",
			"| GPT-2 124M HUT step (B=4, T=64) ≤ 1.2 s | 1.250 s | no |",
			"by round 2.96×; paired 2.90× | partly (1 of 3) |",
			"| peak memory of the HUT run ≤ 1.3 GB | 1300 MiB (1.36 GB) | no |",
			"| 1.025 medians, 1.030 by round, 1.051 paired | partly (2 of 3) |",
			"| HUT step faster than LoRA's at equal targets | 1.000 medians, 1.010 by round, 1.020 paired | no |",
		}, nil},
		{"each method's default targets", func(kind string, r benchRecord) {
			if kind == "step/lora" {
				r["targets"] = "attn.c_attn"
			}
		}, []string{
			"0.960 paired (targets differ: HUT attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj, LoRA attn.c_attn) | not compared: the targets differ",
		}, []string{"| no |"}},
		{"other shapes, no peers", func(kind string, r benchRecord) {
			switch kind {
			case "machine/":
				r["openblas"] = false
				r["hut_isa"] = ""
			case "sgemm/":
				delete(r, "ratio_openblas")
				delete(r, "openblas_gflops")
			case "step/frozen", "step/hut", "step/lora":
				r["B"] = 8.0
			case "peer/hut", "peer_paired/hut":
				r["bench"] = "peer-elsewhere"
			}
		}, []string{
			"(HUT_ISA native), OpenBLAS not compiled in",
			"| fwd_qkv | 256×2304×768 | 160.0 | – | – | 10.0 | 16.0 |",
			"| sgemm ≥ 10× gonum on every shape |",
		}, []string{"OpenBLAS on every shape", "≤ 1.2 s", "PyTorch's", "llm.c's", "≤ 1.05×", "1.3 GB"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.jsonl")
			if err := os.WriteFile(path, []byte(benchLines(t, c.edit)), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := Main([]string{"bench", "--report", path}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			rep := out.String()
			for _, w := range c.want {
				if !strings.Contains(rep, w) {
					t.Errorf("report lacks %q:\n%s", w, rep)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(rep, w) {
					t.Errorf("report has %q:\n%s", w, rep)
				}
			}
		})
	}
}

// TestBenchReportErrors: a file that is not hut bench's output is refused
// with its name and the line at fault; nothing is measured.
func TestBenchReportErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--report", filepath.Join(dir, "none.jsonl")}, 1, "none.jsonl: no such file"},
		{[]string{"--report", write("log.jsonl", "{\"bench\":\"peak\",\"gflops\":1}\nbench: GPT-2 124M hut step…\n")}, 1, "log.jsonl:2: not a hut bench JSON record"},
		{[]string{"--report", write("other.jsonl", "{\"loss\":2.5}\n")}, 1, "other.jsonl:1: record without a \"bench\" field"},
		{[]string{"--report", write("empty.jsonl", "\n\n")}, 1, "empty.jsonl: no hut bench records"},
		{[]string{"--report", write("ok.jsonl", "{\"bench\":\"peak\",\"gflops\":1}\n"), "extra"}, 2, "unexpected argument \"extra\""},
	} {
		var out, errb bytes.Buffer
		if code := Main(append([]string{"bench"}, c.args...), &out, &errb); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("hut bench %v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errb.String(), c.msg)
		}
	}
	// Standard input, as in `hut bench | tee run.jsonl | hut bench --report -`.
	var out bytes.Buffer
	if err := benchReportFile("-", strings.NewReader(benchLines(t, nil)), &out); err != nil || !strings.Contains(out.String(), "| yes |") {
		t.Errorf("report from stdin: %v\n%s", err, out.String())
	}
}

// TestBenchReportRecordedRuns: the runs kept in docs/runs read back, and
// the report states what docs/benchmarks.md quotes from them.
func TestBenchReportRecordedRuns(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"run37-native-peers.jsonl", []string{
			"| sgemm ≥ 0.9× OpenBLAS on every shape | 0.92–1.17× (median 1.11×) over 15 shapes | yes |",
			"| HUT step ≥ 3× faster than PyTorch's | 3.08× (PyTorch 2.107 s, ours 0.684 s); by round 3.09× | yes |",
			"| HUT step ≥ 5× faster than llm.c's full fine-tuning step | 15.6× (llm.c 10.69 s, -march=native) | yes |",
			"| HUT step ≤ 1.05× the frozen forward + input-gradient pass | 1.046 medians, 1.050 by round, 1.048 paired | yes |",
		}},
		{"run38-avx2-peers.jsonl", []string{
			"GEMM kernel `avx2-6x16` (HUT_ISA avx2), OpenBLAS core Haswell",
			"| HUT step ≥ 3× faster than PyTorch's | 2.03× (PyTorch 2.305 s, ours 1.135 s); by round 2.10× | no |",
		}},
		{"run39-equal-targets.jsonl", []string{
			"| HUT step faster than LoRA's at equal targets | 0.882 medians, 0.938 by round, 0.898 paired | yes |",
			"| HUT step faster than HiRA's at equal targets | 0.674 medians, 0.673 by round, 0.585 paired | yes |",
		}},
		{"run40-native-peers.jsonl", []string{
			"| HUT step ≥ 3× faster than PyTorch's | 3.81× (PyTorch 2.008 s, ours 0.527 s); by round 4.02× | yes |",
		}},
		{"run44-native-peer-paired-5-rounds.jsonl", []string{
			"ours faster by 3.05× (the median of the turns' ratios; by process 2.97×, 3.24×, 3.29×, 3.13×, 2.81×)",
			"| HUT step ≥ 3× faster than PyTorch's | 3.19× (PyTorch 1.870 s, ours 0.587 s); by round 3.19×; paired 3.05× | yes |",
		}},
		{"run46-native-peer-paired.jsonl", []string{
			"| HUT step ≥ 3× faster than PyTorch's | 2.56× (PyTorch 1.827 s, ours 0.714 s); by round 2.56×; paired 2.89× | no |",
			"| HUT step ≤ 1.05× the frozen forward + input-gradient pass | 1.115 medians, 1.117 by round, 1.034 paired | partly (1 of 3) |",
		}},
		{"run47-native-peers.jsonl", []string{
			"ours faster by 3.14× (the median of the turns' ratios; by process 3.14×, 2.98×, 3.14×)",
			"| HUT step ≥ 5× faster than llm.c's full fine-tuning step | 10.3× (llm.c 7.13 s, -march=native) | yes |",
		}},
		{"run42-native-5-rounds.jsonl", []string{
			"| 0.570 | 0.543, 0.609, 0.570, 0.502, 0.666 |",
			"| HUT step ≥ 3× faster than PyTorch's | 2.89× (PyTorch 1.649 s, ours 0.570 s); by round 2.89× | no |",
		}},
	} {
		var out, errb bytes.Buffer
		if code := Main([]string{"bench", "--report", filepath.Join("..", "..", "docs", "runs", c.file)}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.file, code, errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: report lacks %q:\n%s", c.file, w, out.String())
			}
		}
	}
}
