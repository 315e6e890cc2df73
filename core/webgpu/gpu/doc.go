// Package gpu is a small typed wrapper over the browser's WebGPU API
// (navigator.gpu) for Go compiled to WebAssembly (GOOS=js GOARCH=wasm). It
// covers what a compute engine needs: adapters, devices, buffers, shader
// modules, compute pipelines, bind groups, command encoders and compute
// passes, plus Await and Promise to bridge JavaScript promises and
// goroutines.
//
// The types are thin value wrappers over js.Value. Descriptors are passed as
// Go maps (syscall/js converts them). Hot-path methods (SetPipeline,
// SetBindGroup, DispatchWorkgroups) call pre-bound JavaScript functions so
// that a dispatch costs no property look-ups.
//
// Await blocks the calling goroutine until a promise settles. It must never
// run directly inside a js.FuncOf callback (the JavaScript thread would wait
// for itself); start a goroutine, or export the work with Promise.
//
// On other platforms the package is empty.
package gpu
