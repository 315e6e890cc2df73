package peak

import (
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	r, ok := Measure(30*time.Millisecond, true)
	if !ok {
		t.Skip("no AVX2/FMA")
	}
	if r.GFLOPS <= 0 {
		t.Fatalf("peak %+v", r)
	}
	t.Logf("%+v", r)
}
