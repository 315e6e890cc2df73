package gemm

import "unsafe"

// Software prefetch of op(B)'s source.
//
// In the products of a training step op(B) is a weight that the step reads
// once per product from main memory: packing it is then limited by memory
// latency, not by the copying, and the micro-kernel waits while it runs. So
// while a worker multiplies one k block of its column chunk, it asks for
// the source of the block it will pack next — the chunk's next k block, or
// the first block of the chunk it has already claimed — a few cache lines
// after every tile, spread over the whole block's tiles. The packing then
// reads from L2 instead of memory. Prefetching only moves data into cache:
// it changes no arithmetic and no result.

// prefetch is a rectangle of a matrix's storage that a worker brings into
// cache, per lines at a time.
type prefetch struct {
	start uintptr // address of the rectangle's first element
	ld    uintptr // bytes between rows
	lines int     // lines per row
	total int     // lines in all
	cur   int     // lines asked for so far
	per   int     // lines to ask for per tile
	tiles int     // tiles computed so far
}

// set makes pf the rectangle of rows [r0, r0+rows) × columns [c0, c0+cols)
// of s (row stride ld floats), spread over the given number of tiles.
func (pf *prefetch) set(s []float32, ld, r0, rows, c0, cols, tiles int) {
	pf.cur, pf.total, pf.tiles = 0, 0, 0
	if rows <= 0 || cols <= 0 || tiles <= 0 {
		return
	}
	_ = s[(r0+rows-1)*ld+c0+cols-1]
	start := uintptr(unsafe.Pointer(&s[r0*ld+c0]))
	pf.start = start
	pf.ld = uintptr(4 * ld)
	pf.lines = int((start+uintptr(4*cols)-1)/64 - start/64 + 1)
	if pf.ld%64 != 0 {
		// Rows start at different offsets within a line: the most
		// lines any row can span.
		pf.lines = (4*cols+63)/64 + 1
	}
	pf.total = rows * pf.lines
	pf.per = (pf.total + tiles - 1) / tiles
}

// next returns the run of lines the next tile (of depth kc) asks for, to
// keep up with per lines per tile: at most kc/4 lines, all in one row of
// the rectangle. When more is due than the current row holds, it asks for
// the rest of that row itself and hands the tile a run of the next row.
// The tile adds the lines it asked for to cur.
func (pf *prefetch) next(kc int) (uintptr, int) {
	pf.tiles++
	n := min(pf.tiles*pf.per, pf.total) - pf.cur
	if n <= 0 {
		return 0, 0
	}
	r, l := pf.cur/pf.lines, pf.cur%pf.lines
	if rest := pf.lines - l; n > rest && pf.cur+rest < pf.total {
		prefetchLines(pf.line(r, l), rest)
		pf.cur += rest
		n -= rest
		r, l = r+1, 0
	}
	return pf.line(r, l), min(n, pf.lines-l, max(kc/4, 1))
}

// line returns the address of line l of row r of the rectangle.
func (pf *prefetch) line(r, l int) uintptr {
	return (pf.start+uintptr(r)*pf.ld)&^63 + uintptr(64*l)
}

// setB makes pf the source of columns [j0, j0+nc) × k rows [p0, p0+kc) of
// op(B) (k block kb), spread over tiles: with op(B) packed ahead, its
// packed panels.
func (pf *prefetch) setB(p *problem, kb, j0, nc, p0, kc, tiles int) {
	if p.packedB != nil {
		s := p.packedB.panels(kb, j0, nc, kc)
		pf.set(s, len(s), 0, 1, 0, len(s), tiles)
		return
	}
	if p.transB { // B is stored n×k
		pf.set(p.b, p.ldb, j0, nc, p0, kc, tiles)
	} else {
		pf.set(p.b, p.ldb, p0, kc, j0, nc, tiles)
	}
}
