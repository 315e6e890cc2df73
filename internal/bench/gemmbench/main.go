// Command gemmbench prints a same-run comparison of core/gemm.Sgemm against
// OpenBLAS (build with -tags openblas) and gonum blas32 on the GPT-2 124M
// training shapes, as a Markdown table: median GFLOP/s over alternating
// samples (best in parentheses) and the median of back-to-back ratios.
//
//	go run -tags openblas ./internal/bench/gemmbench -openblas-core Haswell -gonum
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/internal/bench"
	"github.com/hutml/hut/internal/blaspeer"
)

func main() {
	sampleDur := flag.Duration("sample", 100*time.Millisecond, "minimum length of one sample")
	pairs := flag.Int("pairs", 15, "alternating samples per library and shape")
	threads := flag.Int("threads", runtime.GOMAXPROCS(0), "threads for every library")
	gonum := flag.Bool("gonum", false, "also measure gonum blas32")
	shapes := flag.String("shapes", "", "regexp selecting shapes by name (default all)")
	impl := flag.String("impl", "", "core/gemm kernel to use (default: the fastest available)")
	core := flag.String("openblas-core", "", "re-run with OPENBLAS_CORETYPE set to this (e.g. Haswell, SkylakeX)")
	flag.Parse()

	if *core != "" && os.Getenv("OPENBLAS_CORETYPE") != *core {
		// OpenBLAS reads the variable when the library loads: re-exec.
		err := reexec("OPENBLAS_CORETYPE", *core)
		fmt.Fprintln(os.Stderr, "gemmbench: re-exec:", err)
		os.Exit(1)
	}

	if err := gemm.UseImpl(*impl); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var list []gemm.Shape
	re := regexp.MustCompile(*shapes)
	for _, s := range gemm.TrainingShapes() {
		if re.MatchString(s.Name) {
			list = append(list, s)
		}
	}
	fmt.Printf("# gemm: %s, GOMAXPROCS=%d, threads=%d, cpu: %s\n", gemm.Impl(), runtime.GOMAXPROCS(0), *threads, cpuModel())
	if blaspeer.Available() {
		fmt.Printf("# openblas: core %s, %s\n", blaspeer.CoreName(), strings.TrimSpace(blaspeer.Config()))
	} else {
		fmt.Println("# openblas: not built in (use -tags openblas)")
	}
	rows := bench.CompareGemm(bench.GemmOptions{
		Shapes: list, Sample: *sampleDur, Pairs: *pairs, Threads: *threads, Gonum: *gonum, Log: os.Stderr,
	})
	bench.WriteGemmTable(os.Stdout, rows)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.Index(l, ":"); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return runtime.GOARCH
}
