package stepparity

import (
	"testing"

	"github.com/hutml/hut/core/cpu"
)

// The native runs are deterministic and train: the reference the browser
// tests compare WebGPU with.
func TestNative(t *testing.T) {
	for _, spec := range Specs() {
		a, err := Run(cpu.New(), "native", spec)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Run(cpu.New(), "native", spec)
		if err != nil {
			t.Fatal(err)
		}
		rep := Compare(a, b)
		if !rep.OK || rep.CurveMaxDiff != 0 {
			t.Fatalf("%s: two native runs differ: %+v", spec.Method, rep)
		}
		if !Decreasing(a.Losses, 0.02) {
			t.Fatalf("%s: loss %v does not go down", spec.Method, a.Losses)
		}
		t.Logf("%s: loss %.4f → %.4f in %d steps, grad norm %.3g → %.3g, %d of %d steps clipped, %.0f ms", spec.Method,
			a.Losses[0], a.Losses[len(a.Losses)-1], len(a.Losses), a.GradNorms[0], a.GradNorms[len(a.GradNorms)-1], rep.Clipped, len(a.Losses), a.Ms)
	}
}
