package main

// hut bench --report: hut bench's JSON lines as Markdown tables, with the
// CPU targets of docs/benchmarks.md checked against them. It measures
// nothing; it reads what a run printed.

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hutml/hut/internal/bench"
)

// benchTargets are the CPU engine's targets (docs/benchmarks.md, "Against
// the targets"), as the report checks them.
var benchTargets = struct {
	openblas, gonum, stepS, pytorch, llmc, overFrozen, rssGB float64
}{openblas: 0.9, gonum: 10, stepS: 1.2, pytorch: 3, llmc: 5, overFrozen: 1.05, rssGB: 1.3}

// readBenchRecords reads hut bench's JSON lines from r, skipping blank
// lines. A line that is not a JSON object with a "bench" field (a log
// captured with the records, say) is an error naming the line, as is a
// file with no records.
func readBenchRecords(r io.Reader, name string) ([]benchRecord, error) {
	var recs []benchRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		var rec benchRecord
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a hut bench JSON record: %v", name, line, err)
		}
		if _, ok := rec["bench"].(string); !ok {
			return nil, fmt.Errorf("%s:%d: record without a \"bench\" field (want hut bench's output)", name, line)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no hut bench records", name)
	}
	return recs, nil
}

// benchReportFile writes the report of the JSON lines in path ("-": r).
func benchReportFile(path string, r io.Reader, w io.Writer) error {
	name := path
	if path == "-" {
		name = "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--report: %v", err)
		}
		defer f.Close()
		r = f
	}
	recs, err := readBenchRecords(r, name)
	if err != nil {
		return fmt.Errorf("--report: %v", err)
	}
	writeBenchReport(w, recs)
	return nil
}

// str is the record's string k ("" when it has none).
func (r benchRecord) str(k string) string { s, _ := r[k].(string); return s }

// has reports whether the record has a number k.
func (r benchRecord) has(k string) bool { _, ok := r[k].(float64); return ok }

// numOr formats the record's number k with format, or is "–" when the
// record has none.
func (r benchRecord) numOr(k, format string) string {
	if !r.has(k) {
		return "–"
	}
	return fmt.Sprintf(format, r.num(k))
}

// floats is the record's list of numbers k.
func (r benchRecord) floats(k string) []float64 {
	l, _ := r[k].([]any)
	out := make([]float64, 0, len(l))
	for _, v := range l {
		if f, ok := v.(float64); ok {
			out = append(out, f)
		}
	}
	return out
}

// joinf formats each number with format and joins them with ", ".
func joinf(format string, xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, ", ")
}

// spread is "lo–hi× (median m×)" of the ratios xs, formatted with format.
func spread(format string, xs []float64) string {
	return fmt.Sprintf(format+"–"+format+"× (median "+format+"×)", slices.Min(xs), slices.Max(xs), bench.Median(xs))
}

// methodNames spells the methods as the docs do.
var methodNames = map[string]string{"lora": "LoRA", "hira": "HiRA"}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// writeBenchReport writes recs (hut bench's records, in any order) as
// Markdown: the machine, the sgemm table, the step table with the peers,
// the summary's ratios and the targets each record bears on.
func writeBenchReport(w io.Writer, recs []benchRecord) {
	byKind := map[string][]benchRecord{}
	for _, r := range recs {
		k := r.str("bench")
		byKind[k] = append(byKind[k], r)
	}
	last := func(kind string) benchRecord {
		if l := byKind[kind]; len(l) > 0 {
			return l[len(l)-1]
		}
		return nil
	}
	fmt.Fprintln(w, "# hut bench report")
	fmt.Fprintln(w)
	if m := last("machine"); m != nil {
		isa := m.str("hut_isa")
		if isa == "" {
			isa = "native"
		}
		blas := "not compiled in"
		if b, _ := m["openblas"].(bool); b {
			blas = "core " + m.str("openblas_core")
		}
		fmt.Fprintf(w, "Machine: %s (%s/%s), %.0f threads, GEMM kernel `%s` (HUT_ISA %s), OpenBLAS %s, frozen weights packed: %v.\n",
			m.str("cpu"), m.str("goos"), m.str("goarch"), m.num("threads"), m.str("gemm_kernel"), isa, blas, m["pack_weights"])
	}
	pk := last("peak")
	if pk != nil {
		fmt.Fprintf(w, "Peak %.1f GFLOP/s (%s FMA loop, %.0f threads).\n", pk.num("gflops"), pk.str("isa"), pk.num("threads"))
	}
	fmt.Fprintln(w)

	type check struct{ target, measured, met string }
	var checks []check

	if sg := byKind["sgemm"]; len(sg) > 0 {
		fmt.Fprintln(w, "| shape | m×n×k | ours GFLOP/s | OpenBLAS | ours/OpenBLAS | gonum | ours/gonum |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
		var ob, gn []float64
		for _, r := range sg {
			fmt.Fprintf(w, "| %s | %.0f×%.0f×%.0f | %.1f | %s | %s | %s | %s |\n", r.str("shape"), r.num("m"), r.num("n"), r.num("k"),
				r.num("ours_gflops"), r.numOr("openblas_gflops", "%.1f"), r.numOr("ratio_openblas", "%.2f"),
				r.numOr("gonum_gflops", "%.1f"), r.numOr("ratio_gonum", "%.1f"))
			if r.has("ratio_openblas") {
				ob = append(ob, r.num("ratio_openblas"))
			}
			if r.has("ratio_gonum") {
				gn = append(gn, r.num("ratio_gonum"))
			}
		}
		fmt.Fprintln(w)
		if len(ob) > 0 {
			checks = append(checks, check{fmt.Sprintf("sgemm ≥ %g× OpenBLAS on every shape", benchTargets.openblas),
				fmt.Sprintf("%s over %d shapes", spread("%.2f", ob), len(ob)), yesNo(slices.Min(ob) >= benchTargets.openblas)})
		}
		if len(gn) > 0 {
			checks = append(checks, check{fmt.Sprintf("sgemm ≥ %g× gonum on every shape", benchTargets.gonum),
				fmt.Sprintf("%s over %d shapes", spread("%.1f", gn), len(gn)), yesNo(slices.Min(gn) >= benchTargets.gonum)})
		}
	}

	steps := map[string]benchRecord{}
	var order []string
	for _, r := range byKind["step"] {
		m := r.str("method")
		if _, dup := steps[m]; !dup {
			order = append(order, m)
		}
		steps[m] = r
	}
	peers := map[string]benchRecord{}
	for _, r := range byKind["peer"] {
		peers[r.str("method")] = r
	}
	if len(order) > 0 {
		fmt.Fprintln(w, "| method | targets | trainable | step (s) | rounds (s) | paired (s) | tokens/s | GFLOP/s | of peak | peak RSS (MiB) | PyTorch step (s), rounds | ours faster by (by round) |")
		fmt.Fprintln(w, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|")
		for _, m := range order {
			r := steps[m]
			var paired []string
			for _, p := range byKind["step_paired"] {
				if p.str("method") == m {
					s := fmt.Sprintf("%.3f", p.num("step_s"))
					if m == "hut" {
						s += " (with " + p.str("paired_with") + ")"
					}
					paired = append(paired, s)
				}
			}
			rounds := joinf("%.3f", r.floats("step_s_rounds"))
			peer, faster := "–", "–"
			if p := peers[m]; p != nil {
				peer = fmt.Sprintf("%.3f", p.num("step_s_median"))
				if rs := p.floats("step_s_rounds"); len(rs) > 0 {
					peer += " (" + joinf("%.3f", rs) + ")"
				}
				if p.has("speedup_of_hut_engine") {
					faster = fmt.Sprintf("%.2f×", p.num("speedup_of_hut_engine"))
					if p.has("speedup_by_round") {
						faster += fmt.Sprintf(" (%.2f×)", p.num("speedup_by_round"))
					}
				}
			}
			frac := "–"
			if r.has("peak_fraction") {
				frac = fmt.Sprintf("%.1f%%", 100*r.num("peak_fraction"))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.3f | %s | %s | %.0f | %.1f | %s | %.0f | %s | %s |\n", m, cmp.Or(r.str("targets"), "–"), groupThousands(int64(r.num("trainable"))),
				r.num("step_s"), cmp.Or(rounds, "–"), cmp.Or(strings.Join(paired, ", "), "–"), r.num("tokens_per_s"), r.num("gflops"), frac,
				r.num("peak_rss_mb"), peer, faster)
		}
		fmt.Fprintln(w)
	}
	// The step targets are for GPT-2 124M at B=4, T=64.
	h := steps["hut"]
	hutTargets := h != nil && h.str("model") == "gpt2-124M" && h.num("B") == 4 && h.num("T") == 64
	if hutTargets {
		checks = append(checks, check{fmt.Sprintf("GPT-2 124M HUT step (B=4, T=64) ≤ %g s", benchTargets.stepS),
			fmt.Sprintf("%.3f s", h.num("step_s")), yesNo(h.num("step_s") <= benchTargets.stepS)})
		if p := peers["hut"]; p != nil && p.has("speedup_of_hut_engine") {
			got := []float64{p.num("speedup_of_hut_engine")}
			meas := fmt.Sprintf("%.2f× (PyTorch %.3f s, ours %.3f s)", got[0], p.num("step_s_median"), h.num("step_s"))
			if p.has("speedup_by_round") {
				got = append(got, p.num("speedup_by_round"))
				meas += fmt.Sprintf("; by round %.2f×", p.num("speedup_by_round"))
			}
			if pp := last("peer_paired"); pp != nil && pp.str("method") == "hut" && pp.has("speedup_paired") {
				got = append(got, pp.num("speedup_paired"))
				meas += fmt.Sprintf("; paired %.2f×", pp.num("speedup_paired"))
			}
			checks = append(checks, check{fmt.Sprintf("HUT step ≥ %g× faster than PyTorch's", benchTargets.pytorch), meas, metAll(got, func(x float64) bool { return x >= benchTargets.pytorch })})
		}
		if l := last("peer_llmc"); l != nil && l.has("hut_faster_by") {
			checks = append(checks, check{fmt.Sprintf("HUT step ≥ %g× faster than llm.c's full fine-tuning step", benchTargets.llmc),
				fmt.Sprintf("%.1f× (llm.c %.2f s, -march=%s)", l.num("hut_faster_by"), l.num("step_s"), l.str("march")), yesNo(l.num("hut_faster_by") >= benchTargets.llmc)})
		}
		if h.has("peak_rss_mb") {
			checks = append(checks, check{fmt.Sprintf("peak memory of the HUT run ≤ %g GB", benchTargets.rssGB),
				fmt.Sprintf("%.0f MiB (%.2f GB)", h.num("peak_rss_mb"), h.num("peak_rss_mb")*(1<<20)/1e9), yesNo(h.num("peak_rss_mb")*(1<<20) <= benchTargets.rssGB*1e9)})
		}
	}
	if pp := last("peer_paired"); pp != nil {
		fmt.Fprintf(w, "PyTorch's %s step in turn with ours (%.0f turns, one process a round): PyTorch %.3f s, ours %.3f s; ours faster by %.2f× (the median of the turns' ratios",
			pp.str("method"), pp.num("turns"), pp.num("peer_step_s"), pp.num("step_s"), pp.num("speedup_paired"))
		if rs := pp.floats("speedup_paired_rounds"); len(rs) > 0 {
			fmt.Fprintf(w, "; by process %s", joinf("%.2f×", rs))
		}
		fmt.Fprint(w, ").\n\n")
	}
	if l := last("peer_llmc"); l != nil {
		fmt.Fprintf(w, "llm.c (GPT-2 124M, B=%.0f, T=%.0f, -march=%s): %.3f s a full fine-tuning step (median of %.0f)",
			l.num("B"), l.num("T"), l.str("march"), l.num("step_s"), l.num("steps"))
		var by []string
		for _, m := range []struct{ key, name string }{{"hut_faster_by", "HUT"}, {"full_faster_by", "full fine-tuning"}} {
			if l.has(m.key) {
				by = append(by, fmt.Sprintf("%.1f× (%s)", l.num(m.key), m.name))
			}
		}
		if len(by) > 0 {
			fmt.Fprint(w, "; ours faster by ", strings.Join(by, ", "))
		}
		fmt.Fprint(w, ".\n\n")
	}
	if s := last("summary"); s != nil && len(s) > 1 { // more than its "bench" field
		fmt.Fprintln(w, "| HUT over | medians | by round | paired | paired, by process | HUT's extra, paired (ms: forward, backward, optimizer) |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
		for _, o := range []string{"frozen", "lora", "hira", "full"} {
			if !s.has("hut_over_" + o) {
				continue
			}
			extra := "–"
			if ms, ok := s["hut_minus_"+o+"_paired_ms"].(map[string]any); ok {
				f, _ := ms["forward"].(float64)
				b, _ := ms["backward"].(float64)
				op, _ := ms["optimizer"].(float64)
				extra = fmt.Sprintf("%.2f, %.2f, %.2f", f, b, op)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", o, s.numOr("hut_over_"+o, "%.3f"), s.numOr("hut_over_"+o+"_by_round", "%.3f"), s.numOr("hut_over_"+o+"_paired", "%.3f"),
				cmp.Or(joinf("%.3f", s.floats("hut_over_"+o+"_paired_rounds")), "–"), extra)
		}
		fmt.Fprintln(w)
		if hutTargets {
			if got, meas := summaryRatios(s, "frozen"); len(got) > 0 {
				checks = append(checks, check{fmt.Sprintf("HUT step ≤ %g× the frozen forward + input-gradient pass", benchTargets.overFrozen),
					meas, metAll(got, func(x float64) bool { return x <= benchTargets.overFrozen })})
			}
			for _, o := range []string{"lora", "hira"} {
				got, meas := summaryRatios(s, o)
				if len(got) == 0 {
					continue
				}
				met := metAll(got, func(x float64) bool { return x < 1 })
				// The target compares the methods on the same layers; with
				// each method's defaults HUT adapts more of them.
				if ot := steps[o]; ot != nil && ot.str("targets") != h.str("targets") {
					meas += fmt.Sprintf(" (targets differ: HUT %s, %s %s)", h.str("targets"), methodNames[o], ot.str("targets"))
					met = "not compared: the targets differ (`--targets all-linear` gives every method the same)"
				}
				checks = append(checks, check{"HUT step faster than " + methodNames[o] + "'s at equal targets", meas, met})
			}
		}
	}
	if len(checks) > 0 {
		fmt.Fprintln(w, "## Against the targets (docs/benchmarks.md)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | measured | met? |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, c := range checks {
			fmt.Fprintf(w, "| %s | %s | %s |\n", c.target, c.measured, c.met)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "A target with several measures (medians of rounds, by round, paired) is met when all of them meet it, \"partly\" when some do.")
	}
}

// summaryRatios is HUT's step over method o's in the summary: medians,
// by round and paired, where present, with their text.
func summaryRatios(s benchRecord, o string) ([]float64, string) {
	var got []float64
	var parts []string
	for _, k := range []struct{ key, name string }{{"", "medians"}, {"_by_round", "by round"}, {"_paired", "paired"}} {
		if key := "hut_over_" + o + k.key; s.has(key) {
			got = append(got, s.num(key))
			parts = append(parts, fmt.Sprintf("%.3f %s", s.num(key), k.name))
		}
	}
	return got, strings.Join(parts, ", ")
}

// metAll is "yes" when ok holds for every measure, "partly" for some,
// "no" for none.
func metAll(xs []float64, ok func(float64) bool) string {
	n := 0
	for _, x := range xs {
		if ok(x) {
			n++
		}
	}
	switch n {
	case len(xs):
		return "yes"
	case 0:
		return "no"
	}
	return fmt.Sprintf("partly (%d of %d)", n, len(xs))
}

// groupThousands writes n with commas between groups of three digits.
func groupThousands(n int64) string {
	if n < 0 {
		return "-" + groupThousands(-n)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
