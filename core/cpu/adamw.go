package cpu

import "math"

// adamConsts are the per-call constants of the AdamW update, in the order
// the assembly kernel loads them.
type adamConsts struct {
	gs       float32 // gradient scale (clipping)
	b1, omb1 float32 // β1, 1−β1
	b2, omb2 float32 // β2, 1−β2
	decay    float32 // 1 − lr·wd
	stepSize float32 // lr / (1 − β1ᵗ)
	sbc2     float32 // √(1 − β2ᵗ)
	eps      float32
}

// adamwGo updates p, m and v in place (one element at a time):
//
//	g' = g·gs,  m = β1·m + (1−β1)·g',  v = β2·v + (1−β2)·g'·g',
//	p = p·decay − stepSize·m / (√v/sbc2 + eps).
//
// Every product and sum is rounded to float32 on its own (the conversions
// forbid fused multiply-adds), in the order the vector kernel computes
// them, so the two agree bit for bit; √ is correctly rounded in both.
func adamwGo(p, g, m, v []float32, c *adamConsts) {
	for i := range p {
		gi := g[i] * c.gs
		mi := float32(c.b1*m[i]) + float32(c.omb1*gi)
		vi := float32(c.b2*v[i]) + float32(float32(c.omb2*gi)*gi)
		m[i], v[i] = mi, vi
		den := float32(float32(math.Sqrt(float64(vi)))/c.sbc2) + c.eps
		p[i] = float32(p[i]*c.decay) - float32(c.stepSize*mi)/den
	}
}
