package pytorch

import (
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	py, err := Find()
	if err != nil {
		if !strings.Contains(err.Error(), Python()) {
			t.Fatalf("the error does not name the interpreter %s: %v", Python(), err)
		}
		t.Skipf("no PyTorch here: %v", err)
	}
	if py != Python() {
		t.Fatalf("Find() = %q, want %q", py, Python())
	}
}
