package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The PyTorch peer paired with our step: with --peers and --paired, every
// round also runs a process that holds our HUT model and a PyTorch process
// serving the same step (tools/peer_pytorch_bench.py --serve), and
// alternates one step of each, turn by turn, each turn starting with the
// other side. Steps seconds apart see the same machine, so the ratio of a
// turn is not moved by the VM's speed changing between the separate
// processes of a round.

// peerSettle is the pause before every step of a peer-paired turn: after a
// step the peer's OpenMP and OpenBLAS threads spin for a while before they
// sleep, and would take CPU from a step that starts at once.
const peerSettle = 200 * time.Millisecond

// peerEnvVar carries the parent's OPENBLAS_NUM_THREADS to the peer, past
// the child process, which runs with OpenBLAS on one thread (benchChild).
const peerEnvVar = "HUT_PEER_OPENBLAS_NUM_THREADS"

// peerEnv is the environment of the PyTorch peer started by a child
// process: the child's, with OpenBLAS's thread count as the parent had it.
func peerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPENBLAS_NUM_THREADS=") || strings.HasPrefix(kv, "HUT_TEST_MAIN=") || strings.HasPrefix(kv, peerEnvVar+"=") {
			continue
		}
		env = append(env, kv)
	}
	if v, ok := os.LookupEnv(peerEnvVar); ok {
		env = append(env, "OPENBLAS_NUM_THREADS="+v)
	}
	return env
}

// peerPairedChild times method's step and the PyTorch peer's in turn,
// turns times, and prints a "peer_paired_process" record with both
// sides' step times turn by turn.
func peerPairedChild(method string, B, T, r, turns int, targets string, stdout io.Writer) error {
	st, err := newStepper(method, B, T, r, targets)
	if err != nil {
		return err
	}
	cmd := pytorchCommand(method, B, T, r, runtime.GOMAXPROCS(0), "--serve")
	cmd.Env = peerEnv()
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %v", pytorchScript, err)
	}
	defer func() {
		in.Close() // the peer exits at the end of its input
		cmd.Wait()
	}()
	lines := bufio.NewScanner(out)
	var peer string
	peerStep := func() (float64, error) {
		if _, err := fmt.Fprintln(in, "step"); err != nil {
			return 0, fmt.Errorf("%s --serve: %v", pytorchScript, err)
		}
		if !lines.Scan() {
			return 0, fmt.Errorf("%s --serve stopped without answering (%v)", pytorchScript, lines.Err())
		}
		var rec benchRecord
		if err := json.Unmarshal(lines.Bytes(), &rec); err != nil || !rec.has("step_s") {
			return 0, fmt.Errorf("%s --serve printed %q, want a JSON line with step_s", pytorchScript, lines.Text())
		}
		peer = rec.str("peer")
		return rec.num("step_s"), nil
	}
	// The peer has started, built its model and taken a warm-up step
	// when it says it is ready; nothing runs beside the turns.
	if !lines.Scan() {
		return fmt.Errorf("%s --serve stopped before it was ready (%v)", pytorchScript, lines.Err())
	}
	var ready benchRecord
	if err := json.Unmarshal(lines.Bytes(), &ready); err != nil || ready["ready"] != true {
		return fmt.Errorf("%s --serve printed %q, want a JSON line with \"ready\": true", pytorchScript, lines.Text())
	}
	var theirs []float64
	for turn := range turns {
		for k := range 2 {
			time.Sleep(peerSettle)
			if (turn+k)%2 == 0 {
				st.timedStep(turn + 1)
				continue
			}
			t, err := peerStep()
			if err != nil {
				return err
			}
			theirs = append(theirs, t)
		}
	}
	emit(stdout, benchRecord{"bench": "peer_paired_process", "peer": peer, "method": method, "B": B, "T": T, "r": r, "turns": turns,
		"step_s_turns": roundAll(st.times, 5), "peer_step_s_turns": roundAll(theirs, 5)})
	return nil
}

// peerPairedInChild runs peerPairedChild in a fresh process and returns
// its record.
func peerPairedInChild(method string, B, T, r, turns int, targets string, stderr io.Writer) (benchRecord, error) {
	fmt.Fprintf(stderr, "bench: GPT-2 124M %s step and PyTorch's in turn, %d turns…\n", method, turns)
	out, err := benchChild(stderr, "--peers --paired", "--child-peer-paired", method, "--paired", strconv.Itoa(turns),
		"--B", strconv.Itoa(B), "--T", strconv.Itoa(T), "--r", strconv.Itoa(r), "--targets", targets)
	if err != nil {
		return nil, err
	}
	recs, err := readBenchRecords(strings.NewReader(out), "bench --peers --paired: the child process of "+method+" and PyTorch")
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.str("bench") == "peer_paired_process" && len(rec.turns("step_s_turns")) == turns && len(rec.turns("peer_step_s_turns")) == turns {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("bench --peers --paired: %s: incomplete records from the child process", method)
}

// poolPeerPaired merges the peer-paired processes of the rounds into one
// "peer_paired" record: each side's median step over all turns, and the
// median over all turns of the peer's step over ours in the same turn
// (speedup_paired; speedup_paired_rounds: that median process by process).
func poolPeerPaired(recs []benchRecord) benchRecord {
	var ours, theirs, byProc []float64
	for _, r := range recs {
		a, b := r.turns("step_s_turns"), r.turns("peer_step_s_turns")
		ours, theirs = append(ours, a...), append(theirs, b...)
		byProc = append(byProc, round(turnRatio(b, a), 2))
	}
	speedup := turnRatio(theirs, ours) // before median sorts the two
	out := benchRecord{"bench": "peer_paired", "peer": recs[0].str("peer"), "method": recs[0].str("method"),
		"B": recs[0].num("B"), "T": recs[0].num("T"), "r": recs[0].num("r"), "turns": len(ours),
		"step_s": round(median(ours), 4), "peer_step_s": round(median(theirs), 4), "speedup_paired": round(speedup, 2)}
	if len(recs) > 1 {
		out["speedup_paired_rounds"] = byProc
	}
	return out
}
