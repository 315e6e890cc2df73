//go:build js && wasm

package main

import (
	"fmt"
	"math/rand/v2"
	"syscall/js"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/wasm/engine"
)

type benchOptions struct {
	Steps    int                 `json:"steps"`
	Sizes    []int               `json:"sizes"`
	Reps     int                 `json:"reps"`
	Config   *engine.BenchConfig `json:"config"`
	Backends []string            `json:"backends"`
	CPUGemm  *bool               `json:"cpuGemm"`
}

// benchCall is hut.bench: tokens/s of a tiny GPT-2 HUT training step on a
// fresh WebGPU device and on the CPU path in this same browser, and the
// GFLOP/s of the WebGPU GEMM kernel (and of the CPU GEMM in wasm). The
// loaded model and its training state are not touched.
func benchCall(a js.Value) (any, error) {
	var o benchOptions
	if err := parseArgs("bench", a, &o); err != nil {
		return nil, err
	}
	cfg := engine.BenchConfig{}
	if o.Config != nil {
		cfg = *o.Config
	}
	if o.Steps != 0 {
		cfg.Steps = o.Steps
	}
	if err := cfg.Fill(); err != nil {
		return nil, err
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{256, 512}
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	for _, n := range o.Sizes {
		if n < 1 || n > 8192 {
			return nil, fmt.Errorf("bench: GEMM size %d: want 1…8192", n)
		}
	}
	if o.Reps < 1 || o.Reps > 1000 {
		return nil, fmt.Errorf("bench: reps = %d: want 1…1000", o.Reps)
	}
	want := map[string]bool{"webgpu": true, "cpu": true}
	if len(o.Backends) > 0 {
		want = map[string]bool{}
		for _, b := range o.Backends {
			if b != "webgpu" && b != "cpu" {
				return nil, fmt.Errorf("bench: backend %q: want \"webgpu\" or \"cpu\"", b)
			}
			want[b] = true
		}
	}
	report := progressPoster()
	out := map[string]any{"config": cfg, "webgpu": nil, "cpu": nil, "gemm": []any{}, "adapter": nil}
	var notes []string
	if want["webgpu"] {
		report("bench webgpu", 0, 1, nil)
		gb, more, err := newWebGPU(initOptions{}, nil) // its errors surface through Err; the engine's device is not involved
		notes = append(notes, more...)
		if err != nil {
			notes = append(notes, fmt.Sprintf("no WebGPU: %v", err))
		} else {
			in := gb.Info()
			out["adapter"] = map[string]any{"vendor": in.Vendor, "architecture": in.Architecture, "device": in.Device,
				"description": in.Description, "isFallback": in.IsFallback, "matmul": in.MatMulKernel}
			r, err := engine.BenchTraining(gb, cfg, func() { _ = gb.Sync() })
			if err != nil {
				gb.Close()
				return nil, fmt.Errorf("bench (webgpu): %w", err)
			}
			out["webgpu"] = r
			report("bench webgpu", 1, 1, nil)
			var gemm []any
			for i, n := range o.Sizes {
				report("bench gemm", int64(i), int64(len(o.Sizes)), nil)
				row := map[string]any{"n": n, "kernel": in.MatMulKernel}
				gf, ms, err := gb.BenchMatMul(n, n, n, false, true, o.Reps)
				if err != nil {
					gb.Close()
					return nil, fmt.Errorf("bench (GEMM %d³): %w", n, err)
				}
				row["gflops"], row["ms"] = gf, ms
				if o.CPUGemm == nil || *o.CPUGemm {
					row["cpuGflops"] = cpuGemm(n, max(1, o.Reps/2))
				}
				gemm = append(gemm, row)
			}
			out["gemm"] = gemm
			gb.Close()
		}
	}
	if want["cpu"] {
		report("bench cpu", 0, 1, nil)
		r, err := engine.BenchTraining(cpu.New(), cfg, nil)
		if err != nil {
			return nil, fmt.Errorf("bench (cpu): %w", err)
		}
		out["cpu"] = r
		report("bench cpu", 1, 1, nil)
	}
	if w, c := out["webgpu"], out["cpu"]; w != nil && c != nil {
		out["speedup"] = w.(engine.BenchResult).TokensPerSec / c.(engine.BenchResult).TokensPerSec
	}
	out["notes"] = notes
	return out, nil
}

// cpuGemm times the CPU backend's n³ GEMM (A·Bᵀ) in wasm, in GFLOP/s.
func cpuGemm(n, reps int) float64 {
	be := cpu.New()
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	A, B, C := be.NewBuf(n*n), be.NewBuf(n*n), be.NewBuf(n*n)
	be.Write(A, 0, x)
	be.Write(B, 0, x)
	be.MatMul(C, A, B, n, n, n, false, true, 1, 0)
	t0 := time.Now()
	for i := 0; i < reps; i++ {
		be.MatMul(C, A, B, n, n, n, false, true, 1, 0)
	}
	s := time.Since(t0).Seconds() / float64(reps)
	return 2 * float64(n) * float64(n) * float64(n) / (s * 1e9)
}
