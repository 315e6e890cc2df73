package gemm

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the calling thread's CPU time (the caller must hold
// runtime.LockOSThread).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// bestCPU runs f reps times single-threaded and returns the smallest
// thread-CPU time of one run.
func bestCPU(reps int, f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Hour
	for r := 0; r < reps; r++ {
		t0 := threadCPU()
		f()
		best = min(best, threadCPU()-t0)
	}
	return best
}
