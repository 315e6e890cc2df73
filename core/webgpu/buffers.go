//go:build js && wasm

package webgpu

import (
	"fmt"
	"strconv"
	"syscall/js"
	"unsafe"

	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/webgpu/gpu"
)

// chunk is one GPU buffer of 4-byte elements.
type chunk struct {
	id    uint32
	buf   gpu.Buffer
	bytes int
	elems int
	dead  bool
}

// Buf is a float32 tensor on the GPU: one GPU buffer, or several when it
// is larger than the binding limit (chunks of cs elements, the last one
// shorter; cs is a multiple of the row length once an op needed rows).
type Buf struct {
	n       int
	cs      int
	chunks  []*chunk
	freed   bool
	touched bool // some op or write may have left non-zero data
	label   string
}

// Len returns the number of elements.
func (b *Buf) Len() int { return b.n }

// Chunks returns how many GPU buffers hold b (1 unless b exceeds the
// binding limit).
func (b *Buf) Chunks() int { return len(b.chunks) }

// IBuf is an int32 tensor on the GPU (never split).
type IBuf struct{ Buf }

var (
	_ tensor.Buf  = (*Buf)(nil)
	_ tensor.IBuf = (*IBuf)(nil)
)

// where returns the chunk holding element i of b, i's offset in it, and the
// element index at which that chunk ends.
func (b *Buf) where(i int) (*chunk, int, int) {
	if len(b.chunks) == 1 {
		return b.chunks[0], i, b.n
	}
	ci := min(max(i, 0)/b.cs, len(b.chunks)-1) // callers validate i; clamp anyway
	return b.chunks[ci], i - ci*b.cs, min((ci+1)*b.cs, b.n)
}

// single returns b's one chunk.
func (b *Buf) single() *chunk { return b.chunks[0] }

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// newChunk returns a zero-filled GPU buffer of at least elems elements,
// reusing a pooled one of the same size when possible.
func (be *Backend) newChunk(elems int, label string) *chunk {
	bytes := roundUp(max(elems*4, 16), 16)
	if l := be.pool[bytes]; len(l) > 0 {
		c := l[len(l)-1]
		be.pool[bytes] = l[:len(l)-1]
		be.poolBytes -= bytes
		be.stats.PoolHits++
		be.fillChunk(c, 0, c.elems, 0)
		return c
	}
	be.nextID++
	be.dev.PushErrorScope("out-of-memory")
	buf := be.dev.CreateBuffer(bytes, gpu.UsageStorage|gpu.UsageCopySrc|gpu.UsageCopyDst, label)
	be.dev.PopErrorScope(func(msg string) {
		be.fail(fmt.Errorf("webgpu: out of GPU memory allocating %s (%d bytes): %s", label, bytes, msg))
	})
	be.stats.Buffers++
	return &chunk{id: be.nextID, buf: buf, bytes: bytes, elems: bytes / 4}
}

// releaseChunk returns c to the pool or destroys it once the recorded work
// that may use it is submitted.
func (be *Backend) releaseChunk(c *chunk) {
	if c == nil || c.dead {
		return
	}
	if !be.dead() && be.poolBytes+c.bytes <= be.cfg.poolBytes {
		be.pool[c.bytes] = append(be.pool[c.bytes], c)
		be.poolBytes += c.bytes
		return
	}
	c.dead = true
	if be.pending() {
		be.doomed = append(be.doomed, c.buf)
	} else {
		c.buf.Destroy()
	}
}

// TrimPool destroys the pooled free buffers.
func (be *Backend) TrimPool() {
	for size, l := range be.pool {
		for _, c := range l {
			c.dead = true
			be.doomed = append(be.doomed, c.buf)
		}
		delete(be.pool, size)
	}
	be.poolBytes = 0
	if !be.pending() {
		be.flush()
	}
}

func (be *Backend) chunkElems() int { return be.lim.ChunkBytes / 4 }

func (be *Backend) alloc(n int, label string) *Buf {
	b := &Buf{n: n, label: label}
	if n < 0 {
		be.failf("%s: negative size %d", label, n)
		b.n = 0
		n = 0
	}
	ce := be.chunkElems()
	if n <= ce {
		b.cs = max(n, 1)
		b.chunks = []*chunk{be.newChunk(n, label)}
		return b
	}
	b.cs = ce &^ 3
	for lo := 0; lo < n; lo += b.cs {
		b.chunks = append(b.chunks, be.newChunk(min(b.cs, n-lo), label))
	}
	return b
}

// NewBuf allocates a zero-filled float32 buffer of n elements.
func (be *Backend) NewBuf(n int) tensor.Buf { return be.alloc(n, "buf["+strconv.Itoa(n)+"]") }

// NewBufRows allocates a zero-filled rows×cols buffer whose GPU buffers, if
// it must be split, hold whole rows from the start (saving the one-time
// re-split that ops otherwise do for a split buffer). Not part of
// tensor.Backend.
func (be *Backend) NewBufRows(rows, cols int) tensor.Buf {
	n := rows * cols
	label := "buf[" + strconv.Itoa(rows) + "x" + strconv.Itoa(cols) + "]"
	if rows < 0 || cols <= 0 || n <= be.chunkElems() {
		return be.alloc(n, label)
	}
	rpc := be.chunkElems() / cols
	if rpc == 0 {
		be.failf("NewBufRows(%d, %d): a row of %d floats exceeds the binding limit of %d bytes", rows, cols, cols, be.lim.ChunkBytes)
		return be.alloc(n, label)
	}
	b := &Buf{n: n, cs: rpc * cols, label: label}
	for lo := 0; lo < n; lo += b.cs {
		b.chunks = append(b.chunks, be.newChunk(min(b.cs, n-lo), label))
	}
	return b
}

// NewIBuf allocates a zero-filled int32 buffer of n elements.
func (be *Backend) NewIBuf(n int) tensor.IBuf {
	label := "ibuf[" + strconv.Itoa(n) + "]"
	if n > be.chunkElems() {
		be.failf("NewIBuf(%d): int buffers cannot exceed the binding limit of %d bytes", n, be.lim.ChunkBytes)
		return &IBuf{Buf{n: 0, cs: 1, chunks: []*chunk{be.newChunk(0, label)}, label: label}}
	}
	return &IBuf{*be.alloc(n, label)}
}

// Free releases b. Using it afterwards is an error.
func (be *Backend) Free(b tensor.Buf) {
	if bb := be.buf("Free", "b", b); bb != nil {
		be.freeBuf(bb)
	}
}

// FreeI releases b.
func (be *Backend) FreeI(b tensor.IBuf) {
	if bb := be.ibuf("FreeI", "b", b); bb != nil {
		be.freeBuf(bb)
	}
}

func (be *Backend) freeBuf(b *Buf) {
	for _, c := range b.chunks {
		be.releaseChunk(c)
	}
	b.chunks = nil
	b.freed = true
}

// buf converts a tensor.Buf of this backend, recording an error (and
// returning nil) for nil, foreign or freed buffers.
func (be *Backend) buf(op, name string, b tensor.Buf) *Buf {
	bb, ok := b.(*Buf)
	switch {
	case b == nil || (ok && bb == nil):
		be.failf("%s: %s is nil", op, name)
		return nil
	case !ok:
		be.failf("%s: %s is a %T, not a webgpu buffer", op, name, b)
		return nil
	case bb.freed:
		be.failf("%s: %s (%s) was freed", op, name, bb.label)
		return nil
	}
	return bb
}

func (be *Backend) ibuf(op, name string, b tensor.IBuf) *Buf {
	bb, ok := b.(*IBuf)
	switch {
	case b == nil || (ok && bb == nil):
		be.failf("%s: %s is nil", op, name)
		return nil
	case !ok:
		be.failf("%s: %s is a %T, not a webgpu int buffer", op, name, b)
		return nil
	case bb.freed:
		be.failf("%s: %s (%s) was freed", op, name, bb.label)
		return nil
	}
	return &bb.Buf
}

// optBuf is buf for an optional operand (nil allowed).
func (be *Backend) optBuf(op, name string, b tensor.Buf) (*Buf, bool) {
	if b == nil {
		return nil, true
	}
	if bb, ok := b.(*Buf); ok && bb == nil {
		return nil, true
	}
	bb := be.buf(op, name, b)
	return bb, bb != nil
}

// need checks that b holds at least n elements after off.
func (be *Backend) need(op, name string, b *Buf, off, n int) bool {
	if b == nil {
		return false
	}
	if off < 0 || n < 0 || off+n > b.n {
		be.failf("%s: %s has %d elements, the call needs [%d, %d)", op, name, b.n, off, off+n)
		return false
	}
	return true
}

// one returns the chunk holding b[off, off+n) and the offset of off in it,
// or records that the op needs its operand within one binding.
func (be *Backend) one(op, name string, b *Buf, off, n int) (*chunk, int, bool) {
	c, lo, end := b.where(off)
	if off+n > end {
		be.failf("%s: %s (%d floats) spans several GPU buffers (binding limit %d bytes); this op needs it within one", op, name, b.n, be.lim.ChunkBytes)
		return nil, 0, false
	}
	b.touched = true
	return c, lo, true
}

// ensureRows makes every chunk of b hold whole rows of rowLen elements,
// re-splitting b (a GPU-side copy) when needed.
func (be *Backend) ensureRows(op, name string, b *Buf, rowLen int) bool {
	if len(b.chunks) <= 1 || (rowLen > 0 && b.cs%rowLen == 0) {
		return true
	}
	if rowLen <= 0 {
		be.failf("%s: %s is split across GPU buffers but its rows have no usable common length", op, name)
		return false
	}
	rpc := be.chunkElems() / rowLen
	if rpc == 0 {
		be.failf("%s: %s: a row of %d floats exceeds the binding limit of %d bytes", op, name, rowLen, be.lim.ChunkBytes)
		return false
	}
	nb := &Buf{n: b.n, cs: rpc * rowLen, label: b.label}
	for lo := 0; lo < b.n; lo += nb.cs {
		nb.chunks = append(nb.chunks, be.newChunk(min(nb.cs, b.n-lo), b.label))
	}
	if b.touched {
		be.copyBufs(nb, 0, b, 0, b.n)
	}
	for _, c := range b.chunks {
		be.releaseChunk(c)
	}
	b.cs, b.chunks = nb.cs, nb.chunks
	return true
}

// operand is one buffer range taking part in a multi-chunk op.
type operand struct {
	b   *Buf
	off int
	c   *chunk // set per piece
	lo  int    // offset in c, set per piece
}

// pieces splits [0, n) into ranges over which every operand stays within
// one chunk and calls fn for each with the operands' chunks and offsets.
func pieces(n int, ops []operand, fn func(lo, hi int, ops []operand)) {
	for lo := 0; lo < n; {
		hi := n
		for i := range ops {
			o := &ops[i]
			c, l, end := o.b.where(o.off + lo)
			o.c, o.lo = c, l
			hi = min(hi, end-o.off)
			o.b.touched = true
		}
		fn(lo, hi, ops)
		lo = hi
	}
}

// scratchChunk returns an internal buffer of at least n elements (its
// contents are undefined).
func (be *Backend) scratchChunk(name string, n int) *chunk {
	if n > be.chunkElems() {
		be.failf("internal scratch %q of %d floats exceeds the binding limit of %d bytes", name, n, be.lim.ChunkBytes)
		return nil
	}
	c := be.scratch[name]
	if c != nil && c.elems >= n {
		return c
	}
	if c != nil {
		c.dead = true
		be.doomed = append(be.doomed, c.buf)
		if !be.pending() {
			be.flush()
		}
	}
	size := 1024
	for size < n {
		size *= 2
	}
	size = min(size, be.chunkElems())
	be.nextID++
	buf := be.dev.CreateBuffer(size*4, gpu.UsageStorage|gpu.UsageCopySrc|gpu.UsageCopyDst, "hut scratch "+name)
	be.stats.Buffers++
	c = &chunk{id: be.nextID, buf: buf, bytes: size * 4, elems: size}
	be.scratch[name] = c
	return c
}

// dummy returns a small buffer for an unused binding slot (distinct per
// slot so that writable dummies never alias).
func (be *Backend) dummy(slot int) *chunk {
	if be.dummies[slot] == nil {
		be.nextID++
		be.dummies[slot] = &chunk{id: be.nextID, buf: be.dev.CreateBuffer(256, gpu.UsageStorage, "hut dummy"), bytes: 256, elems: 64}
	}
	return be.dummies[slot]
}

// fillChunk records c[off, off+n) = v.
func (be *Backend) fillChunk(c *chunk, off, n int, v float32) {
	var cl call
	cl.k = kFill
	cl.b(c).ui(n).ui(off).f(v).ui(0)
	be.run1D(&cl, n)
}

// copyChunk records dst[doff, doff+n) = src[soff, soff+n) for chunks.
func (be *Backend) copyChunk(dst *chunk, doff int, src *chunk, soff int, n int) {
	if n <= 0 {
		return
	}
	if dst == src && doff < soff+n && soff < doff+n {
		if doff == soff {
			return
		}
		tmp := be.scratchChunk("copy", n)
		if tmp == nil {
			return
		}
		be.copyChunk(tmp, 0, src, soff, n)
		src, soff = tmp, 0
	}
	var cl call
	cl.k = kCopy
	cl.b(dst).b(src).ui(n).ui(doff).ui(soff).ui(0)
	be.run1D(&cl, n)
}

// copyBufs copies between (possibly split) buffers.
func (be *Backend) copyBufs(dst *Buf, doff int, src *Buf, soff int, n int) {
	ops := []operand{{b: dst, off: doff}, {b: src, off: soff}}
	pieces(n, ops, func(lo, hi int, ops []operand) {
		be.copyChunk(ops[0].c, ops[0].lo, ops[1].c, ops[1].lo, hi-lo)
	})
}

// ---- memory ops of tensor.Backend ----

func f32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

func i32Bytes(s []int32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

// uploadMax bounds the JavaScript staging array of writes and the GPU
// staging buffer of reads; larger transfers go in rounds.
const uploadMax = 16 << 20

// writeBytes uploads data (4-byte elements) into b at element off.
func (be *Backend) writeBytes(b *Buf, off int, data []byte) {
	if len(data) == 0 || be.dead() {
		return
	}
	// writeBuffer runs on the queue timeline, before any command buffer
	// submitted later: submit what is recorded so that order is kept.
	if be.pending() {
		be.flush()
	}
	n := len(data) / 4
	if need := min(len(data), uploadMax); be.uploadLen < need {
		size := max(need, 1<<16)
		be.upload = js.Global().Get("Uint8Array").New(size)
		be.uploadLen = size
	}
	b.touched = true
	for lo := 0; lo < n; {
		c, l, end := b.where(off + lo)
		hi := min(n, end-off, lo+uploadMax/4)
		js.CopyBytesToJS(be.upload, data[lo*4:hi*4])
		be.q.WriteBuffer(c.buf, l*4, be.upload, 0, (hi-lo)*4)
		lo = hi
	}
	be.stats.Writes++
}

// Write copies src into dst starting at element off.
func (be *Backend) Write(dst tensor.Buf, off int, src []float32) {
	b := be.buf("Write", "dst", dst)
	if b == nil || !be.need("Write", "dst", b, off, len(src)) {
		return
	}
	be.writeBytes(b, off, f32Bytes(src))
}

// WriteI copies src into dst starting at element off.
func (be *Backend) WriteI(dst tensor.IBuf, off int, src []int32) {
	b := be.ibuf("WriteI", "dst", dst)
	if b == nil || !be.need("WriteI", "dst", b, off, len(src)) {
		return
	}
	be.writeBytes(b, off, i32Bytes(src))
}

// Read copies len(dst) elements of src from element off into dst, after
// all earlier work has completed. It blocks the calling goroutine on the
// buffer mapping (in rounds of at most 16 MiB). On failure dst is left
// unchanged or partly filled and Err reports why.
func (be *Backend) Read(src tensor.Buf, off int, dst []float32) {
	b := be.buf("Read", "src", src)
	if b == nil || !be.need("Read", "src", b, off, len(dst)) || len(dst) == 0 {
		return
	}
	for lo := 0; lo < len(dst); lo += uploadMax / 4 {
		hi := min(len(dst), lo+uploadMax/4)
		if !be.readRound(b, off+lo, dst[lo:hi]) {
			return
		}
	}
	be.stats.Reads++
}

func (be *Backend) readRound(b *Buf, off int, dst []float32) bool {
	if be.dead() {
		be.fail(fmt.Errorf("webgpu: Read: %w", ErrDeviceLost))
		return false
	}
	nbytes := len(dst) * 4
	if be.staging.Size < nbytes {
		if be.staging.Size > 0 {
			be.staging.Destroy()
		}
		size := 1 << 12
		for size < nbytes {
			size *= 2
		}
		be.staging = be.dev.CreateBuffer(size, gpu.UsageMapRead|gpu.UsageCopyDst, "hut staging")
	}
	staging := be.staging
	be.endPass()
	enc := be.encoder()
	for lo := 0; lo < len(dst); {
		c, l, end := b.where(off + lo)
		hi := min(len(dst), end-off)
		enc.CopyBufferToBuffer(c.buf, l*4, staging, lo*4, (hi-lo)*4)
		lo = hi
	}
	be.flush()
	if err := staging.MapRead(be.ctx, 0, nbytes); err != nil {
		be.fail(fmt.Errorf("webgpu: Read %d floats of %s at %d: %v", len(dst), b.label, off, err))
		return false
	}
	ab := staging.MappedRange(0, nbytes)
	js.CopyBytesToGo(f32Bytes(dst), js.Global().Get("Uint8Array").New(ab))
	staging.Unmap()
	return true
}

// ReadI copies int32 elements back (not part of tensor.Backend; for tests).
func (be *Backend) ReadI(src tensor.IBuf, off int, dst []int32) {
	b := be.ibuf("ReadI", "src", src)
	if b == nil {
		return
	}
	tmp := make([]float32, len(dst))
	be.Read(&Buf{n: b.n, cs: b.cs, chunks: b.chunks, label: b.label}, off, tmp)
	copy(dst, unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(tmp))), len(tmp)))
}

// Zero sets b[off, off+n) to 0.
func (be *Backend) Zero(b tensor.Buf, off, n int) {
	bb := be.buf("Zero", "b", b)
	if bb == nil || !be.need("Zero", "b", bb, off, n) {
		return
	}
	pieces(n, []operand{{b: bb, off: off}}, func(lo, hi int, ops []operand) {
		be.fillChunk(ops[0].c, ops[0].lo, hi-lo, 0)
	})
}

// Copy copies n elements from src[srcOff:] to dst[dstOff:] (overlapping
// ranges of one buffer behave like Go's copy).
func (be *Backend) Copy(dst tensor.Buf, dstOff int, src tensor.Buf, srcOff int, n int) {
	d, s := be.buf("Copy", "dst", dst), be.buf("Copy", "src", src)
	if d == nil || s == nil || !be.need("Copy", "dst", d, dstOff, n) || !be.need("Copy", "src", s, srcOff, n) {
		return
	}
	if d == s && len(d.chunks) > 1 && dstOff < srcOff+n && srcOff < dstOff+n && dstOff != srcOff {
		// Overlap within a split buffer: go through a temporary.
		tmp := be.alloc(n, "copy temp")
		be.copyBufs(tmp, 0, s, srcOff, n)
		be.copyBufs(d, dstOff, tmp, 0, n)
		be.freeBuf(tmp)
		return
	}
	be.copyBufs(d, dstOff, s, srcOff, n)
}
