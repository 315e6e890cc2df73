//go:build js && wasm

package webgpu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/webgpu/gpu"
)

// MatMul kernel names for WithMatMulKernel.
const (
	MatMulAuto    = "auto"    // blocked on CPU/fallback adapters, tiled elsewhere
	MatMulBlocked = "blocked" // register-blocked 4×4 per invocation, vec4 loads
	MatMulTiled   = "tiled"   // 64×64 workgroup tiles in workgroup memory
)

// Option configures New.
type Option func(*config)

type config struct {
	maxChunkBytes   int
	matmul          string
	onError         func(error)
	defaultLimits   bool
	powerPreference string
	poolBytes       int
	batch           int
	rowKernels      string
}

// WithMaxChunkBytes caps the size of one GPU buffer (and so of one storage
// binding) below what the device allows. Buffers larger than the cap are
// split into several GPU buffers. Meant for tests of the split path; the
// value is rounded down to a multiple of 256 (minimum 256).
func WithMaxChunkBytes(n int) Option { return func(c *config) { c.maxChunkBytes = n } }

// WithMatMulKernel selects the MatMul kernel: MatMulAuto (default),
// MatMulBlocked or MatMulTiled.
func WithMatMulKernel(name string) Option { return func(c *config) { c.matmul = name } }

// WithErrorHandler installs a callback that receives every error as it is
// recorded (device loss, out of memory, validation, bad arguments). It may
// run on the JavaScript event loop and must not block.
func WithErrorHandler(fn func(error)) Option { return func(c *config) { c.onError = fn } }

// WithDefaultLimits requests a device with the WebGPU default limits
// (128 MiB per storage binding, 256 MiB per buffer) instead of the
// adapter's maxima.
func WithDefaultLimits() Option { return func(c *config) { c.defaultLimits = true } }

// WithPowerPreference passes "high-performance" (default) or "low-power"
// to requestAdapter.
func WithPowerPreference(p string) Option { return func(c *config) { c.powerPreference = p } }

// WithPoolBytes sets how many bytes of freed GPU buffers are kept for reuse
// by later NewBuf calls of the same size (default 256 MiB; 0 disables the
// pool).
func WithPoolBytes(n int) Option { return func(c *config) { c.poolBytes = n } }

// WithBatchSize sets how many dispatches are recorded before a command
// buffer is submitted without waiting for a Read (default 512).
func WithBatchSize(n int) Option { return func(c *config) { c.batch = n } }

// Limits are the device limits the backend works with.
type Limits struct {
	MaxStorageBufferBindingSize     int
	MaxBufferSize                   int
	MaxComputeWorkgroupStorageSize  int
	MaxStorageBuffersPerShaderStage int
	MinUniformBufferOffsetAlignment int
	MaxComputeWorkgroupsPerDim      int
	// ChunkBytes is the largest single GPU buffer the backend allocates:
	// min(MaxStorageBufferBindingSize, MaxBufferSize), or the
	// WithMaxChunkBytes cap.
	ChunkBytes int
}

// Info describes the adapter and device a Backend runs on.
type Info struct {
	Vendor, Architecture, Device, Description string
	IsFallback                                bool // a software/CPU adapter (SwiftShader)
	MatMulKernel                              string
	RowKernels                                string // RowSeq or RowTree (see WithRowKernels)
	Limits                                    Limits
	Features                                  []string
}

// Stats counts the backend's GPU work since New.
type Stats struct {
	Dispatches, Submits, Pipelines, BindGroups, Buffers, PoolHits, Reads, Writes int
}

// Backend is the WebGPU tensor.Backend. Create it with New.
type Backend struct {
	ctx  context.Context // for waits after New (never cancelled)
	cfg  config
	dev  gpu.Device
	q    gpu.Queue
	info Info
	lim  Limits

	rowSeq bool // one-invocation-per-row kernels (rowkernels.go)

	mu     sync.Mutex
	err    error
	lost   bool
	closed bool
	unsub  func()

	kernels  [numKernels]*kernel
	layouts  map[string]*layout
	bgCache  map[bgKey]gpu.BindGroup
	nextID   uint32
	layoutID uint32

	// batch state
	enc       gpu.CommandEncoder
	pass      gpu.ComputePass
	curPipe   *pipeline
	ndisp     int
	ring      gpu.Buffer
	ringStage []byte
	ringU8    js.Value
	ringSlots int
	ringUsed  int
	slotBytes int
	offsets   js.Value
	doomed    []gpu.Buffer

	pool      map[int][]*chunk
	poolBytes int
	scratch   map[string]*chunk
	dummies   [maxBindings]*chunk
	staging   gpu.Buffer
	upload    js.Value
	uploadLen int

	stats Stats
}

var _ tensor.Backend = (*Backend)(nil)

// New requests an adapter and a device and returns a Backend. It returns an
// error that says "WebGPU unavailable: …; using the CPU path" when
// navigator.gpu is missing or no adapter is offered, and other errors when
// the device cannot be created. ctx bounds only this initialisation. New
// blocks until the device is ready: call it from a goroutine, not from
// inside a js.FuncOf callback.
//
// A Backend is not safe for concurrent use: one goroutine at a time.
func New(ctx context.Context, opts ...Option) (*Backend, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := config{matmul: MatMulAuto, powerPreference: "high-performance", poolBytes: 256 << 20, batch: 512, rowKernels: RowAuto}
	for _, o := range opts {
		o(&cfg)
	}
	switch cfg.matmul {
	case MatMulAuto, MatMulBlocked, MatMulTiled:
	default:
		return nil, fmt.Errorf("webgpu: unknown MatMul kernel %q (want %q, %q or %q)", cfg.matmul, MatMulAuto, MatMulBlocked, MatMulTiled)
	}
	switch cfg.rowKernels {
	case RowAuto, RowSeq, RowTree:
	default:
		return nil, fmt.Errorf("webgpu: unknown row kernels %q (want %q, %q or %q)", cfg.rowKernels, RowAuto, RowSeq, RowTree)
	}
	if cfg.batch < 16 {
		cfg.batch = 16
	}
	g, err := gpu.Navigator()
	if err != nil {
		return nil, fmt.Errorf("webgpu: %w; using the CPU path", err)
	}
	adapter, err := g.RequestAdapter(ctx, map[string]any{"powerPreference": cfg.powerPreference})
	if err != nil {
		return nil, fmt.Errorf("webgpu: %w; using the CPU path", err)
	}
	ai := adapter.Info()
	required := map[string]any{}
	if !cfg.defaultLimits {
		for _, name := range []string{"maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize", "maxStorageBuffersPerShaderStage"} {
			if v := adapter.Limit(name); v > 0 {
				required[name] = v
			}
		}
	}
	dev, err := adapter.RequestDevice(ctx, map[string]any{"requiredLimits": required, "label": "hut"})
	if err != nil {
		return nil, fmt.Errorf("webgpu: %v", err)
	}
	be := &Backend{
		ctx: context.Background(), cfg: cfg, dev: dev, q: dev.Queue,
		layouts: map[string]*layout{},
		bgCache: map[bgKey]gpu.BindGroup{},
		pool:    map[int][]*chunk{},
		scratch: map[string]*chunk{},
	}
	lim := Limits{
		MaxStorageBufferBindingSize:     int(dev.Limit("maxStorageBufferBindingSize")),
		MaxBufferSize:                   int(dev.Limit("maxBufferSize")),
		MaxComputeWorkgroupStorageSize:  int(dev.Limit("maxComputeWorkgroupStorageSize")),
		MaxStorageBuffersPerShaderStage: int(dev.Limit("maxStorageBuffersPerShaderStage")),
		MinUniformBufferOffsetAlignment: int(dev.Limit("minUniformBufferOffsetAlignment")),
		MaxComputeWorkgroupsPerDim:      int(dev.Limit("maxComputeWorkgroupsPerDimension")),
	}
	if lim.MaxStorageBufferBindingSize <= 0 {
		lim.MaxStorageBufferBindingSize = 128 << 20
	}
	if lim.MaxBufferSize <= 0 {
		lim.MaxBufferSize = 256 << 20
	}
	if lim.MinUniformBufferOffsetAlignment <= 0 {
		lim.MinUniformBufferOffsetAlignment = 256
	}
	if lim.MaxComputeWorkgroupsPerDim <= 0 {
		lim.MaxComputeWorkgroupsPerDim = 65535
	}
	if lim.MaxStorageBuffersPerShaderStage > 0 && lim.MaxStorageBuffersPerShaderStage < maxBindings {
		dev.Destroy()
		return nil, fmt.Errorf("webgpu: device allows only %d storage buffers per shader stage, need %d", lim.MaxStorageBuffersPerShaderStage, maxBindings)
	}
	chunk := min(lim.MaxStorageBufferBindingSize, lim.MaxBufferSize)
	// Keep chunks below 2³¹ bytes so that element indices fit u32 with room.
	chunk = min(chunk, 1<<31-256)
	if cfg.maxChunkBytes > 0 && cfg.maxChunkBytes < chunk {
		chunk = max(cfg.maxChunkBytes, 256)
	}
	lim.ChunkBytes = chunk &^ 255
	be.lim = lim

	kind := cfg.matmul
	if kind == MatMulAuto {
		kind = MatMulTiled
		if ai.IsFallback || ai.Architecture == "swiftshader" {
			kind = MatMulBlocked
		}
	}
	rows := cfg.rowKernels
	if rows == RowAuto {
		rows = RowTree
		if ai.IsFallback || ai.Architecture == "swiftshader" {
			rows = RowSeq
		}
	}
	be.rowSeq = rows == RowSeq
	be.info = Info{Vendor: ai.Vendor, Architecture: ai.Architecture, Device: ai.Device, Description: ai.Description,
		IsFallback: ai.IsFallback, MatMulKernel: kind, RowKernels: rows, Limits: lim}
	if f := dev.V.Get("features"); f.Type() == js.TypeObject {
		it := js.Global().Get("Array").Call("from", f)
		for i := 0; i < it.Length(); i++ {
			be.info.Features = append(be.info.Features, it.Index(i).String())
		}
	}

	dev.OnLost(func(reason, msg string) {
		be.mu.Lock()
		closed := be.closed
		be.lost = true
		be.mu.Unlock()
		if !closed {
			be.fail(fmt.Errorf("webgpu: device lost (reason %q): %s", reason, msg))
		}
	})
	be.unsub = dev.OnUncapturedError(func(kind, msg string) {
		be.fail(fmt.Errorf("webgpu: uncaptured %s: %s", kind, msg))
	})

	be.slotBytes = max(256, lim.MinUniformBufferOffsetAlignment)
	be.ringSlots = cfg.batch
	be.ring = dev.CreateBuffer(be.ringSlots*be.slotBytes, gpu.UsageUniform|gpu.UsageCopyDst, "hut uniforms")
	be.ringStage = make([]byte, be.ringSlots*be.slotBytes)
	be.ringU8 = js.Global().Get("Uint8Array").New(len(be.ringStage))
	offs := js.Global().Get("Uint32Array").New(be.ringSlots)
	for i := 0; i < be.ringSlots; i++ {
		offs.SetIndex(i, i*be.slotBytes)
	}
	be.offsets = offs
	for i := range be.kernels {
		k, err := newKernel(kernelSpecs[i])
		if err != nil {
			be.Close()
			return nil, err
		}
		be.kernels[i] = k
	}
	return be, nil
}

// Name returns "webgpu".
func (be *Backend) Name() string { return "webgpu" }

// Info describes the adapter, the limits in use and the MatMul kernel.
func (be *Backend) Info() Info { return be.info }

// GPUDevice returns the underlying device (for interop, e.g. sharing it
// with a renderer; destroying it makes every later call fail with a
// device-lost error).
func (be *Backend) GPUDevice() gpu.Device { return be.dev }

// Stats returns counters of the GPU work done so far.
func (be *Backend) Stats() Stats { return be.stats }

// Err returns the first error recorded since New (or since ClearErr), or
// nil. Call it after Read to learn whether the results are valid.
func (be *Backend) Err() error {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.err
}

// ClearErr forgets the recorded error (a lost device stays lost).
func (be *Backend) ClearErr() {
	be.mu.Lock()
	be.err = nil
	be.mu.Unlock()
}

// ErrDeviceLost is wrapped by the error of every call after the device was
// lost or the backend closed.
var ErrDeviceLost = errors.New("webgpu: device lost")

func (be *Backend) fail(err error) {
	be.mu.Lock()
	if be.err == nil {
		be.err = err
	}
	h := be.cfg.onError
	be.mu.Unlock()
	if h != nil {
		h(err)
	}
}

func (be *Backend) failf(format string, args ...any) {
	be.fail(fmt.Errorf("webgpu: "+format, args...))
}

// dead reports whether the device is gone; work is then skipped.
func (be *Backend) dead() bool {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.lost || be.closed
}

// Flush submits the recorded work without waiting for it.
func (be *Backend) Flush() {
	if !be.dead() {
		be.flush()
	}
}

// Sync submits the recorded work and waits until the GPU has finished it.
func (be *Backend) Sync() error {
	if be.dead() {
		return be.deadErr()
	}
	be.flush()
	if _, err := gpu.Await(be.ctx, be.q.OnSubmittedWorkDone()); err != nil {
		be.fail(fmt.Errorf("webgpu: Sync: %v", err))
	}
	return be.Err()
}

func (be *Backend) deadErr() error {
	if err := be.Err(); err != nil {
		return err
	}
	return ErrDeviceLost
}

// Close releases every GPU resource and destroys the device. The backend
// must not be used afterwards.
func (be *Backend) Close() {
	be.mu.Lock()
	if be.closed {
		be.mu.Unlock()
		return
	}
	be.closed = true
	be.mu.Unlock()
	if be.unsub != nil {
		be.unsub()
	}
	be.dev.Destroy()
	clear(be.pool)
	clear(be.scratch)
	clear(be.bgCache)
	be.poolBytes = 0
	be.enc, be.pass, be.doomed = gpu.CommandEncoder{}, gpu.ComputePass{}, nil
}
