//go:build !amd64

package cpu

func geluTanhVec(out, x []float32)          { geluTanhGo(out, x) }
func geluTanhGradVec(dx, dout, x []float32) { geluTanhGradGo(dx, dout, x) }
