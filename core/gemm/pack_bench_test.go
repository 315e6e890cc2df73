package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkPack measures how fast the packing of a GPT-2-sized weight
// (768×3072, 9.4 MB) runs, in GB/s of the weight read, next to a plain
// copy() of the same bytes into a buffer of the packing buffer's size:
//
//   - nn: op(B) = W, kc×32 strips of rows (the input-gradient products);
//   - nt: op(B) = Wᵀ, transposed while packing (the forward products);
//   - copy: copy() in 1 MiB pieces, the same bytes, no rearranging.
//
// "hot" packs one matrix again and again (it stays in L3); "cold" cycles
// through 64 of them (604 MB, more than the last-level cache), as a
// training step does with its 500 MB of weights. The k and n blocks are the
// ones Sgemm uses for these shapes (kc = 256, nc = 1024).
func BenchmarkPack(b *testing.B) {
	const K, N, kc, nc = 768, 3072, 256, 1024
	im := active
	dst := make([]float32, nc*kc)
	for _, mode := range []string{"nn", "nt", "copy"} {
		for _, temp := range []string{"hot", "cold"} {
			b.Run(fmt.Sprintf("%s/%s", mode, temp), func(b *testing.B) {
				mats := 1
				if temp == "cold" {
					mats = 64
				}
				ws := make([][]float32, mats)
				for i := range ws {
					ws[i] = make([]float32, K*N)
					for j := range ws[i] {
						ws[i][j] = float32(j % 1000)
					}
				}
				i := 0
				b.SetBytes(4 * K * N)
				b.ResetTimer()
				for b.Loop() {
					w := ws[i%mats]
					i++
					switch mode {
					case "nn": // W stored K×N, op(B) = W
						for j0 := 0; j0 < N; j0 += nc {
							for p0 := 0; p0 < K; p0 += kc {
								im.packB(dst, false, w, N, j0, nc, p0, kc)
							}
						}
					case "nt": // W stored N×K, op(B) = Wᵀ
						for j0 := 0; j0 < N; j0 += nc {
							for p0 := 0; p0 < K; p0 += kc {
								im.packB(dst, true, w, K, j0, nc, p0, kc)
							}
						}
					case "copy":
						for off := 0; off < len(w); off += len(dst) {
							copy(dst, w[off:])
						}
					}
				}
			})
		}
	}
}
