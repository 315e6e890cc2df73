package peak

//go:noescape
func fmaLoopAVX2(n int64)

//go:noescape
func fmaLoopAVX512(n int64)
