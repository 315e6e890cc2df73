// Package par runs the CPU engine's parallel sections (the GEMM's workers,
// the element-wise kernels' chunks) on persistent helper goroutines.
//
// A training step is a long chain of short parallel sections with short
// serial stretches between them. Started afresh for every section, a helper
// goroutine usually finds its thread asleep in the kernel (the Go scheduler
// parks an idle thread after a few microseconds), and waking it is a futex
// call plus the scheduling delay, paid twice per section. Here each helper
// keeps its goroutine and, after finishing a piece, polls for the next one
// for Spin before it parks, as OpenMP runtimes do: back-to-back sections then
// start without a wake-up. The polling yields (runtime.Gosched) so that other
// goroutines — the garbage collector's included — still run; an idle process
// has all helpers parked.
//
// Run never changes what is computed: piece i is t.Do(i) whichever goroutine
// runs it.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long an idle helper polls for work before it parks.
const Spin = 200 * time.Microsecond

// pollsPerYield is how many times a waiting goroutine checks its atomic
// before it yields its thread (runtime.Gosched) to other goroutines.
const pollsPerYield = 128

// Task is a parallel section: Do(i) computes piece i.
type Task interface{ Do(i int) }

// Func adapts a function to Task.
type Func func(i int)

// Do calls f(i).
func (f Func) Do(i int) { f(i) }

type helper struct {
	busy   atomic.Bool         // claimed by a Run
	work   atomic.Pointer[job] // the job to run a piece of, nil when none
	piece  int                 // which piece (written before work)
	asleep atomic.Bool         // parked on wake
	wake   chan struct{}
}

type job struct {
	t    Task
	left atomic.Int32 // pieces given to helpers and not finished yet
}

var (
	mu      sync.Mutex
	helpers atomic.Pointer[[]*helper] // grows to GOMAXPROCS-1, never shrinks
	jobs    = sync.Pool{New: func() any { return new(job) }}
)

// pool returns the helpers, starting more if GOMAXPROCS has grown.
func pool() []*helper {
	want := runtime.GOMAXPROCS(0) - 1
	if hs := helpers.Load(); hs != nil && len(*hs) >= want {
		return *hs
	}
	mu.Lock()
	defer mu.Unlock()
	var hs []*helper
	if p := helpers.Load(); p != nil {
		hs = *p
	}
	for len(hs) < want {
		h := &helper{wake: make(chan struct{}, 1)}
		go h.loop()
		hs = append(hs[:len(hs):len(hs)], h)
	}
	helpers.Store(&hs)
	return hs
}

// Run computes t.Do(i) for i in [0, n): piece 0 on the calling goroutine,
// the others on idle helpers (or, when none is idle, on new goroutines),
// and returns when all are done.
func Run(n int, t Task) {
	if n <= 1 {
		if n == 1 {
			t.Do(0)
		}
		return
	}
	j := jobs.Get().(*job)
	j.t = t
	j.left.Store(int32(n - 1))
	hs := pool()
	k := 0
	for i := 1; i < n; i++ {
		var h *helper
		for ; k < len(hs); k++ {
			if hs[k].busy.CompareAndSwap(false, true) {
				h = hs[k]
				k++
				break
			}
		}
		if h == nil {
			go func(i int) {
				j.t.Do(i)
				j.left.Add(-1)
			}(i)
			continue
		}
		h.piece = i
		h.work.Store(j)
		if h.asleep.Load() {
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}
	t.Do(0)
	for n := 1; j.left.Load() > 0; n++ {
		if n%pollsPerYield == 0 {
			runtime.Gosched()
		}
	}
	j.t = nil
	jobs.Put(j)
}

func (h *helper) loop() {
	for {
		j := h.next()
		i := h.piece
		j.t.Do(i)
		h.work.Store(nil)
		h.busy.Store(false)
		j.left.Add(-1)
	}
}

// next waits for work: it polls for Spin, then parks until Run wakes it.
func (h *helper) next() *job {
	start := time.Now()
	for n := 1; ; n++ {
		if j := h.work.Load(); j != nil {
			return j
		}
		if n%pollsPerYield != 0 {
			continue
		}
		if n%(64*pollsPerYield) == 0 && time.Since(start) > Spin {
			h.asleep.Store(true)
			if j := h.work.Load(); j != nil {
				h.asleep.Store(false)
				return j
			}
			<-h.wake
			h.asleep.Store(false)
			start, n = time.Now(), 0
			continue
		}
		runtime.Gosched()
	}
}
