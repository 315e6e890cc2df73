//go:build js && wasm

// Command cmd is the browser half of the full-step parity test: it runs
// stepparity.Run on WebGPU and on the CPU backend compiled to wasm, and
// compares both with the native result the Go test driver passes in.
//
//	hutStepParity(nativeJSON, backends) → Promise<JSON report>
//
// nativeJSON is a JSON list of stepparity.Result computed natively;
// backends is "webgpu,cpu" (or one of them). The report holds, per method
// and backend, the stepparity.Report against native (and WebGPU against
// the wasm CPU backend), the adapter the page got and the run times.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/webgpu"
	"github.com/hutml/hut/core/webgpu/gpu"
	"github.com/hutml/hut/wasm/internal/stepparity"
)

func run(nativeJSON, backends string) (any, error) {
	var native []*stepparity.Result
	if err := json.Unmarshal([]byte(nativeJSON), &native); err != nil {
		return nil, fmt.Errorf("native results: %v", err)
	}
	out := map[string]any{}
	var reports []stepparity.Report
	var g *webgpu.Backend
	if strings.Contains(backends, "webgpu") {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var err error
		g, err = webgpu.New(ctx)
		cancel()
		if err != nil {
			return nil, err
		}
		defer g.Close()
		in := g.Info()
		out["adapter"] = in.Vendor + "/" + in.Architecture
		out["matmul"] = in.MatMulKernel
		out["rows"] = in.RowKernels
	}
	for _, want := range native {
		var gpuRes *stepparity.Result
		if g != nil {
			var err error
			gpuRes, err = stepparity.Run(g, "webgpu", want.Spec)
			if err != nil {
				return nil, fmt.Errorf("%s on webgpu: %v", want.Spec.Method, err)
			}
			reports = append(reports, stepparity.Compare(want, gpuRes))
			out["ms-webgpu-"+want.Spec.Method] = gpuRes.Ms
			out["losses-webgpu-"+want.Spec.Method] = gpuRes.Losses
		}
		if strings.Contains(backends, "cpu") {
			c, err := stepparity.Run(cpu.New(), "wasm-cpu", want.Spec)
			if err != nil {
				return nil, fmt.Errorf("%s on the wasm CPU backend: %v", want.Spec.Method, err)
			}
			reports = append(reports, stepparity.Compare(want, c))
			if gpuRes != nil {
				reports = append(reports, stepparity.Compare(c, gpuRes))
			}
			out["ms-wasm-cpu-"+want.Spec.Method] = c.Ms
		}
	}
	out["reports"] = reports
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func main() {
	js.Global().Set("hutStepParity", js.FuncOf(func(_ js.Value, a []js.Value) any {
		native, backends := "", "webgpu,cpu"
		if len(a) > 0 {
			native = a[0].String()
		}
		if len(a) > 1 && a[1].Type() == js.TypeString {
			backends = a[1].String()
		}
		return gpu.Promise(func() (v any, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return run(native, backends)
		})
	}))
	js.Global().Set("__hutReady", true)
	select {}
}
