package gemm

import (
	"testing"
	"unsafe"
)

// TestPrefetchRuns: the lines a prefetch asks for over successive tiles
// (the runs it hands to the tiles and those it asks for itself) cover every
// cache line of the rectangle and no line outside its rows' spans; a tile's
// run stays within one row and kc/4 lines; all are asked for by the last
// tile unless that bound held them back.
func TestPrefetchRuns(t *testing.T) {
	s := make([]float32, 256*1024)
	base := uintptr(unsafe.Pointer(&s[0]))
	cases := []struct {
		ld, r0, rows, c0, cols, tiles, kc int
	}{
		{768, 0, 256, 0, 256, 1024, 256},  // forward: 256 rows of 1 KB
		{768, 3, 100, 512, 256, 96, 256},  // a later k block
		{1000, 1, 30, 7, 333, 50, 200},    // rows not line-aligned
		{3072, 2, 17, 100, 1024, 17, 256}, // input gradient: long rows
		{1, 0, 1, 0, 5000, 40, 256},       // one contiguous run
		{768, 0, 5, 0, 768, 1000, 8},      // more tiles than lines
		{770, 0, 64, 3, 700, 2, 16},       // too few tiles: capped runs
	}
	for _, c := range cases {
		var pf prefetch
		pf.set(s, c.ld, c.r0, c.rows, c.c0, c.cols, c.tiles)
		got := map[uintptr]bool{}
		capped := false
		for range c.tiles {
			before := pf.cur
			p, n := pf.next(c.kc)
			for i := before; i < pf.cur; i++ { // asked for by next itself
				got[pf.line(i/pf.lines, i%pf.lines)&^63] = true
			}
			if n > max(c.kc/4, 1) {
				t.Fatalf("%+v: a run of %d lines for kc=%d", c, n, c.kc)
			}
			if n > 0 && (pf.cur+n-1)/pf.lines != pf.cur/pf.lines {
				t.Fatalf("%+v: a run crosses rows", c)
			}
			if n > 0 && p != pf.line(pf.cur/pf.lines, pf.cur%pf.lines) {
				t.Fatalf("%+v: the run does not start at line %d", c, pf.cur)
			}
			if n == max(c.kc/4, 1) {
				capped = true
			}
			for i := range n {
				got[(p+uintptr(64*i))&^63] = true
			}
			pf.cur += n
		}
		want := map[uintptr]bool{}
		for r := c.r0; r < c.r0+c.rows; r++ {
			for j := c.c0; j < c.c0+c.cols; j++ {
				want[(base+uintptr(4*(r*c.ld+j)))&^63] = true
			}
		}
		for l := range got {
			inside := false
			for r := c.r0; r < c.r0+c.rows && !inside; r++ {
				first := (base + uintptr(4*(r*c.ld+c.c0))) &^ 63
				last := (base + uintptr(4*(r*c.ld+c.c0+c.cols-1))) &^ 63
				inside = l >= first && l <= last+64
			}
			if !inside {
				t.Fatalf("%+v: line %#x outside the rows' spans", c, l)
			}
		}
		if pf.cur == pf.total {
			for l := range want {
				if !got[l] {
					t.Fatalf("%+v: line %#x of the rectangle never asked for", c, l)
				}
			}
		} else if !capped {
			t.Fatalf("%+v: %d of %d lines asked for, without runs at the kc/4 bound", c, pf.cur, pf.total)
		}
	}
	var pf prefetch
	pf.set(s, 10, 0, 0, 0, 10, 5)
	if _, n := pf.next(256); n != 0 {
		t.Fatalf("an empty rectangle handed out %d lines", n)
	}
}
