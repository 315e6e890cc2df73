//go:build js && wasm

package gpu

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// Buffer usage flags (GPUBufferUsage).
const (
	UsageMapRead  = 0x0001
	UsageMapWrite = 0x0002
	UsageCopySrc  = 0x0004
	UsageCopyDst  = 0x0008
	UsageUniform  = 0x0040
	UsageStorage  = 0x0080
)

// ShaderStageCompute is GPUShaderStage.COMPUTE.
const ShaderStageCompute = 0x4

// MapModeRead is GPUMapMode.READ.
const MapModeRead = 0x1

// ErrUnavailable is wrapped by the errors New returns when the browser
// offers no WebGPU (no navigator.gpu, or requestAdapter returned null).
var ErrUnavailable = errors.New("WebGPU unavailable")

// Await blocks the calling goroutine until the promise p settles and
// returns its value or its rejection as an error. It returns ctx.Err() if
// ctx ends first (the promise then settles unobserved). Never call it
// directly inside a js.FuncOf callback.
func Await(ctx context.Context, p js.Value) (js.Value, error) {
	okc := make(chan js.Value, 1)
	errc := make(chan error, 1)
	then := js.FuncOf(func(_ js.Value, a []js.Value) any {
		v := js.Undefined()
		if len(a) > 0 {
			v = a[0]
		}
		okc <- v
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, a []js.Value) any {
		msg := "promise rejected"
		if len(a) > 0 {
			msg = jsErrorString(a[0])
		}
		errc <- errors.New(msg)
		return nil
	})
	p.Call("then", then, catch)
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case v := <-okc:
		then.Release()
		catch.Release()
		return v, nil
	case err := <-errc:
		then.Release()
		catch.Release()
		return js.Undefined(), err
	case <-done:
		// The callbacks stay registered: the promise may still settle and
		// call them, so they must not be released.
		return js.Undefined(), ctx.Err()
	}
}

// Promise runs fn in a new goroutine and returns a JavaScript Promise that
// resolves with its result (converted by js.ValueOf) or rejects with an
// Error carrying its error message. Use it to export blocking Go work.
func Promise(fn func() (any, error)) js.Value {
	var h js.Func
	h = js.FuncOf(func(_ js.Value, a []js.Value) any {
		resolve, reject := a[0], a[1]
		go func() {
			defer h.Release()
			v, err := fn()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(h)
}

func jsErrorString(v js.Value) string {
	switch v.Type() {
	case js.TypeString:
		return v.String()
	case js.TypeObject:
		if m := v.Get("message"); m.Type() == js.TypeString && m.String() != "" {
			name := v.Get("name")
			if name.Type() == js.TypeString && name.String() != "" && name.String() != "Error" {
				return name.String() + ": " + m.String()
			}
			return m.String()
		}
		return v.Call("toString").String()
	case js.TypeUndefined, js.TypeNull:
		return "unknown error"
	}
	return v.Call("toString").String()
}

// GPU is navigator.gpu.
type GPU struct{ V js.Value }

// Navigator returns navigator.gpu, or an error wrapping ErrUnavailable.
func Navigator() (GPU, error) {
	nav := js.Global().Get("navigator")
	if nav.IsUndefined() || nav.IsNull() {
		return GPU{}, fmt.Errorf("%w: no navigator object (not running in a browser)", ErrUnavailable)
	}
	g := nav.Get("gpu")
	if g.IsUndefined() || g.IsNull() {
		return GPU{}, fmt.Errorf("%w: navigator.gpu is missing (browser without WebGPU, or not a secure context)", ErrUnavailable)
	}
	return GPU{g}, nil
}

// RequestAdapter calls requestAdapter(opts) and waits for it.
func (g GPU) RequestAdapter(ctx context.Context, opts map[string]any) (Adapter, error) {
	var p js.Value
	if opts == nil {
		p = g.V.Call("requestAdapter")
	} else {
		p = g.V.Call("requestAdapter", opts)
	}
	v, err := Await(ctx, p)
	if err != nil {
		return Adapter{}, fmt.Errorf("%w: requestAdapter failed: %v", ErrUnavailable, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return Adapter{}, fmt.Errorf("%w: requestAdapter returned null (WebGPU disabled or blocklisted; headless Chromium needs --enable-unsafe-webgpu)", ErrUnavailable)
	}
	return Adapter{v}, nil
}

// Adapter is a GPUAdapter.
type Adapter struct{ V js.Value }

// AdapterInfo is the subset of GPUAdapterInfo the engine uses.
type AdapterInfo struct {
	Vendor, Architecture, Device, Description string
	IsFallback                                bool
}

func str(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// Info returns adapter.info (with the older adapter.isFallbackAdapter as a
// fallback for the flag).
func (a Adapter) Info() AdapterInfo {
	var in AdapterInfo
	info := a.V.Get("info")
	if info.Type() == js.TypeObject {
		in.Vendor = str(info.Get("vendor"))
		in.Architecture = str(info.Get("architecture"))
		in.Device = str(info.Get("device"))
		in.Description = str(info.Get("description"))
		if f := info.Get("isFallbackAdapter"); f.Type() == js.TypeBoolean {
			in.IsFallback = f.Bool()
		}
	}
	if f := a.V.Get("isFallbackAdapter"); f.Type() == js.TypeBoolean && f.Bool() {
		in.IsFallback = true
	}
	return in
}

// Limit returns adapter.limits[name], or 0 when absent.
func (a Adapter) Limit(name string) float64 { return limit(a.V, name) }

func limit(obj js.Value, name string) float64 {
	l := obj.Get("limits")
	if l.Type() != js.TypeObject {
		return 0
	}
	v := l.Get(name)
	if v.Type() != js.TypeNumber {
		return 0
	}
	return v.Float()
}

// HasFeature reports whether adapter.features contains name.
func (a Adapter) HasFeature(name string) bool {
	f := a.V.Get("features")
	return f.Type() == js.TypeObject && f.Call("has", name).Bool()
}

// RequestDevice calls requestDevice(desc) and waits for it.
func (a Adapter) RequestDevice(ctx context.Context, desc map[string]any) (Device, error) {
	v, err := Await(ctx, a.V.Call("requestDevice", desc))
	if err != nil {
		return Device{}, fmt.Errorf("requestDevice: %v", err)
	}
	d := Device{V: v, Queue: Queue{v.Get("queue")}}
	return d, nil
}

// Device is a GPUDevice.
type Device struct {
	V     js.Value
	Queue Queue
}

// Limit returns device.limits[name], or 0 when absent.
func (d Device) Limit(name string) float64 { return limit(d.V, name) }

// OnLost calls fn once when the device is lost (fn runs on the JavaScript
// event loop: it must not block). reason is "destroyed" after Destroy.
func (d Device) OnLost(fn func(reason, message string)) {
	var f js.Func
	f = js.FuncOf(func(_ js.Value, a []js.Value) any {
		defer f.Release()
		reason, msg := "unknown", ""
		if len(a) > 0 && a[0].Type() == js.TypeObject {
			reason = str(a[0].Get("reason"))
			msg = str(a[0].Get("message"))
		}
		fn(reason, msg)
		return nil
	})
	d.V.Get("lost").Call("then", f)
}

// OnUncapturedError calls fn for every uncaptured error event (validation,
// out-of-memory, internal). fn runs on the event loop and must not block.
// The returned function removes the listener.
func (d Device) OnUncapturedError(fn func(kind, message string)) (remove func()) {
	f := js.FuncOf(func(_ js.Value, a []js.Value) any {
		kind, msg := "error", "unknown error"
		if len(a) > 0 {
			e := a[0].Get("error")
			if e.Type() == js.TypeObject {
				msg = str(e.Get("message"))
				if c := e.Get("constructor"); c.Type() == js.TypeFunction {
					kind = str(c.Get("name"))
				}
			}
		}
		fn(kind, msg)
		return nil
	})
	d.V.Call("addEventListener", "uncapturederror", f)
	return func() {
		d.V.Call("removeEventListener", "uncapturederror", f)
		f.Release()
	}
}

// PushErrorScope pushes an error scope ("validation", "out-of-memory",
// "internal").
func (d Device) PushErrorScope(filter string) { d.V.Call("pushErrorScope", filter) }

// PopErrorScope pops the innermost error scope. fn is called later, on the
// event loop, with the error message when the scope caught an error; it is
// not called otherwise. It never blocks.
func (d Device) PopErrorScope(fn func(message string)) {
	var then, catch js.Func
	release := func() {
		then.Release()
		catch.Release()
	}
	then = js.FuncOf(func(_ js.Value, a []js.Value) any {
		defer release()
		if len(a) > 0 && a[0].Type() == js.TypeObject {
			fn(str(a[0].Get("message")))
		}
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, a []js.Value) any {
		defer release()
		msg := "popErrorScope rejected"
		if len(a) > 0 {
			msg = jsErrorString(a[0])
		}
		fn(msg)
		return nil
	})
	d.V.Call("popErrorScope").Call("then", then, catch)
}

// Destroy destroys the device.
func (d Device) Destroy() { d.V.Call("destroy") }

// CreateBuffer creates a buffer of size bytes.
func (d Device) CreateBuffer(size int, usage int, label string) Buffer {
	desc := map[string]any{"size": size, "usage": usage}
	if label != "" {
		desc["label"] = label
	}
	return Buffer{V: d.V.Call("createBuffer", desc), Size: size}
}

// CreateShaderModule compiles WGSL code.
func (d Device) CreateShaderModule(code, label string) ShaderModule {
	return ShaderModule{d.V.Call("createShaderModule", map[string]any{"code": code, "label": label})}
}

// BufferBindingLayout describes one buffer binding of a bind group layout.
type BufferBindingLayout struct {
	Binding       int
	Type          string // "uniform", "storage" or "read-only-storage"
	DynamicOffset bool
	MinSize       int
}

// CreateBindGroupLayout creates a compute-visible bind group layout of
// buffer bindings.
func (d Device) CreateBindGroupLayout(entries []BufferBindingLayout, label string) BindGroupLayout {
	es := make([]any, len(entries))
	for i, e := range entries {
		buf := map[string]any{"type": e.Type, "hasDynamicOffset": e.DynamicOffset}
		if e.MinSize > 0 {
			buf["minBindingSize"] = e.MinSize
		}
		es[i] = map[string]any{"binding": e.Binding, "visibility": ShaderStageCompute, "buffer": buf}
	}
	return BindGroupLayout{d.V.Call("createBindGroupLayout", map[string]any{"entries": es, "label": label})}
}

// CreateComputePipeline creates a compute pipeline over one bind group
// layout. constants are the pipeline-overridable constants (may be nil).
func (d Device) CreateComputePipeline(bgl BindGroupLayout, mod ShaderModule, entry string, constants map[string]any, label string) ComputePipeline {
	pl := d.V.Call("createPipelineLayout", map[string]any{"bindGroupLayouts": []any{bgl.V}})
	comp := map[string]any{"module": mod.V, "entryPoint": entry}
	if len(constants) > 0 {
		comp["constants"] = constants
	}
	return ComputePipeline{d.V.Call("createComputePipeline", map[string]any{"layout": pl, "compute": comp, "label": label})}
}

// BufferBinding is one entry of a bind group: a buffer range.
type BufferBinding struct {
	Binding int
	Buffer  Buffer
	Offset  int
	Size    int // 0 = the whole buffer from Offset
}

// CreateBindGroup creates a bind group.
func (d Device) CreateBindGroup(layout BindGroupLayout, entries []BufferBinding) BindGroup {
	es := make([]any, len(entries))
	for i, e := range entries {
		res := map[string]any{"buffer": e.Buffer.V}
		if e.Offset != 0 {
			res["offset"] = e.Offset
		}
		if e.Size != 0 {
			res["size"] = e.Size
		}
		es[i] = map[string]any{"binding": e.Binding, "resource": res}
	}
	return BindGroup{d.V.Call("createBindGroup", map[string]any{"layout": layout.V, "entries": es})}
}

// CreateCommandEncoder creates a command encoder.
func (d Device) CreateCommandEncoder() CommandEncoder {
	return CommandEncoder{d.V.Call("createCommandEncoder")}
}

// Queue is a GPUQueue.
type Queue struct{ V js.Value }

// WriteBuffer calls writeBuffer(buf, offset, data, dataOffset, size) with
// data a Uint8Array (byte offsets and sizes).
func (q Queue) WriteBuffer(buf Buffer, offset int, data js.Value, dataOffset, size int) {
	q.V.Call("writeBuffer", buf.V, offset, data, dataOffset, size)
}

// Submit submits one command buffer.
func (q Queue) Submit(cb CommandBuffer) { q.V.Call("submit", []any{cb.V}) }

// OnSubmittedWorkDone returns the promise of onSubmittedWorkDone().
func (q Queue) OnSubmittedWorkDone() js.Value { return q.V.Call("onSubmittedWorkDone") }

// Buffer is a GPUBuffer of Size bytes.
type Buffer struct {
	V    js.Value
	Size int
}

// Destroy destroys the buffer.
func (b Buffer) Destroy() { b.V.Call("destroy") }

// MapRead maps [offset, offset+size) for reading and waits for it.
func (b Buffer) MapRead(ctx context.Context, offset, size int) error {
	_, err := Await(ctx, b.V.Call("mapAsync", MapModeRead, offset, size))
	return err
}

// MappedRange returns getMappedRange(offset, size) (an ArrayBuffer).
func (b Buffer) MappedRange(offset, size int) js.Value {
	return b.V.Call("getMappedRange", offset, size)
}

// Unmap unmaps the buffer.
func (b Buffer) Unmap() { b.V.Call("unmap") }

// ShaderModule is a GPUShaderModule.
type ShaderModule struct{ V js.Value }

// CompilationErrors waits for getCompilationInfo() and returns the error
// messages, each with its line and column.
func (m ShaderModule) CompilationErrors(ctx context.Context) ([]string, error) {
	info, err := Await(ctx, m.V.Call("getCompilationInfo"))
	if err != nil {
		return nil, err
	}
	msgs := info.Get("messages")
	var out []string
	for i := 0; i < msgs.Length(); i++ {
		m := msgs.Index(i)
		if str(m.Get("type")) != "error" {
			continue
		}
		out = append(out, fmt.Sprintf("%d:%d: %s", m.Get("lineNum").Int(), m.Get("linePos").Int(), str(m.Get("message"))))
	}
	return out, nil
}

// BindGroupLayout is a GPUBindGroupLayout.
type BindGroupLayout struct{ V js.Value }

// ComputePipeline is a GPUComputePipeline.
type ComputePipeline struct{ V js.Value }

// BindGroup is a GPUBindGroup.
type BindGroup struct{ V js.Value }

// CommandBuffer is a GPUCommandBuffer.
type CommandBuffer struct{ V js.Value }

// CommandEncoder is a GPUCommandEncoder.
type CommandEncoder struct{ V js.Value }

// Valid reports whether e wraps an encoder.
func (e CommandEncoder) Valid() bool { return e.V.Type() == js.TypeObject }

// BeginComputePass begins a compute pass.
func (e CommandEncoder) BeginComputePass() ComputePass {
	p := e.V.Call("beginComputePass")
	return ComputePass{
		V:           p,
		setPipeline: p.Get("setPipeline").Call("bind", p),
		setBindGrp:  p.Get("setBindGroup").Call("bind", p),
		dispatch:    p.Get("dispatchWorkgroups").Call("bind", p),
	}
}

// CopyBufferToBuffer records a copy of size bytes.
func (e CommandEncoder) CopyBufferToBuffer(src Buffer, srcOff int, dst Buffer, dstOff int, size int) {
	e.V.Call("copyBufferToBuffer", src.V, srcOff, dst.V, dstOff, size)
}

// ClearBuffer records a zero fill of size bytes at offset.
func (e CommandEncoder) ClearBuffer(b Buffer, offset, size int) {
	e.V.Call("clearBuffer", b.V, offset, size)
}

// Finish finishes the encoder.
func (e CommandEncoder) Finish() CommandBuffer { return CommandBuffer{e.V.Call("finish")} }

// ComputePass is a GPUComputePassEncoder with its hot methods pre-bound.
type ComputePass struct {
	V                                 js.Value
	setPipeline, setBindGrp, dispatch js.Value
}

// Valid reports whether p wraps a pass.
func (p ComputePass) Valid() bool { return p.V.Type() == js.TypeObject }

// SetPipeline sets the pipeline.
func (p ComputePass) SetPipeline(pl ComputePipeline) { p.setPipeline.Invoke(pl.V) }

// SetBindGroupDynamic sets bind group 0 with count dynamic offsets taken
// from offsets (a Uint32Array) at element start.
func (p ComputePass) SetBindGroupDynamic(index int, bg BindGroup, offsets js.Value, start, count int) {
	p.setBindGrp.Invoke(index, bg.V, offsets, start, count)
}

// DispatchWorkgroups dispatches x·y·z workgroups.
func (p ComputePass) DispatchWorkgroups(x, y, z int) { p.dispatch.Invoke(x, y, z) }

// End ends the pass.
func (p ComputePass) End() { p.V.Call("end") }
