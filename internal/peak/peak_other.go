//go:build !amd64

package peak

func fmaLoopAVX2(n int64)   {}
func fmaLoopAVX512(n int64) {}
