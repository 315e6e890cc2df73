//go:build !amd64

package cpu

func adamw(p, g, m, v []float32, c *adamConsts) { adamwGo(p, g[:len(p)], m[:len(p)], v[:len(p)], c) }
