//go:build !amd64

package cpu

func expSubSum(dst, src []float32, m float32) float32 { return expSubSumGo(dst, src, m) }

func maxSum(src []float32) (float32, float32) { return maxSumGo(src) }

func scaleShift(x []float32, a, b float32) { scaleShiftGo(x, a, b) }
