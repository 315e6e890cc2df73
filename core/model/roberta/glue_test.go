package roberta

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
)

// toyGLUE is a learnable toy task on the tiny vocabulary: the label is
// whether token 5 occurs in the sentence; lengths vary from 3 to 9.
func toyGLUE(r *rand.Rand, n int) []GLUEExample {
	out := make([]GLUEExample, n)
	for i := range out {
		L := 1 + r.IntN(7)
		toks := []int32{0}
		label := int32(0)
		for j := 0; j < L; j++ {
			t := int32(3 + r.IntN(10))
			if t == 5 {
				label = 1
			}
			toks = append(toks, t)
		}
		out[i] = GLUEExample{Tokens: append(toks, 2), Label: label, Score: float32(label)}
	}
	return out
}

func TestGLUEBatcher(t *testing.T) {
	exs := toyGLUE(rand.New(rand.NewPCG(1, 1)), 103)
	mk := func(bucket int) *GLUEBatcher {
		return &GLUEBatcher{Examples: exs, B: 8, Accum: 2, Seed: 7, Pad: 1, Bucket: bucket}
	}
	g := mk(4)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	// Every example once per epoch.
	seen := make([]int, len(exs))
	for _, idx := range g.epoch(3) {
		for _, j := range idx {
			seen[j]++
		}
	}
	for j, c := range seen {
		if c != 1 {
			t.Fatalf("example %d visited %d times in an epoch", j, c)
		}
	}
	// Deterministic per step, weights sum to 1, padding only to the batch's own longest.
	g2 := mk(4)
	for _, s := range []int{0, 5, 6, 13, 40} {
		a, b := g.Step(s), g2.Step(s)
		var sum float64
		for k := range a {
			if strings.Join(fmtInts(a[k].Tokens), ",") != strings.Join(fmtInts(b[k].Tokens), ",") {
				t.Fatalf("step %d micro %d differs between two batchers", s, k)
			}
			for _, w := range a[k].Weights {
				sum += float64(w)
			}
			longest := 0
			for r := 0; r < a[k].B; r++ {
				n := 0
				for tt := 0; tt < a[k].T; tt++ {
					n += int(a[k].Mask[r*a[k].T+tt])
				}
				longest = max(longest, n)
			}
			if longest != a[k].T {
				t.Fatalf("step %d: batch padded to %d, longest row %d", s, a[k].T, longest)
			}
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("step %d: weights sum to %v", s, sum)
		}
	}
	if pb, pu := mk(0).PaddingRatio(), mk(1).PaddingRatio(); pb >= pu {
		t.Errorf("bucketing does not reduce padding: %.3f vs %.3f unsorted", pb, pu)
	}
}

func fmtInts(x []int32) []string {
	out := make([]string, len(x))
	for i, v := range x {
		out[i] = string(rune('a' + v))
	}
	return out
}

func TestEncodeGLUETruncation(t *testing.T) {
	tok, err := tokenizer.Builtin("roberta")
	if err != nil {
		t.Fatal(err)
	}
	task, err := data.LookupTask("mrpc")
	if err != nil {
		t.Fatal(err)
	}
	rows := []data.Example{{Text1: "one two three four five six seven eight", Text2: "alpha beta", Label: 1},
		{Text1: "short", Text2: "also short", Label: 0}}
	exs, cut, err := EncodeGLUE(tok, task, rows, 10)
	if err != nil {
		t.Fatal(err)
	}
	if cut != 1 || len(exs[0].Tokens) != 10 {
		t.Fatalf("cut %d, first example %d tokens", cut, len(exs[0].Tokens))
	}
	// <s> A </s></s> B </s>: the longer text lost tokens, the shorter kept its two.
	if exs[0].Tokens[0] != 0 || exs[0].Tokens[9] != 2 || exs[0].Tokens[5] != 2 || exs[0].Tokens[6] != 2 {
		t.Fatalf("template %v", exs[0].Tokens)
	}
	want := append([]int32{0}, toInt32(tok.Encode("short"))...)
	want = append(want, 2, 2)
	want = append(want, toInt32(tok.Encode("also short"))...)
	want = append(want, 2)
	if strings.Join(fmtInts(exs[1].Tokens), "") != strings.Join(fmtInts(want), "") || exs[1].Label != 0 || exs[0].Label != 1 {
		t.Fatalf("pair %v, want %v", exs[1].Tokens, want)
	}
	if _, _, err := EncodeGLUE(tok, task, []data.Example{{Text1: "x", Text2: "y", Label: -1, Line: 4}}, 10); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("missing label: %v", err)
	}
}

func TestMLMBatcher(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	var seqs [][]int32
	for i := 0; i < 400; i++ {
		s := []int32{0}
		for j := 0; j < 30; j++ {
			s = append(s, int32(5+r.IntN(90)))
		}
		seqs = append(seqs, append(s, 2))
	}
	blocks := PackMLM(seqs, 24)
	if len(blocks[0]) != 24 || blocks[0][0] != 0 {
		t.Fatalf("first block %v", blocks[0])
	}
	mk := func() *MLMBatcher {
		return &MLMBatcher{Examples: blocks, B: 16, T: 24, Accum: 2, Seed: 3, Pad: 1, Mask: 4, VocabSize: 100,
			Special: []int32{0, 1, 2, 3, 4}, Shuffle: true}
	}
	l := mk()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	var real, chosen, masked, random, kept int
	for s := 0; s < 30; s++ {
		bs := l.Step(s)
		var sum float64
		for _, b := range bs {
			for i := range b.Tokens {
				if b.Mask[i] == 1 {
					real++
				}
				if b.Weights[i] == 0 {
					continue
				}
				sum += float64(b.Weights[i])
				chosen++
				tgt := b.Targets[i]
				if tgt <= 4 {
					t.Fatalf("special token %d was chosen", tgt)
				}
				switch b.Tokens[i] {
				case 4:
					masked++
				case tgt:
					kept++
				default:
					random++
				}
			}
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Fatalf("step %d: weights sum to %v", s, sum)
		}
	}
	frac := float64(chosen) / float64(real)
	if frac < 0.12 || frac > 0.16 { // 15% of the non-special tokens (2 of 24 are special)
		t.Errorf("chose %.3f of the tokens", frac)
	}
	fm := float64(masked) / float64(chosen)
	fr := float64(random) / float64(chosen)
	fk := float64(kept) / float64(chosen)
	if math.Abs(fm-0.8) > 0.03 || math.Abs(fr-0.1) > 0.03 || math.Abs(fk-0.1) > 0.03 {
		t.Errorf("replacement split %.3f/%.3f/%.3f, want 0.8/0.1/0.1", fm, fr, fk)
	}
	// Fresh masks per step, the same masks for the same step.
	a, b := mk().Step(11)[1], mk().Step(11)[1]
	c := mk().Step(12)[1]
	if strings.Join(fmtInts(a.Tokens), "") != strings.Join(fmtInts(b.Tokens), "") {
		t.Fatal("the same step gave different masks")
	}
	if strings.Join(fmtInts(a.Tokens), "") == strings.Join(fmtInts(c.Tokens), "") {
		t.Fatal("two steps gave the same batch")
	}
}

// TestGLUEJobLearnsAndResumes trains the toy task with HUT through the
// training loop: the dev accuracy must beat the majority class, and a run
// interrupted and resumed must end with bit-identical parameters.
func TestGLUEJobLearnsAndResumes(t *testing.T) {
	task := &data.Task{Name: "toy", Labels: []string{"0", "1"}, Metrics: []string{data.MetricAccuracy, data.MetricF1}, Positive: 1}
	r := rand.New(rand.NewPCG(9, 9))
	trainEx, dev := toyGLUE(r, 400), toyGLUE(r, 200)
	cfg := tinyConfig()
	cfg.NumLabels, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.IntermediateSize, cfg.InitializerRange = 2, 16, 2, 32, 0.1
	run := func(dir string, steps int, stopAt int, resume bool) (*Model, *train.Result, error) {
		m := New(cpu.New(), cfg, HeadClassifier)
		m.Init(1)
		if err := m.Attach(&peft.Config{Method: "hut", R: 2, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		g := &GLUEBatcher{Examples: trainEx, B: 16, Accum: 1, Seed: 5, Pad: 1}
		job := m.GLUEJob(task, g, dev, 64, "toy")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opt := train.Options{Resume: resume, OnStep: func(s train.StepInfo) {
			if s.Step == stopAt {
				cancel()
			}
		}}
		tc := train.Config{Steps: steps, LR: 3e-2, Warmup: 5, Seed: 3, CheckpointDir: dir, CheckpointEvery: 100, EvalEvery: steps}
		res, err := train.Run(ctx, tc, job, opt)
		return m, res, err
	}
	full, res, err := run(t.TempDir(), 80, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	gold := Gold(task, dev)
	maj, _ := GLUEScores(task, Majority(task, trainEx, len(dev)), gold)
	acc := res.Eval["eval_accuracy"]
	t.Logf("toy task: accuracy %.3f (majority %.3f), eval loss %.3f", acc, maj["accuracy"], res.Eval["eval_loss"])
	if acc < maj["accuracy"]+0.1 {
		t.Errorf("HUT did not learn the toy task: accuracy %.3f, majority %.3f", acc, maj["accuracy"])
	}
	dir := t.TempDir()
	if _, _, err := run(dir, 80, 25, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	resumed, _, err := run(dir, 80, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	a, b := full.TrainableNamed(), resumed.TrainableNamed()
	for name, p := range a {
		if d := maxAbsDiff(p.ReadAll(full.Be), b[name].ReadAll(resumed.Be)); d != 0 {
			t.Fatalf("%s differs after resume by %g", name, d)
		}
	}
}
