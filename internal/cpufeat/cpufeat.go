// Package cpufeat reports the CPU features the assembly kernels need
// (AVX2 and FMA with OS support for the YMM state), read once with CPUID
// and XGETBV. On other architectures every feature is false.
package cpufeat

// AVX2FMA is true when AVX2 and FMA instructions may be used.
var AVX2FMA = detectAVX2FMA()

// AVX512F is true when AVX-512 Foundation instructions may be used (the CPU
// has them and the OS saves the ZMM state).
var AVX512F = detectAVX512F()
