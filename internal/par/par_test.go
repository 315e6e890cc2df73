package par

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunEachPieceOnce runs sections of many sizes, back to back, and checks
// that every piece ran exactly once and that Run returned after all of them.
func TestRunEachPieceOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64} {
		for rep := 0; rep < 200; rep++ {
			counts := make([]atomic.Int32, n)
			Run(n, Func(func(i int) {
				if i%2 == 1 {
					time.Sleep(time.Microsecond) // let pieces finish out of order
				}
				counts[i].Add(1)
			}))
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("n=%d rep %d: piece %d ran %d times", n, rep, i, c)
				}
			}
		}
	}
}

// TestRunNestedAndConcurrent runs sections from several goroutines at once,
// each piece starting a section of its own: when every helper is busy, Run
// must fall back to new goroutines rather than wait for one.
func TestRunNestedAndConcurrent(t *testing.T) {
	var total atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				Run(3, Func(func(int) {
					Run(3, Func(func(int) { total.Add(1) }))
				}))
			}
		}()
	}
	wg.Wait()
	if got, want := total.Load(), int64(4*50*3*3); got != want {
		t.Fatalf("%d inner pieces ran, want %d", got, want)
	}
}

// TestHelpersPark checks that idle helpers stop polling: some time after the
// last section every helper is parked, and a section after that still runs
// all of its pieces (the parked helpers are woken).
func TestHelpersPark(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("no helpers with GOMAXPROCS=1")
	}
	var ran atomic.Int32
	Run(2, Func(func(int) { ran.Add(1) }))
	deadline := time.Now().Add(5 * time.Second)
	for {
		parked := true
		for _, h := range *helpers.Load() {
			if !h.asleep.Load() {
				parked = false
			}
		}
		if parked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helpers still polling 5 s after the last section")
		}
		time.Sleep(Spin)
	}
	Run(2, Func(func(int) { ran.Add(1) }))
	if ran.Load() != 4 {
		t.Fatalf("%d pieces ran, want 4", ran.Load())
	}
}

// busy spins for about d on the calling goroutine.
func busy(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

// BenchmarkRun times a two-piece section of 20 µs per piece after a serial
// stretch of 0, 20 or 100 µs, the shape of a training step (short parallel
// kernels between short serial ops), run with par and with what the engine
// did before (a new goroutine per piece and a WaitGroup).
func BenchmarkRun(b *testing.B) {
	const work = 20 * time.Microsecond
	for _, gap := range []time.Duration{0, 20 * time.Microsecond, 100 * time.Microsecond} {
		b.Run(fmt.Sprintf("par/gap=%v", gap), func(b *testing.B) {
			for b.Loop() {
				busy(gap)
				Run(2, Func(func(int) { busy(work) }))
			}
		})
		b.Run(fmt.Sprintf("goroutines/gap=%v", gap), func(b *testing.B) {
			for b.Loop() {
				busy(gap)
				var wg sync.WaitGroup
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						busy(work)
					}()
				}
				wg.Wait()
			}
		})
	}
}
