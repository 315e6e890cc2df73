//go:build !amd64

package cpu

func lnRowFwd(o, x, g, b []float32, eps float32) (mu, rs float32) { return lnRowFwdGo(o, x, g, b, eps) }
func lnRowBwd(d, do, x, w []float32, mu, rs float32)              { lnRowBwdGo(d, do, x, w, mu, rs) }
