// Package bench holds same-run comparisons of the engine's kernels against
// peer libraries, for the hut bench command and for docs/benchmarks-*.md.
package bench

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/internal/blaspeer"
)

// GemmOptions configures CompareGemm.
type GemmOptions struct {
	Shapes  []gemm.Shape  // default gemm.TrainingShapes()
	Pairs   int           // alternating samples per library and shape; default 15
	Sample  time.Duration // minimum length of one sample (a batch of calls); default 100ms
	Threads int           // threads for every library; default runtime.GOMAXPROCS(0)
	Gonum   bool          // also measure gonum blas32 (slow: every third pair only)
	Log     io.Writer     // progress lines, may be nil
}

// GemmRow is one shape's result. GFLOP/s figures are medians (and bests)
// over samples; Ratio is the median over sample pairs of ours/OpenBLAS,
// each pair taken back to back so that both see the same machine load.
type GemmRow struct {
	Shape                  gemm.Shape
	Ours, OursBest         float64
	OpenBLAS, OpenBLASBest float64 // 0: not measured
	Ratio                  float64 // median of per-pair ours/OpenBLAS
	Gonum, GonumBest       float64 // 0: not measured
	GonumRatio             float64 // median of per-pair ours/gonum
}

// CompareGemm measures gemm.Sgemm, OpenBLAS (when blaspeer.Available) and
// optionally gonum on each shape. For every shape it alternates short
// samples of ours and OpenBLAS (pausing after OpenBLAS so that its spinning
// worker threads go idle), with a gonum sample after every third one of
// ours, which makes the ratios robust on a shared, noisy machine.
func CompareGemm(opt GemmOptions) []GemmRow {
	if opt.Shapes == nil {
		opt.Shapes = gemm.TrainingShapes()
	}
	if opt.Pairs <= 0 {
		opt.Pairs = 15
	}
	if opt.Sample <= 0 {
		opt.Sample = 100 * time.Millisecond
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(opt.Threads))
	defer gemm.SetMaxThreads(gemm.SetMaxThreads(opt.Threads))
	ob := blaspeer.Available()
	if ob {
		blaspeer.SetThreads(opt.Threads)
	}
	const settle = 150 * time.Millisecond
	var rows []GemmRow
	for _, s := range opt.Shapes {
		a, b, c := gemm.RandomOperands(s)
		lda, ldb, ldc := s.Strides()
		ours := func() { gemm.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, ldc) }
		peer := func() { blaspeer.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, ldc) }
		ours()
		if ob {
			peer()
			time.Sleep(settle)
		}
		gonum := func() { GonumSgemm(s, a, b, c) }
		var go_, gb, gg, ratios, gratios []float64
		for i := 0; i < opt.Pairs; i++ {
			g := s.Flops() / sample(ours, opt.Sample).Seconds() / 1e9
			go_ = append(go_, g)
			if ob {
				h := s.Flops() / sample(peer, opt.Sample).Seconds() / 1e9
				gb = append(gb, h)
				ratios = append(ratios, g/h)
				time.Sleep(settle)
			}
			// gonum is slow: one sample every third pair, right after ours.
			if opt.Gonum && i%3 == 0 {
				h := s.Flops() / sample(gonum, opt.Sample).Seconds() / 1e9
				gg = append(gg, h)
				gratios = append(gratios, g/h)
			}
		}
		row := GemmRow{Shape: s, Ours: Median(go_), OursBest: maxOf(go_)}
		if ob {
			row.OpenBLAS, row.OpenBLASBest, row.Ratio = Median(gb), maxOf(gb), Median(ratios)
		}
		if opt.Gonum {
			row.Gonum, row.GonumBest, row.GonumRatio = Median(gg), maxOf(gg), Median(gratios)
		}
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "%-13s ours %6.1f (best %6.1f)  openblas %6.1f (best %6.1f)  ratio %.2f  gonum %5.1f  ratio %.1f\n",
				s.Name, row.Ours, row.OursBest, row.OpenBLAS, row.OpenBLASBest, row.Ratio, row.Gonum, row.GonumRatio)
		}
		rows = append(rows, row)
	}
	return rows
}

// sample runs f at least once and until d has passed, and returns the mean
// time of one call.
func sample(f func(), d time.Duration) time.Duration {
	t0 := time.Now()
	n := 0
	for {
		f()
		n++
		if e := time.Since(t0); e >= d {
			return e / time.Duration(n)
		}
	}
}

func maxOf(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// Median is the median of x (the mean of the two middle values for an even
// count; 0 for none), leaving x as it is.
func Median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := append([]float64(nil), x...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteGemmTable writes rows as a Markdown table: medians (best in
// parentheses) and the median pairwise ratios to OpenBLAS and gonum.
func WriteGemmTable(w io.Writer, rows []GemmRow) {
	fmt.Fprintln(w, "| shape | orient | M×N×K | ours GFLOP/s | OpenBLAS GFLOP/s | gonum GFLOP/s | ours/OpenBLAS | ours/gonum |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|")
	num := func(x, best float64) string {
		if x == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f (%.0f)", x, best)
	}
	ratio := func(x float64) string {
		if x == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", x)
	}
	for _, r := range rows {
		s := r.Shape
		o := "A·B"
		switch {
		case s.TransA && s.TransB:
			o = "Aᵀ·Bᵀ"
		case s.TransA:
			o = "Aᵀ·B"
		case s.TransB:
			o = "A·Bᵀ"
		}
		fmt.Fprintf(w, "| %s | %s | %d×%d×%d | %s | %s | %s | %s | %s |\n", s.Name, o, s.M, s.N, s.K,
			num(r.Ours, r.OursBest), num(r.OpenBLAS, r.OpenBLASBest), num(r.Gonum, r.GonumBest), ratio(r.Ratio), ratio(r.GonumRatio))
	}
}

// GonumSgemm runs gonum's blas32.Gemm (alpha = 1, beta = 0) on densely
// stored operands of shape s.
func GonumSgemm(s gemm.Shape, a, b, c []float32) {
	lda, ldb, ldc := s.Strides()
	ta, tb := blas.NoTrans, blas.NoTrans
	ar, ac := s.M, s.K
	if s.TransA {
		ta, ar, ac = blas.Trans, s.K, s.M
	}
	br, bc := s.K, s.N
	if s.TransB {
		tb, br, bc = blas.Trans, s.N, s.K
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		0, blas32.General{Rows: s.M, Cols: s.N, Stride: ldc, Data: c})
}
