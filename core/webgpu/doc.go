// Package webgpu is the browser backend of the engine: a tensor.Backend
// whose buffers live on the GPU and whose operations are WGSL compute
// shaders dispatched through WebGPU, for Go compiled to WebAssembly
// (GOOS=js GOARCH=wasm) and run in a browser page.
//
// Create one with New, which fails with a clear error when the browser has
// no usable WebGPU (the caller then falls back to the CPU backend):
//
//	be, err := webgpu.New(ctx)
//	if err != nil { /* "webgpu: WebGPU unavailable: …; using the CPU path" */ }
//
// Parameters, gradients, optimizer state and activations stay on the GPU;
// only Read copies data back. Operations are recorded into one command
// encoder and submitted lazily (on Read, Write, Flush, or when a batch is
// full). The Backend methods must run on a goroutine that may block (Read
// waits for a JavaScript promise), never directly inside a js.FuncOf
// callback.
//
// The tensor.Backend methods have no error results: failures (a device
// loss, an out-of-memory, a validation error, a call with wrong sizes) are
// recorded, the offending operation is skipped, and Err returns the first
// error; WithErrorHandler gets every error as it happens. Nothing panics on
// user input.
//
// Large tensors: a Buf bigger than the device's storage-binding limit
// (128 MiB when the browser grants only the WebGPU defaults) is split into
// several GPU buffers holding whole rows. Every element-wise op, the
// memory ops, AdamWStep, Sum/SumSquares, Embed/EmbedBackward, GatherRows/
// ScatterAddRows, MatMul (any operand, any orientation), CrossEntropy and
// the attention probability/scratch buffers of Attention and
// AttentionBackward accept such split buffers; the other ops need their
// operands within one binding and report an error otherwise. f16 storage
// (shader-f16) is not used. See docs/webgpu.md.
//
// The package builds only for js/wasm; on other platforms it holds the
// parity test driver, which runs the WebGPU and CPU backends side by side
// in headless Chromium.
package webgpu
