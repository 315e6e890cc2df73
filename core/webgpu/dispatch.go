//go:build js && wasm

package webgpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"syscall/js"

	"github.com/hutml/hut/core/webgpu/gpu"
)

// kernel is one entry point of one WGSL file with its compiled variants.
type kernel struct {
	spec    kernelSpec
	decls   []storageDecl // storage bindings, in binding order
	aliases map[[2]int]bool
	pipes   map[variantKey]*pipeline
}

// variantKey selects a pipeline of a kernel: the //#if flags, the aliased
// bindings (4 bits per binding: target index + 1) and the override
// constants.
type variantKey struct {
	defs   uint32
	alias  uint32
	consts [2]uint32
}

// pipeline is a compiled kernel variant.
type pipeline struct {
	pl      gpu.ComputePipeline
	lay     *layout
	present [maxBindings]bool // decl i is bound (false when aliased away)
}

// layout is a bind group layout shared by every pipeline with the same
// binding signature, so that cached bind groups are shared too.
type layout struct {
	id  uint32
	bgl gpu.BindGroupLayout
}

type bgKey struct {
	layout uint32
	ids    [maxBindings]uint32
}

func newKernel(spec kernelSpec) (*kernel, error) {
	src, err := kernelSource(spec.File)
	if err != nil {
		return nil, err
	}
	base, err := preprocess(src, nil)
	if err != nil {
		return nil, fmt.Errorf("webgpu: kernel %s: %v", spec.File, err)
	}
	decls, err := parseDecls(base)
	if err != nil {
		return nil, fmt.Errorf("webgpu: kernel %s: %v", spec.File, err)
	}
	if len(decls) > maxBindings {
		return nil, fmt.Errorf("webgpu: kernel %s: %d storage bindings, at most %d", spec.File, len(decls), maxBindings)
	}
	al, err := parseAliases(base, decls)
	if err != nil {
		return nil, fmt.Errorf("webgpu: kernel %s: %v", spec.File, err)
	}
	return &kernel{spec: spec, decls: decls, aliases: al, pipes: map[variantKey]*pipeline{}}, nil
}

func (be *Backend) pipeline(k *kernel, key variantKey) *pipeline {
	if p, ok := k.pipes[key]; ok {
		return p
	}
	var alias [maxBindings]uint8
	for i := range alias {
		alias[i] = uint8(key.alias >> (4 * i) & 15)
	}
	src, decls, err := variantSource(k.spec, key.defs, alias)
	if err != nil {
		be.fail(err)
		return nil
	}
	p := &pipeline{}
	sig := make([]string, 0, len(decls))
	entries := []gpu.BufferBindingLayout{{Binding: 0, Type: "uniform", DynamicOffset: true}}
	for i := range k.decls {
		p.present[i] = alias[i] == 0
	}
	for _, d := range decls {
		t := "read-only-storage"
		if d.Writable {
			t = "storage"
		}
		entries = append(entries, gpu.BufferBindingLayout{Binding: d.Binding, Type: t})
		sig = append(sig, fmt.Sprintf("%d%s", d.Binding, t[:1]))
	}
	ls := strings.Join(sig, ",")
	lay := be.layouts[ls]
	if lay == nil {
		be.layoutID++
		lay = &layout{id: be.layoutID, bgl: be.dev.CreateBindGroupLayout(entries, "hut "+ls)}
		be.layouts[ls] = lay
	}
	p.lay = lay
	var consts map[string]any
	if len(k.spec.Consts) > 0 {
		consts = map[string]any{}
		for i, name := range k.spec.Consts {
			consts[name] = key.consts[i]
		}
	}
	label := fmt.Sprintf("%s.%s defs=%#x alias=%#x consts=%v", k.spec.File, k.spec.Entry, key.defs, key.alias, key.consts)
	be.dev.PushErrorScope("validation")
	mod := be.dev.CreateShaderModule(src, label)
	p.pl = be.dev.CreateComputePipeline(lay.bgl, mod, k.spec.Entry, consts, label)
	be.dev.PopErrorScope(func(msg string) {
		be.fail(fmt.Errorf("webgpu: compiling kernel %s: %s", label, msg))
	})
	k.pipes[key] = p
	be.stats.Pipelines++
	return p
}

// call collects one dispatch: the kernel, its variant, its buffers (in the
// kernel's binding order) and its uniform block.
type call struct {
	k    int
	key  variantKey
	nb   int
	bufs [maxBindings]*chunk
	nu   int
	u    [24]uint32
}

func (c *call) b(ch *chunk) *call { c.bufs[c.nb] = ch; c.nb++; return c }
func (c *call) ui(v int) *call    { c.u[c.nu] = uint32(v); c.nu++; return c }
func (c *call) uu(v uint32) *call { c.u[c.nu] = v; c.nu++; return c }
func (c *call) f(v float32) *call { c.u[c.nu] = math.Float32bits(v); c.nu++; return c }

// grid returns a 2-D workgroup grid of at least n workgroups within the
// per-dimension limit (kernels flatten it as x + y·nx).
func (be *Backend) grid(n int) (int, int) {
	lim := be.lim.MaxComputeWorkgroupsPerDim
	if n <= lim {
		return n, 1
	}
	y := (n + lim - 1) / lim
	return (n + y - 1) / y, y
}

// run1D dispatches c over n invocations of a 256-wide kernel.
func (be *Backend) run1D(c *call, n int) {
	if n <= 0 {
		return
	}
	x, y := be.grid((n + 255) / 256)
	be.run(c, x, y, 1)
}

// runRows dispatches c with one workgroup per row.
func (be *Backend) runRows(c *call, rows int) {
	if rows <= 0 {
		return
	}
	x, y := be.grid(rows)
	be.run(c, x, y, 1)
}

// run records the dispatch c with the given workgroup counts.
func (be *Backend) run(c *call, gx, gy, gz int) {
	if gx <= 0 || gy <= 0 || gz <= 0 || be.dead() {
		return
	}
	k := be.kernels[c.k]
	if c.nb != len(k.decls) {
		be.failf("internal: kernel %s.%s got %d buffers, declares %d", k.spec.File, k.spec.Entry, c.nb, len(k.decls))
		return
	}
	// Aliasing: WebGPU forbids a writable binding that overlaps another
	// binding of the same dispatch. Allowed pairs use a variant where one
	// name stands for both; others read from a temporary copy.
	key := c.key
	for i := 0; i < c.nb; i++ {
		for j := i + 1; j < c.nb; j++ {
			if c.bufs[i] != c.bufs[j] || c.bufs[i] == nil {
				continue
			}
			wi, wj := k.decls[i].Writable, k.decls[j].Writable
			if !wi && !wj {
				continue
			}
			if wi && wj {
				be.failf("%s: the same buffer is passed for two outputs (%s and %s)", k.spec.File, k.decls[i].Name, k.decls[j].Name)
				return
			}
			r, w := i, j
			if wi {
				r, w = j, i
			}
			if key.alias>>(4*r)&15 != 0 {
				continue
			}
			if k.aliases[[2]int{r, w}] {
				key.alias |= uint32(w+1) << (4 * r)
				continue
			}
			tmp := be.scratchChunk(fmt.Sprintf("alias%d", r), c.bufs[r].elems)
			if tmp == nil {
				return
			}
			be.copyChunk(tmp, 0, c.bufs[r], 0, c.bufs[r].elems)
			c.bufs[r] = tmp
		}
	}
	p := be.pipeline(k, key)
	if p == nil {
		return
	}
	var bk bgKey
	bk.layout = p.lay.id
	for i := 0; i < c.nb; i++ {
		if p.present[i] {
			if c.bufs[i] == nil || c.bufs[i].dead {
				be.failf("%s: binding %s is a freed buffer", k.spec.File, k.decls[i].Name)
				return
			}
			bk.ids[i] = c.bufs[i].id
		}
	}
	bg, ok := be.bgCache[bk]
	if !ok {
		entries := make([]gpu.BufferBinding, 0, c.nb+1)
		entries = append(entries, gpu.BufferBinding{Binding: 0, Buffer: be.ring, Size: be.slotBytes})
		for i := 0; i < c.nb; i++ {
			if p.present[i] {
				entries = append(entries, gpu.BufferBinding{Binding: k.decls[i].Binding, Buffer: c.bufs[i].buf})
			}
		}
		if len(be.bgCache) >= 8192 {
			clear(be.bgCache)
		}
		bg = be.dev.CreateBindGroup(p.lay.bgl, entries)
		be.bgCache[bk] = bg
		be.stats.BindGroups++
	}
	if be.ringUsed == be.ringSlots {
		be.flush()
	}
	slot := be.ringUsed
	be.ringUsed++
	off := slot * be.slotBytes
	for i := 0; i < c.nu; i++ {
		binary.LittleEndian.PutUint32(be.ringStage[off+4*i:], c.u[i])
	}
	pass := be.computePass()
	if be.curPipe != p {
		pass.SetPipeline(p.pl)
		be.curPipe = p
	}
	pass.SetBindGroupDynamic(0, bg, be.offsets, slot, 1)
	pass.DispatchWorkgroups(gx, gy, gz)
	be.ndisp++
	be.stats.Dispatches++
	if be.ndisp >= be.cfg.batch {
		be.flush()
	}
}

func (be *Backend) encoder() gpu.CommandEncoder {
	if !be.enc.Valid() {
		be.enc = be.dev.CreateCommandEncoder()
	}
	return be.enc
}

func (be *Backend) computePass() gpu.ComputePass {
	if !be.pass.Valid() {
		be.pass = be.encoder().BeginComputePass()
		be.curPipe = nil
	}
	return be.pass
}

// endPass closes the open compute pass (before copy commands).
func (be *Backend) endPass() {
	if be.pass.Valid() {
		be.pass.End()
		be.pass = gpu.ComputePass{}
		be.curPipe = nil
	}
}

// pending reports whether work is recorded but not submitted.
func (be *Backend) pending() bool { return be.enc.Valid() }

// flush submits the recorded work (uniforms first, through one writeBuffer)
// and destroys the buffers that were waiting for it.
func (be *Backend) flush() {
	if be.enc.Valid() {
		be.endPass()
		cb := be.enc.Finish()
		be.enc = gpu.CommandEncoder{}
		if be.ringUsed > 0 {
			n := be.ringUsed * be.slotBytes
			js.CopyBytesToJS(be.ringU8, be.ringStage[:n])
			be.q.WriteBuffer(be.ring, 0, be.ringU8, 0, n)
		}
		be.q.Submit(cb)
		be.stats.Submits++
	}
	be.ringUsed = 0
	be.ndisp = 0
	for _, b := range be.doomed {
		b.Destroy()
	}
	be.doomed = be.doomed[:0]
}
