package webgpu

import "slices"

// Work-splitting helpers shared by the ops (free of syscall/js so that
// they are unit-tested natively).

// splits returns the boundaries 0 = b0 < b1 < … < bk = total made of the
// multiples of every positive step below total.
func splits(total int, steps ...int) []int {
	out := []int{0}
	for _, s := range steps {
		if s <= 0 || s >= total {
			continue
		}
		for v := s; v < total; v += s {
			out = append(out, v)
		}
	}
	out = append(out, total)
	slices.Sort(out)
	return slices.Compact(out)
}

// colSegments picks the rows per segment of a column sum over N rows: one
// segment up to 64 rows, otherwise segments of ≥ 64 rows, at most 65535.
func colSegments(N int) (rows, nseg int) {
	rows = 64
	if N > 64*65535 {
		rows = (N + 65534) / 65535
	}
	nseg = max(1, (N+rows-1)/rows)
	return rows, nseg
}

// lcm is the least common multiple of two positive ints (0 if either is
// not positive or the result overflows 2³¹).
func lcm(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	l := a / x * b
	if l >= 1<<31 {
		return 0
	}
	return l
}
