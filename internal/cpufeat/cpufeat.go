// Package cpufeat reports the CPU features the assembly kernels need
// (AVX2 and FMA with OS support for the YMM state), read once with CPUID
// and XGETBV. On other architectures every feature is false.
//
// The environment variable HUT_ISA caps what the kernels may use, for
// benchmarks and comparisons on one machine: "avx2" turns the AVX-512
// kernels off (what an AVX2-only CPU such as a Zen 3 runs), "go" turns all
// the assembly off (the pure-Go paths that wasm and other architectures
// run); empty or "native" uses what the CPU has. It never enables a feature
// the CPU lacks.
package cpufeat

import (
	"fmt"
	"os"
)

// AVX2FMA is true when AVX2 and FMA instructions may be used.
var AVX2FMA = detectAVX2FMA() && isaCap >= capAVX2

// AVX512F is true when AVX-512 Foundation instructions may be used (the CPU
// has them and the OS saves the ZMM state).
var AVX512F = detectAVX512F() && isaCap >= capAVX512

// ISA is the value of HUT_ISA this process runs under ("" when unset).
var ISA = os.Getenv("HUT_ISA")

const (
	capGo = iota
	capAVX2
	capAVX512
)

var isaCap = parseISA(ISA)

// parseISA maps HUT_ISA to a cap; an unknown value is a start-up error, not
// a silent fallback, so that a benchmark never runs other kernels than the
// ones it names.
func parseISA(s string) int {
	switch s {
	case "", "native", "avx512":
		return capAVX512
	case "avx2":
		return capAVX2
	case "go", "purego":
		return capGo
	}
	panic(fmt.Sprintf("HUT_ISA=%q: want avx512 (or native, the default), avx2 or go", s))
}
