//go:build !amd64

package cpufeat

func detectAVX2FMA() bool { return false }

func detectAVX512F() bool { return false }
