// Package peak measures the machine's floating-point peak with a tight loop
// of independent fused multiply-adds on every core, the reference that
// `hut bench` reports efficiency against.
package peak

import (
	"runtime"
	"sync"
	"time"

	"github.com/hutml/hut/internal/cpufeat"
)

// Result is a measured peak.
type Result struct {
	ISA     string  // "avx2" (8-wide) or "avx512" (16-wide)
	Threads int     // goroutines, one per core
	GFLOPS  float64 // whole machine
}

// Measure runs the FMA loop of the widest instruction set available (or
// AVX2 when avx512 is false) on all GOMAXPROCS threads for about d and
// returns the best of three rounds.
func Measure(d time.Duration, avx512 bool) (Result, bool) {
	isa, loop, flopsPerIter := "avx2", fmaLoopAVX2, 12*8*2
	if avx512 && cpufeat.AVX512F {
		isa, loop, flopsPerIter = "avx512", fmaLoopAVX512, 12*16*2
	} else if !cpufeat.AVX2FMA {
		return Result{}, false
	}
	th := runtime.GOMAXPROCS(0)
	best := 0.0
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		var total float64
		var mu sync.Mutex
		for i := 0; i < th; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				const chunk = 1 << 20
				var iters int64
				start := time.Now()
				for time.Since(start) < d/3 {
					loop(chunk)
					iters += chunk
				}
				g := float64(iters) * float64(flopsPerIter) / time.Since(start).Seconds() / 1e9
				mu.Lock()
				total += g
				mu.Unlock()
			}()
		}
		wg.Wait()
		best = max(best, total)
	}
	return Result{ISA: isa, Threads: th, GFLOPS: best}, true
}
