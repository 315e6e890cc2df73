package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/bench"
	"github.com/hutml/hut/internal/blaspeer"
	"github.com/hutml/hut/internal/cpufeat"
	"github.com/hutml/hut/internal/peak"
	"github.com/hutml/hut/internal/pytorch"
)

func init() {
	register("bench", "benchmark the CPU engine: sgemm vs OpenBLAS/gonum, GPT-2 124M training steps per method", runBench)
}

// benchRecord is one JSON line of hut bench.
type benchRecord map[string]any

// num is the record's number k (0 when it has none).
func (r benchRecord) num(k string) float64 { v, _ := r[k].(float64); return v }

// setRates sets tokens/s and GFLOP/s from the step time med.
func (r benchRecord) setRates(med float64) {
	if tokens := r.num("B") * r.num("T"); med > 0 {
		r["tokens_per_s"] = round(tokens/med, 1)
		r["gflops"] = round(r.num("flops_per_token")*tokens/med/1e3, 1)
	}
}

func emit(w io.Writer, r benchRecord) {
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "[--gemm] [--step] [--methods frozen,hut,lora,hira,full] [--peers] [--llmc DIR] | --report FILE", stderr)
	doGemm := fs.Bool("gemm", false, "only the sgemm comparison")
	doStep := fs.Bool("step", false, "only the training-step benchmark")
	methods := fs.String("methods", "frozen,hut,lora,hira,full", "methods for the step benchmark (frozen = forward + input-gradient pass)")
	steps := fs.Int("steps", 5, "timed steps per method (the median is reported)")
	rounds := fs.Int("rounds", 1, "step benchmark: run the methods (and with --peers PyTorch's steps) this many times in turn, each in a fresh process; the median of the rounds is reported")
	B := fs.Int("B", 4, "batch size of the step benchmark")
	T := fs.Int("T", 64, "sequence length of the step benchmark")
	r := fs.Int("r", 8, "adapter rank")
	targets := fs.String("targets", "", "target modules for every PEFT method (e.g. all-linear); empty: each method's default (HUT all-linear, LoRA/HiRA c_attn)")
	pairs := fs.Int("pairs", 9, "sgemm: alternating samples per library and shape")
	gonum := fs.Bool("gonum", true, "sgemm: also measure gonum's blas32 (slow)")
	peers := fs.Bool("peers", false, "also run the PyTorch CPU peer (python3 with torch, tools/peer_pytorch_bench.py) in the same run")
	llmc := fs.String("llmc", "", "also time llm.c's CPU full fine-tuning step: DIR is an llm.c checkout whose train_gpt2.c tools/llmc/run.sh builds with gcc -march=native (or $LLMC_MARCH)")
	paired := fs.Int("paired", 10, "step benchmark: also pair HUT with each other method, the two in one process taking one step each in turn, this many times (in every round, a fresh process each); reports each method's median step and the median of the per-turn ratios over all rounds (summary hut_over_*_paired), in which a drift of the machine's speed cancels; with --peers, HUT's step also alternates with PyTorch's (two processes, one step at a time; summary of the peer_paired record: speedup_paired); 0: off")
	child := fs.String("child-step", "", "internal: run one method's step benchmark in this process")
	childPaired := fs.String("child-paired", "", "internal: run the paired step benchmark of these methods in this process")
	childPeerPaired := fs.String("child-peer-paired", "", "internal: alternate this method's steps with the PyTorch peer's in this process")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	report := fs.String("report", "", "measure nothing: read the JSON lines of an earlier hut bench from `FILE` ('-': standard input) and print them as Markdown tables, with the targets of docs/benchmarks.md checked")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *report != "" {
		return benchReportFile(*report, os.Stdin, stdout)
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	if *B <= 0 || *T <= 0 || *steps <= 0 || *r <= 0 || *rounds <= 0 {
		return usagef("--B, --T, --steps, --rounds and --r must be positive")
	}
	if *paired < 0 {
		return usagef("--paired must not be negative")
	}
	if *llmc != "" { // fail before the long runs, not after them
		if _, err := os.Stat(filepath.Join(*llmc, "train_gpt2.c")); err != nil {
			return usagef("--llmc %s: no train_gpt2.c there (want an llm.c checkout)", *llmc)
		}
		if _, err := os.Stat(llmcScript); err != nil {
			return usagef("--llmc: %s not found (run hut bench from the repository root)", llmcScript)
		}
	}
	if *peers {
		if _, err := os.Stat(pytorchScript); err != nil {
			return usagef("--peers: %s not found (run hut bench from the repository root)", pytorchScript)
		}
	}
	if *child != "" {
		return stepChild(*child, *B, *T, *r, *steps, *targets, stdout)
	}
	if *childPaired != "" {
		return pairedChild(strings.Split(*childPaired, ","), *B, *T, *r, *paired, *targets, stdout)
	}
	if *childPeerPaired != "" {
		return peerPairedChild(*childPeerPaired, *B, *T, *r, *paired, *targets, stdout)
	}
	all := !*doGemm && !*doStep
	emit(stdout, benchRecord{"bench": "machine", "goos": runtime.GOOS, "goarch": runtime.GOARCH, "threads": runtime.GOMAXPROCS(0),
		"cpu": cpuModel(), "gemm_kernel": gemm.Impl(), "openblas": blaspeer.Available(), "openblas_core": blaspeer.CoreName(),
		"pack_weights": cpu.New().WeightPacking(), "hut_isa": cpufeat.ISA})
	if w := openblasCoreWarning(blaspeer.CoreName(), gemm.Impl()); w != "" {
		fmt.Fprintln(stderr, "hut bench:", w)
	}
	pk, havePeak := peak.Measure(600*time.Millisecond, strings.Contains(gemm.Impl(), "512"))
	if havePeak {
		emit(stdout, benchRecord{"bench": "peak", "isa": pk.ISA, "threads": pk.Threads, "gflops": round(pk.GFLOPS, 1)})
	}
	if all || *doGemm {
		if !blaspeer.Available() {
			fmt.Fprintln(stderr, "hut bench: OpenBLAS not compiled in (needs libopenblas-dev and `go run -tags openblas ./cmd/hut bench`): ours vs gonum only")
		}
		rows := bench.CompareGemm(bench.GemmOptions{Pairs: *pairs, Gonum: *gonum, Log: stderr})
		for _, row := range rows {
			s := row.Shape
			rec := benchRecord{"bench": "sgemm", "shape": s.Name, "m": s.M, "n": s.N, "k": s.K, "trans_a": s.TransA, "trans_b": s.TransB,
				"ours_gflops": round(row.Ours, 1)}
			if row.OpenBLAS > 0 {
				rec["openblas_gflops"], rec["ratio_openblas"] = round(row.OpenBLAS, 1), round(row.Ratio, 3)
			}
			if row.Gonum > 0 {
				rec["gonum_gflops"], rec["ratio_gonum"] = round(row.Gonum, 2), round(row.GonumRatio, 1)
			}
			emit(stdout, rec)
		}
	}
	if all || *doStep {
		var ms []string
		for _, m := range strings.Split(*methods, ",") {
			m = strings.TrimSpace(m)
			if m == "" {
				continue
			}
			if m != "frozen" {
				if _, err := peft.Lookup(m); err != nil {
					return usagef("--methods: %v", err)
				}
			}
			ms = append(ms, m)
		}
		// Rounds alternate the methods (and, with --peers, PyTorch's steps of
		// the same methods), so that a slow spell of the machine does not
		// fall on one of them only; each reports the median of its rounds.
		var peerMethods []string
		if *peers {
			for _, m := range []string{"frozen", "hut", "lora", "full"} {
				if slices.Contains(ms, m) {
					peerMethods = append(peerMethods, m)
				}
			}
		}
		if *paired > 0 && len(ms) < 2 && flagSet(fs, "paired") {
			fmt.Fprintln(stderr, "hut bench: --paired needs two or more --methods; skipped")
		}
		runs := map[string][]benchRecord{}
		peerRuns := map[string][]benchRecord{}
		var pairRuns []pairRun
		var peerPairRuns []benchRecord
		for round := 0; round < *rounds; round++ {
			for _, m := range ms {
				rec, err := stepInChild(m, *B, *T, *r, *steps, *targets, stderr)
				if err != nil {
					return err
				}
				runs[m] = append(runs[m], rec)
			}
			for _, m := range peerMethods {
				fmt.Fprintf(stderr, "bench: PyTorch GPT-2 124M %s step, B=%d T=%d…\n", m, *B, *T)
				p, err := pytorchPeer(m, *B, *T, *r, *steps, runtime.GOMAXPROCS(0))
				if err != nil {
					fmt.Fprintf(stderr, "hut bench: PyTorch peer unavailable: %v\n", err)
					peerMethods = nil
					break
				}
				peerRuns[m] = append(peerRuns[m], p)
			}
			if *paired > 0 && len(ms) > 1 {
				prs, err := pairedInChild(ms, *B, *T, *r, *paired, *targets, stderr)
				if err != nil {
					return err
				}
				pairRuns = append(pairRuns, prs...)
			}
			if *paired > 0 && slices.Contains(peerMethods, "hut") {
				rec, err := peerPairedInChild("hut", *B, *T, *r, *paired, *targets, stderr)
				if err != nil {
					return err
				}
				peerPairRuns = append(peerPairRuns, rec)
			}
		}
		pairedRecs, pairedRatio, pairedByProc, pairedExtraMS := combinePairs(pairRuns)
		res := map[string]benchRecord{}
		for _, m := range ms {
			rec := combineRounds(runs[m])
			if havePeak {
				if g, ok := rec["gflops"].(float64); ok {
					rec["peak_fraction"] = round(g/pk.GFLOPS, 3)
				}
			}
			res[m] = rec
			emit(stdout, rec)
		}
		for _, m := range peerMethods {
			p := combinePeerRounds(peerRuns[m])
			p["bench"] = "peer"
			if ours, ok := res[m]["step_s"].(float64); ok {
				if theirs, ok := p["step_s_median"].(float64); ok && ours > 0 {
					p["speedup_of_hut_engine"] = round(theirs/ours, 2)
				}
			}
			if r, ok := roundRatio(peerRuns[m], runs[m], "step_s_median", "step_s"); ok {
				p["speedup_by_round"] = round(r, 2)
			}
			emit(stdout, p)
		}
		var llmcErr error
		if *llmc != "" {
			if p, err := llmcPeer(*llmc, *steps, runtime.GOMAXPROCS(0), stderr); err != nil {
				// Keep the records measured so far; exit non-zero at the end.
				fmt.Fprintf(stderr, "hut bench: llm.c peer failed: %v\n", err)
				llmcErr = err
			} else {
				p["bench"] = "peer_llmc"
				p["march"] = cmp.Or(os.Getenv("LLMC_MARCH"), "native") // tools/llmc/run.sh's gcc -march
				if theirs, ok := p["step_s"].(float64); ok {
					for _, m := range []string{"hut", "full"} {
						if ours, ok := res[m]["step_s"].(float64); ok && ours > 0 {
							p[m+"_faster_by"] = round(theirs/ours, 2)
						}
					}
				}
				emit(stdout, p)
			}
		}
		for _, rec := range pairedRecs {
			emit(stdout, rec)
		}
		if len(peerPairRuns) > 0 {
			emit(stdout, poolPeerPaired(peerPairRuns))
		}
		if h, ok := res["hut"]["step_s"].(float64); ok {
			sum := benchRecord{"bench": "summary"}
			for _, o := range []string{"frozen", "lora", "hira", "full"} {
				if v, ok := res[o]["step_s"].(float64); ok && v > 0 {
					sum["hut_over_"+o] = round(h/v, 3)
				}
				if r, ok := roundRatio(runs["hut"], runs[o], "step_s", "step_s"); ok {
					sum["hut_over_"+o+"_by_round"] = round(r, 3)
				}
				if r, ok := pairedRatio[o]; ok {
					sum["hut_over_"+o+"_paired"] = round(r, 3)
				}
				if rs := pairedByProc[o]; len(rs) > 1 {
					sum["hut_over_"+o+"_paired_rounds"] = rs
				}
				if ms, ok := pairedExtraMS[o]; ok {
					sum["hut_minus_"+o+"_paired_ms"] = ms
				}
			}
			emit(stdout, sum)
			if len(pairedRatio) > 0 {
				fmt.Fprintln(stderr, "hut bench: hut_over_*_paired (steps alternated in one process, pooled over rounds) is the steadiest ratio; hut_over_* compares separate processes, whose speed can differ by several per cent on a shared machine (more rounds: --rounds)")
			}
		}
		if llmcErr != nil {
			return llmcErr
		}
	}
	fmt.Fprintln(stderr, "hut bench: done; hut bench --report FILE prints a run's JSON lines (stdout, saved with hut bench > FILE) as tables, with the targets checked")
	return nil
}

// combineRounds merges one method's step records from several rounds:
// the median round's step time (and the rates that follow from it), the
// fastest step, the largest peak memory, every round's step time, and
// each phase's median over the rounds.
func combineRounds(recs []benchRecord) benchRecord {
	if len(recs) == 1 {
		return recs[0]
	}
	out := maps.Clone(recs[0])
	times := make([]float64, len(recs))
	for i, r := range recs {
		times[i] = r.num("step_s")
		out["step_s_min"] = min(out.num("step_s_min"), r.num("step_s_min"))
		out["peak_rss_mb"] = max(out.num("peak_rss_mb"), r.num("peak_rss_mb"))
	}
	out["step_s_rounds"] = slices.Clone(times)
	sort.Float64s(times)
	med := times[len(times)/2]
	out["step_s"], out["rounds"] = med, len(recs)
	out.setRates(med)
	for _, name := range stepPhases {
		if _, ok := out[name+"_s"]; ok {
			ph := make([]float64, len(recs))
			for i, r := range recs {
				ph[i] = r.num(name + "_s")
			}
			out[name+"_s"] = median(ph)
		}
	}
	return out
}

// roundRatio is the median over rounds of a's step time (field ka) over
// b's (field kb) in the same round: the two ran one after the other, so a
// change of the shared machine's speed between rounds cancels. It needs at
// least two rounds.
func roundRatio(a, b []benchRecord, ka, kb string) (float64, bool) {
	if len(a) < 2 || len(a) != len(b) {
		return 0, false
	}
	q := make([]float64, len(a))
	for i := range a {
		x, _ := a[i][ka].(float64)
		y, _ := b[i][kb].(float64)
		if y <= 0 {
			return 0, false
		}
		q[i] = x / y
	}
	sort.Float64s(q)
	return q[len(q)/2], true
}

// combinePeerRounds merges the PyTorch peer's records of one method: the
// median round's step time and every round's.
func combinePeerRounds(recs []benchRecord) benchRecord {
	if len(recs) == 1 {
		return recs[0]
	}
	out := maps.Clone(recs[0])
	times := make([]float64, len(recs))
	for i, r := range recs {
		times[i], _ = r["step_s_median"].(float64)
	}
	out["step_s_rounds"] = slices.Clone(times)
	sort.Float64s(times)
	med := times[len(times)/2]
	out["step_s_median"], out["rounds"] = med, len(recs)
	if b, ok := out["B"].(float64); ok && med > 0 {
		if t, ok := out["T"].(float64); ok {
			out["tokens_per_s"] = round(b*t/med, 1)
		}
	}
	return out
}

// stepInChild runs one method's step benchmark in a fresh process so that
// its peak memory is its own.
func stepInChild(method string, B, T, r, steps int, targets string, stderr io.Writer) (benchRecord, error) {
	fmt.Fprintf(stderr, "bench: GPT-2 124M %s step, B=%d T=%d…\n", method, B, T)
	out, err := benchChild(stderr, method, "--child-step", method, "--B", strconv.Itoa(B), "--T", strconv.Itoa(T),
		"--r", strconv.Itoa(r), "--steps", strconv.Itoa(steps), "--targets", targets)
	if err != nil {
		return nil, err
	}
	var rec benchRecord
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		return nil, fmt.Errorf("bench %s: %w (%q)", method, err, out)
	}
	return rec, nil
}

// benchChild runs this program's bench command with args (and this
// process's thread count) in a fresh process and returns its standard
// output, trimmed; what names the run in errors.
func benchChild(stderr io.Writer, what string, args ...string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	args = append([]string{"bench", "--threads", strconv.Itoa(runtime.GOMAXPROCS(0))}, args...)
	cmd := exec.Command(exe, args...)
	// A binary built with -tags openblas links OpenBLAS, whose idle worker
	// threads would compete with the engine's; the step runs need none.
	cmd.Env = append(os.Environ(), "HUT_TEST_MAIN=1", "OPENBLAS_NUM_THREADS=1")
	if v, ok := os.LookupEnv("OPENBLAS_NUM_THREADS"); ok { // for a PyTorch peer the child starts
		cmd.Env = append(cmd.Env, peerEnvVar+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench %s: %w", what, err)
	}
	return strings.TrimSpace(out.String()), nil
}

// openblasCoreWarning says when OpenBLAS runs kernels older than AVX2
// (core, from openblas_get_corename; "" without OpenBLAS) while ours use
// AVX2 or AVX-512 (impl): OpenBLAS does that on CPUs it does not recognise,
// and it would make both the sgemm peer and PyTorch, which multiplies
// with the same library, unfairly slow.
func openblasCoreWarning(core, impl string) string {
	switch core {
	case "", "Haswell", "Zen", "SkylakeX", "CooperLake", "SapphireRapids", "Excavator":
		return ""
	}
	if strings.HasPrefix(impl, "go") {
		return ""
	}
	return fmt.Sprintf("OpenBLAS picked its %s kernels (no AVX2) while ours run %s — an unfair peer for the sgemm rows and for PyTorch, "+
		"which multiplies with the same library; set OPENBLAS_CORETYPE=SkylakeX (CPUs with AVX-512) or Haswell (AVX2)", core, impl)
}

// stepper is one method's GPT-2 124M training step, ready to time.
type stepper struct {
	method string
	m      *gpt2.Model
	// step runs step s and returns its time in seconds in each of
	// stepPhases: the forward pass (with the zeroing of the gradients and
	// the fused LM head's loss and gradient), the backward pass, and the
	// optimizer (gradient norm, clipping, AdamW).
	step func(s int) [len(stepPhases)]float64
	// times and phaseTimes are the timed steps' (timedStep) times in
	// seconds, whole and phase by phase.
	times      []float64
	phaseTimes [len(stepPhases)][]float64
}

// stepPhases names the parts of a step that stepper.step times.
var stepPhases = [3]string{"forward", "backward", "optimizer"}

// newStepper builds GPT-2 124M (random weights, dropout off as in the
// PyTorch peer) with method attached and a fixed random batch, and runs one
// warm-up step, which allocates the activations and packing buffers.
func newStepper(method string, B, T, r int, targets string) (*stepper, error) {
	cfg := gpt2.Small()
	cfg.ResidPdrop, cfg.EmbdPdrop, cfg.AttnPdrop = 0, 0, 0
	m := gpt2.New(cpu.New(), cfg)
	m.Init(1)
	if method != "frozen" {
		pc := &peft.Config{Method: method, R: r}
		if targets != "" {
			pc.Targets = strings.Split(targets, ",")
		}
		if err := m.Attach(pc); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	N := B * T
	batch := &gpt2.Batch{B: B, T: T, Tokens: make([]int32, N), Targets: make([]int32, N), Weights: make([]float32, N)}
	for i := range batch.Tokens {
		batch.Tokens[i] = int32(rng.IntN(cfg.VocabSize))
		batch.Targets[i] = int32(rng.IntN(cfg.VocabSize))
		batch.Weights[i] = 1 / float32(N)
	}
	be := m.Be
	stats := m.NewStats()
	params := m.Trainable()
	st := &stepper{method: method, m: m}
	st.step = func(s int) [len(stepPhases)]float64 {
		t0 := time.Now()
		be.Zero(stats, 0, gpt2.NumStats)
		for _, p := range params {
			be.Zero(p.G, 0, p.Size())
		}
		m.Forward(batch, stats, true, true, gpt2.Seeds(s), 0)
		t1 := time.Now()
		m.Backward(batch, gpt2.Seeds(s))
		t2 := time.Now()
		for _, p := range params {
			be.SumSquares(stats, gpt2.StatNormSq, p.G, p.Size())
		}
		host := make([]float32, 2)
		be.Read(stats, 0, host)
		be.ClipScale(stats, gpt2.StatClip, gpt2.StatNormSq, 1)
		for _, p := range params {
			be.AdamWStep(p.W, p.G, p.M, p.V, p.Size(), tensor.AdamW{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: s + 1}, stats, gpt2.StatClip)
		}
		// The CPU backend is synchronous: each phase has finished when its
		// calls return.
		return [len(stepPhases)]float64{t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), time.Since(t2).Seconds()}
	}
	st.step(0)
	return st, nil
}

// timedStep runs step s and adds its times to st.times and st.phaseTimes.
func (st *stepper) timedStep(s int) {
	t0 := time.Now()
	phases := st.step(s)
	st.times = append(st.times, time.Since(t0).Seconds())
	for ph, v := range phases {
		st.phaseTimes[ph] = append(st.phaseTimes[ph], v)
	}
}

// record is the JSON record of a stepper whose median step took med
// seconds.
func (st *stepper) record(bench string, B, T, r int, med float64) benchRecord {
	N := B * T
	tr, _ := st.m.CountParams()
	fpt := flopsPerToken(st.m, st.method, T, r)
	return benchRecord{"bench": bench, "model": "gpt2-124M", "method": st.method, "B": B, "T": T, "r": r,
		"step_s": round(med, 4), "tokens_per_s": round(float64(N)/med, 1),
		"flops_per_token": round(fpt/1e6, 1), "flops_unit": "MFLOP", "gflops": round(fpt*float64(N)/med/1e9, 1),
		"trainable": tr, "targets": targetList(st.m)}
}

// stepChild times training steps of one method and prints one JSON record.
func stepChild(method string, B, T, r, steps int, targets string, stdout io.Writer) error {
	st, err := newStepper(method, B, T, r, targets)
	if err != nil {
		return err
	}
	for i := range steps {
		st.timedStep(i + 1)
	}
	times := slices.Clone(st.times)
	sort.Float64s(times)
	rec := st.record("step", B, T, r, times[len(times)/2])
	for ph, name := range stepPhases {
		rec[name+"_s"] = round(median(slices.Clone(st.phaseTimes[ph])), 5)
	}
	rec["step_s_min"] = round(times[0], 4)
	rec["peak_rss_mb"] = peakRSSMB()
	emit(stdout, rec)
	return nil
}

// pairedChild builds every method's model in this one process and times
// one step of each in turn, turns times, starting each turn with the next
// method so that none always follows the same one. It prints a
// "step_paired" record per method (the median of its steps and of each of
// its phases, no peak memory: the models share the process) and a
// "paired_ratios" record: for each method, the median over turns of the
// first method's step time over its step time in the same turn.
func pairedChild(methods []string, B, T, r, turns int, targets string, stdout io.Writer) error {
	var sts []*stepper
	for _, m := range methods {
		st, err := newStepper(m, B, T, r, targets)
		if err != nil {
			return err
		}
		sts = append(sts, st)
	}
	for turn := 0; turn < turns; turn++ {
		for k := range sts {
			sts[(turn+k)%len(sts)].timedStep(turn + 1)
		}
	}
	ratios := benchRecord{"bench": "paired_ratios", "of": methods[0], "turns": turns}
	for i, st := range sts {
		if i > 0 {
			ratios[st.method] = turnRatio(sts[0].times, st.times)
		}
		rec := st.record("step_paired", B, T, r, median(slices.Clone(st.times)))
		rec["turns"] = turns
		// Turn by turn, for the parent to pool processes.
		rec["step_s_turns"] = roundAll(st.times, 5)
		for ph, name := range stepPhases {
			rec[name+"_s"] = round(median(slices.Clone(st.phaseTimes[ph])), 5)
			rec[name+"_s_turns"] = roundAll(st.phaseTimes[ph], 6)
		}
		emit(stdout, rec)
	}
	emit(stdout, ratios)
	return nil
}

// roundAll rounds every element of x to the given number of decimals.
func roundAll(x []float64, decimals int) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = round(v, decimals)
	}
	return out
}

// turnRatio is the median over turns of a[t]/b[t].
func turnRatio(a, b []float64) float64 {
	q := make([]float64, len(a))
	for t := range q {
		q[t] = a[t] / b[t]
	}
	return median(q)
}

// median sorts x and returns its middle element.
func median(x []float64) float64 {
	sort.Float64s(x)
	return x[len(x)/2]
}

// pairRun is one pair's child process: the step_paired records of the
// first method and of the other, with their step times turn by turn.
type pairRun struct {
	first, other benchRecord
}

// pairedInChild pairs HUT (or, without it, the first method) with each
// other method in turn: one fresh process per pair holds the two models
// only and alternates their steps (pairedChild), so that each step follows
// a step of either method equally often and no third model's work (full
// fine-tuning's 2 GB of state, say) comes between them. It returns one
// pairRun per other method, each record naming the method it was paired
// with.
func pairedInChild(methods []string, B, T, r, turns int, targets string, stderr io.Writer) ([]pairRun, error) {
	first := methods[0]
	if slices.Contains(methods, "hut") {
		first = "hut"
	}
	var runs []pairRun
	for _, o := range methods {
		if o == first {
			continue
		}
		fmt.Fprintf(stderr, "bench: GPT-2 124M %s and %s in one process, %d turns…\n", first, o, turns)
		out, err := benchChild(stderr, "--paired", "--child-paired", first+","+o, "--paired", strconv.Itoa(turns),
			"--B", strconv.Itoa(B), "--T", strconv.Itoa(T), "--r", strconv.Itoa(r), "--targets", targets)
		if err != nil {
			return nil, err
		}
		recs, err := readBenchRecords(strings.NewReader(out), "bench --paired: the child process of "+first+" and "+o)
		if err != nil {
			return nil, err
		}
		var pr pairRun
		for _, rec := range recs {
			if rec["bench"] != "step_paired" {
				continue
			}
			switch rec["method"] {
			case first:
				rec["paired_with"], pr.first = o, rec
			case o:
				rec["paired_with"], pr.other = first, rec
			}
		}
		if pr.first == nil || pr.other == nil || len(stepTurns(pr.first)) != len(stepTurns(pr.other)) {
			return nil, fmt.Errorf("bench --paired: %s and %s: incomplete records from the child process", first, o)
		}
		runs = append(runs, pr)
	}
	return runs, nil
}

// stepTurns is a step_paired record's step times, turn by turn.
func stepTurns(rec benchRecord) []float64 { return rec.turns("step_s_turns") }

// turns is the record's list of numbers k (read back from JSON or not).
func (r benchRecord) turns(k string) []float64 {
	var ts []float64
	switch v := r[k].(type) {
	case []float64:
		ts = v
	case []any:
		for _, x := range v {
			f, _ := x.(float64)
			ts = append(ts, f)
		}
	}
	return ts
}

// combinePairs pools the pairs' processes (one per round): for each pair,
// a step_paired record per method whose step_s is the median of all its
// turns (step_s_rounds: each process's median); for each other method o,
// the median over all turns of the first method's step over o's in the
// same turn, that median process by process, and, phase by phase
// (stepPhases), the median over all turns of the first method's time minus
// o's in the same turn, in milliseconds: where the difference of the steps
// lies.
func combinePairs(runs []pairRun) (recs []benchRecord, ratio map[string]float64, byProc map[string][]float64, extraMS map[string]benchRecord) {
	ratio, byProc, extraMS = map[string]float64{}, map[string][]float64{}, map[string]benchRecord{}
	var order []string
	group := map[string][]pairRun{}
	for _, pr := range runs {
		o, _ := pr.other["method"].(string)
		if _, ok := group[o]; !ok {
			order = append(order, o)
		}
		group[o] = append(group[o], pr)
	}
	for _, o := range order {
		var pooled []float64
		var diffs [len(stepPhases)][]float64
		var firsts, others []benchRecord
		for _, pr := range group[o] {
			a, b := stepTurns(pr.first), stepTurns(pr.other)
			for t := range a {
				pooled = append(pooled, a[t]/b[t])
			}
			byProc[o] = append(byProc[o], round(turnRatio(a, b), 3))
			for ph, name := range stepPhases {
				pa, pb := pr.first.turns(name+"_s_turns"), pr.other.turns(name+"_s_turns")
				for t := range min(len(pa), len(pb)) {
					diffs[ph] = append(diffs[ph], pa[t]-pb[t])
				}
			}
			firsts, others = append(firsts, pr.first), append(others, pr.other)
		}
		ratio[o] = median(pooled)
		if len(diffs[0]) > 0 {
			ms := benchRecord{}
			for ph, name := range stepPhases {
				ms[name] = round(1e3*median(diffs[ph]), 2)
			}
			extraMS[o] = ms
		}
		recs = append(recs, poolPaired(firsts), poolPaired(others))
	}
	return recs, ratio, byProc, extraMS
}

// poolPaired merges one method's step_paired records from several
// processes into one: the median of all their turns (of the step and of
// each phase), and the rates that follow from it.
func poolPaired(recs []benchRecord) benchRecord {
	pooled := func(k string) []float64 {
		var all []float64
		for _, r := range recs {
			all = append(all, r.turns(k)...)
		}
		return all
	}
	out := maps.Clone(recs[0])
	delete(out, "step_s_turns")
	for _, name := range stepPhases {
		delete(out, name+"_s_turns")
		if all := pooled(name + "_s_turns"); len(all) > 0 {
			out[name+"_s"] = round(median(all), 5)
		}
	}
	all := pooled("step_s_turns")
	if len(all) == 0 {
		return out
	}
	var meds []float64
	for _, r := range recs {
		meds = append(meds, r.num("step_s"))
	}
	med := median(all)
	out["step_s"], out["turns"] = round(med, 4), len(all)
	if len(recs) > 1 {
		out["step_s_rounds"] = meds
	}
	out.setRates(med)
	return out
}

// flopsPerToken counts the useful model FLOPs of one training token as
// docs/benchmarks.md defines them: 2 per matmul weight for the forward
// pass, 2 for the input gradient, 2 more for the weight gradient of every
// trained matrix (full fine-tuning; the matrices HiRA adapts), plus
// attention (QKᵀ and P·V over T keys: 4·T·C per layer forward, twice that
// backward) and LoRA's low-rank branches (forward 2r(in+out), backward
// about twice that). HUT adds only element-wise work.
func flopsPerToken(m *gpt2.Model, method string, T, r int) float64 {
	cfg := m.Cfg
	C, L, V := float64(cfg.NEmbd), float64(cfg.NLayer), float64(cfg.VocabSize)
	nmm := V * C
	for _, l := range m.Linears() {
		nmm += float64(l.In * l.Out)
	}
	f := 4*nmm + 12*float64(T)*C*L
	switch method {
	case "full":
		f += 2 * nmm
	case "hira", "lora":
		for _, l := range m.Linears() {
			if l.Ad == nil {
				continue
			}
			if method == "hira" {
				f += 2 * float64(l.In*l.Out)
			} else {
				f += 6 * float64(r) * float64(l.In+l.Out)
			}
		}
	}
	return f
}

// targetList names the distinct module suffixes that carry an adapter.
func targetList(m *gpt2.Model) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range m.Linears() {
		if l.Ad == nil {
			continue
		}
		parts := strings.Split(l.Name, ".")
		n := strings.Join(parts[len(parts)-2:], ".")
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// peakRSSMB reads the process's peak resident memory (VmHWM) on Linux.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 {
				kb, _ := strconv.ParseFloat(fields[1], 64)
				return round(kb/1024, 1)
			}
		}
	}
	return 0
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// The peers' scripts, relative to the repository root (hut bench --peers
// and --llmc run from there).
var (
	pytorchScript = filepath.Join("tools", "peer_pytorch_bench.py")
	llmcScript    = filepath.Join("tools", "llmc", "run.sh")
)

// pytorchCommand is tools/peer_pytorch_bench.py's command for one method's
// step with the given shape and threads, plus extra arguments; the rounds'
// runs and the step served in turn with ours (--serve) share it.
func pytorchCommand(method string, B, T, r, threads int, extra ...string) *exec.Cmd {
	args := []string{pytorchScript, "--method", method, "--B", strconv.Itoa(B), "--T", strconv.Itoa(T),
		"--r", strconv.Itoa(r), "--threads", strconv.Itoa(threads)}
	return exec.Command(pytorch.Python(), append(args, extra...)...)
}

// pytorchPeer runs tools/peer_pytorch_bench.py with Debian's python3-torch.
func pytorchPeer(method string, B, T, r, steps, threads int) (benchRecord, error) {
	script := pytorchScript
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%s not found (run from the repository root)", script)
	}
	out, err := pytorchCommand(method, B, T, r, threads, "--steps", strconv.Itoa(steps)).Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", script, err)
	}
	var rec benchRecord
	if err := json.Unmarshal(bytes.TrimSpace(out), &rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// llmcPeer builds and runs llm.c's CPU training step through
// tools/llmc/run.sh (gcc, OpenMP with the given thread count); runBench
// has checked that dir holds a train_gpt2.c.
func llmcPeer(dir string, steps, threads int, stderr io.Writer) (benchRecord, error) {
	script := llmcScript
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("--llmc: %s not found (run from the repository root)", script)
	}
	fmt.Fprintf(stderr, "bench: llm.c GPT-2 124M full fine-tuning step (%s)…\n", dir)
	cmd := exec.Command("sh", script, dir, strconv.Itoa(steps))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("--llmc: %s: %v", script, err)
	}
	// llm.c prints the model's configuration first; the record is the last line.
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var rec benchRecord
	if err := json.Unmarshal(lines[len(lines)-1], &rec); err != nil {
		return nil, fmt.Errorf("--llmc: %s printed %q: %v", script, out, err)
	}
	return rec, nil
}

func round(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
