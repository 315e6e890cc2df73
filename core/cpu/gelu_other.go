//go:build !amd64

package cpu

func geluTanhVec(out, x []float32)          { geluTanhGo(out, x) }
func geluTanhGradVec(dx, dout, x []float32) { geluTanhGradGo(dx, dout, x) }

func geluTanhGradInVec(dx, acc, h, sIn, x []float32) { geluTanhGradInGo(dx, acc, h, sIn, x) }
