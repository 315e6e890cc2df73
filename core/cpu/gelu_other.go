//go:build !amd64

package cpu

func geluTanhVec(out, x []float32)          { geluTanhGo(out, x) }
func geluTanhGradVec(dx, dout, x []float32) { geluTanhGradGo(dx, dout, x) }

// There is no fused GELU gradient kernel here: GELUScaledBackwardIn runs
// the separate row helpers.
const haveGELUIn = false

func geluTanhGradInVec(dx, acc, h, sIn, x []float32) { panic("cpu: no geluTanhGradInVec kernel") }
