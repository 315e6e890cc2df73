package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchFlagErrors: bad bench flags fail at once with a message naming
// the flag (the benchmarks themselves are not run by the tests).
func TestBenchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--B", "0"}, "must be positive"},
		{[]string{"--llmc", dir}, "no train_gpt2.c"},
		{[]string{"--methods", "dora", "--step", "--gemm=false"}, "unknown method"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"bench"}, c.args...)
		if got := Main(args, &out, &errb); got != 2 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("hut %v: exit %d (want 2), stderr %q (want %q)", args, got, errb.String(), c.msg)
		}
	}
}
