package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hutml/hut/internal/pytorch"
)

// fakePeer writes a stand-in for tools/peer_pytorch_bench.py --serve that
// speaks its protocol (src: the script's body) and points pytorchScript at
// it for the test.
func fakePeer(t *testing.T, src string) {
	t.Helper()
	if _, err := exec.LookPath(pytorch.Python()); err != nil {
		t.Skip("no python3")
	}
	p := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	old := pytorchScript
	pytorchScript = p
	t.Cleanup(func() { pytorchScript = old })
}

// TestPeerPairedChild: our steps and the peer's alternate turn by turn,
// after the peer says it is ready; a peer that breaks the protocol is an
// error naming the script.
func TestPeerPairedChild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a GPT-2 124M model")
	}
	fakePeer(t, `import json, sys
assert '--serve' in sys.argv
print(json.dumps({'peer': 'fake-1', 'method': sys.argv[sys.argv.index('--method') + 1], 'ready': True}), flush=True)
for _ in sys.stdin:
    print(json.dumps({'peer': 'fake-1', 'step_s': 0.25}), flush=True)
`)
	var out bytes.Buffer
	if err := peerPairedChild("hut", 1, 4, 2, 3, "", &out); err != nil {
		t.Fatal(err)
	}
	var rec benchRecord
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if rec.str("bench") != "peer_paired_process" || rec.str("peer") != "fake-1" || rec.str("method") != "hut" || rec.num("turns") != 3 {
		t.Errorf("record %v", rec)
	}
	ours, theirs := rec.turns("step_s_turns"), rec.turns("peer_step_s_turns")
	if len(ours) != 3 || slices.Min(ours) <= 0 || !slices.Equal(theirs, []float64{0.25, 0.25, 0.25}) {
		t.Errorf("turns: ours %v, peer %v", ours, theirs)
	}

	for _, c := range []struct{ name, src, msg string }{
		{"not ready", "import sys\nsys.exit(3)\n", "stopped before it was ready"},
		{"no step time", "import json, sys\nprint(json.dumps({'ready': True}), flush=True)\nfor _ in sys.stdin:\n    print('oops', flush=True)\n", `printed "oops", want a JSON line with step_s`},
	} {
		fakePeer(t, c.src)
		err := peerPairedChild("hut", 1, 4, 2, 1, "", &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "peer.py") {
			t.Errorf("%s: error %v, want one naming peer.py and saying %q", c.name, err, c.msg)
		}
	}
}

// TestPoolPeerPaired: the processes' turns are pooled; the speed-up is the
// median of the turns' ratios (not the ratio of the medians), and each
// process's own median is kept.
func TestPoolPeerPaired(t *testing.T) {
	recs := []benchRecord{
		{"bench": "peer_paired_process", "peer": "pytorch-x", "method": "hut", "B": 4.0, "T": 64.0, "r": 8.0,
			"step_s_turns": []any{0.5, 0.5, 1.0}, "peer_step_s_turns": []any{1.5, 1.6, 2.0}},
		{"bench": "peer_paired_process", "peer": "pytorch-x", "method": "hut", "B": 4.0, "T": 64.0, "r": 8.0,
			"step_s_turns": []any{0.6, 0.4}, "peer_step_s_turns": []any{1.8, 1.6}},
	}
	got := poolPeerPaired(recs)
	// Ratios 3, 3.2, 2, 3, 4: median 3. Medians: ours 0.5, peer 1.6.
	want := benchRecord{"bench": "peer_paired", "peer": "pytorch-x", "method": "hut", "B": 4.0, "T": 64.0, "r": 8.0, "turns": 5,
		"step_s": 0.5, "peer_step_s": 1.6, "speedup_paired": 3.0, "speedup_paired_rounds": []float64{3.0, 4.0}}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("pooled\n%s\nwant\n%s", gj, wj)
	}
}

// TestPeerEnv: the peer gets OpenBLAS's thread count as hut bench's parent
// process had it, not the child's single thread.
func TestPeerEnv(t *testing.T) {
	t.Setenv("OPENBLAS_NUM_THREADS", "1")
	t.Setenv("HUT_TEST_MAIN", "1")
	os.Unsetenv(peerEnvVar)
	if env := strings.Join(peerEnv(), "\n"); strings.Contains(env, "OPENBLAS_NUM_THREADS=") || strings.Contains(env, "HUT_TEST_MAIN=") {
		t.Errorf("parent without OPENBLAS_NUM_THREADS: peer env has it or HUT_TEST_MAIN:\n%s", env)
	}
	t.Setenv(peerEnvVar, "2")
	env := peerEnv()
	if !slices.Contains(env, "OPENBLAS_NUM_THREADS=2") || slices.Contains(env, "OPENBLAS_NUM_THREADS=1") {
		t.Errorf("parent with OPENBLAS_NUM_THREADS=2: peer env %v", env)
	}
}
