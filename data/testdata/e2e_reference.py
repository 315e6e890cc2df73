#!/usr/bin/env python3
"""Independent reference scores for the E2E test set (checked by
data/e2e_scores_test.go).

Builds a perturbed system output from the E2E test references and scores it
against the remaining references, with BLEU and NIST written here directly
from the definitions of NIST's mteval-v13a.pl as the E2E challenge scorer
(tuetschek/e2e-metrics, mteval/mteval-v13a-sig.pl, default options) computes
them, and ROUGE-L and CIDEr-D from pycocoevalcap's definitions (on
lowercased whitespace tokens, so that no PTB tokenizer is involved).

  instances: testset_w_refs.csv grouped by consecutive identical MRs (630);
             only instances with at least 2 references are used;
  output:    the first reference, perturbed deterministically (see perturb);
  refs:      the other references of the instance.

Writes e2e_perturbed_hyps.txt (one output per used instance) and
e2e_reference_scores.json. Run from this directory; needs only Python 3.
"""
import csv
import gzip
import io
import json
import math
import os
import re
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "..", "e2e", "testset_w_refs.csv.gz")


def load():
    with gzip.open(CSV, "rt", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    assert header == ["mr", "ref"], header
    groups = []
    for mr, ref in rows:
        if groups and groups[-1][0] == mr:
            groups[-1][1].append(ref)
        else:
            groups.append((mr, [ref]))
    return groups


def perturb(i, s):
    w = s.split()
    if i % 3 == 0 and len(w) > 4:
        del w[(i * 7) % len(w)]  # drop a word
    if i % 3 == 1 and len(w) > 3:
        j = 1 + i % (len(w) - 2)
        w[j], w[j + 1] = w[j + 1], w[j]  # swap two words
    if i % 4 == 2:
        w = ["a" if x == "the" else x for x in w]  # substitute
    if i % 5 == 4:
        w = w[: max(1, len(w) * 2 // 3)]  # truncate
    return " ".join(w)


# ---- mteval-v13a (western tokenisation, lowercase) -------------------------

def mteval_tokenize(s):
    s = re.sub(r"\s+", " ", s)  # the SGML reader collapses whitespace
    s = s.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    s = s.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    s = " " + s + " "
    s = re.sub(r"[A-Z]", lambda m: m.group(0).lower(), s)
    s = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", s)
    s = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", s)
    s = re.sub(r"([\.,])([^0-9])", r" \1 \2", s)
    s = re.sub(r"([0-9])(-)", r"\1 \2 ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s.split(" ") if s else []


def ngrams(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def mteval(refsets, hyps):
    nsys = max(len(r) for r in refsets)  # the scorer pads to this many ref sets
    H = [mteval_tokenize(h) for h in hyps]
    R = [[mteval_tokenize(r) for r in rs] for rs in refsets]
    # NIST information from all reference n-grams
    count = Counter()
    total_words = 0
    for rs in R:
        for r in rs:
            total_words += len(r)
            for n in range(1, 6):
                count.update(ngrams(r, n))

    def info(g):
        prefix = count[g[:-1]] if len(g) > 1 else total_words
        return -math.log(count[g] / prefix) / math.log(2)

    match = [0] * 6
    tst = [0] * 6
    tinfo = [0.0] * 6
    ref_len_bleu = 0
    ref_words = 0
    for h, rs in zip(H, R):
        for n in range(1, 6):
            tst[n] += max(0, len(h) - n + 1)
            hc = ngrams(h, n)
            mx = Counter()
            for r in rs:
                for g, c in ngrams(r, n).items():
                    mx[g] = max(mx[g], c)
            for g, c in hc.items():
                if g in mx:
                    m = min(c, mx[g])
                    match[n] += m
                    tinfo[n] += info(g) * m
        # closest reference length; ties -> shorter; empty refs skipped
        best = None
        for r in rs:
            ref_words += len(r)
            L = len(r)
            if best is None:
                best = L
            elif L and (abs(len(h) - L), L) < (abs(len(h) - best), best):
                best = L
        ref_len_bleu += best
    # smoothed BLEU-4
    bp = math.exp(min(0.0, 1 - ref_len_bleu / tst[1])) if tst[1] > 0 else 0.0
    logs, smooth = 0.0, 1.0
    for n in range(1, 5):
        if tst[n] == 0:
            continue
        if match[n] == 0:
            smooth *= 2
            logs += math.log(1 / (smooth * tst[n]))
        else:
            logs += math.log(match[n] / tst[n])
    bleu = math.exp(logs / 4) * bp
    # NIST-5
    nist = sum(tinfo[n] / max(tst[n], 1) for n in range(1, 6))
    ratio = tst[1] / (ref_words / nsys)
    if ratio < 1:
        beta = -math.log(0.5) / math.log(1.5) ** 2
        nist *= math.exp(-beta * math.log(ratio) ** 2) if ratio > 0 else 0
    return bleu, nist, {"matches": match[1:6], "hyp_ngrams": tst[1:6], "bleu_ref_length": ref_len_bleu, "nsys": nsys}


# ---- pycocoevalcap ROUGE-L and CIDEr-D -----------------------------------

def lcs(a, b):
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(refsets, hyps):
    scores = []
    for h, rs in zip(hyps, refsets):
        c = h.split(" ")
        p = max(lcs(r.split(" "), c) / len(c) for r in rs)
        rr = max(lcs(r.split(" "), c) / len(r.split(" ")) for r in rs)
        scores.append(0.0 if p == 0 or rr == 0 else (1 + 1.44) * p * rr / (rr + 1.44 * p))
    return sum(scores) / len(scores)


def cider_d(refsets, hyps):
    def cook(s):
        w = s.split()
        c = Counter()
        for n in range(1, 5):
            c.update(ngrams(w, n))
        return c

    crefs = [[cook(r) for r in rs] for rs in refsets]
    df = Counter()
    for rs in crefs:
        df.update(set(g for r in rs for g in r))
    log_n = math.log(len(crefs))

    def vec(c):
        v = [dict() for _ in range(4)]
        norm = [0.0] * 4
        length = 0
        for g, tf in c.items():
            n = len(g) - 1
            v[n][g] = tf * (log_n - math.log(max(1.0, df[g])))
            norm[n] += v[n][g] ** 2
            if n == 1:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    total = 0.0
    for h, rs in zip(hyps, crefs):
        vh, nh, lh = vec(cook(h))
        acc = [0.0] * 4
        for r in rs:
            vr, nr, lr = vec(r)
            for n in range(4):
                val = sum(min(w, vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g, w in vh[n].items())
                if nh[n] != 0 and nr[n] != 0:
                    val /= nh[n] * nr[n]
                acc[n] += val * math.exp(-((lh - lr) ** 2) / (2 * 36.0))
        total += sum(acc) / 4 / len(rs) * 10
    return total / len(hyps)


def main():
    groups = [g for g in load() if len(g[1]) >= 2]
    hyps = [perturb(i, refs[0]) for i, (_, refs) in enumerate(groups)]
    refsets = [refs[1:] for _, refs in groups]
    bleu, nist, stats = mteval(refsets, hyps)
    low_h = [" ".join(h.lower().split()) for h in hyps]
    low_r = [[" ".join(r.lower().split()) for r in rs] for rs in refsets]
    out = {
        "generator": "e2e_reference.py",
        "instances": len(groups),
        "bleu": bleu,
        "nist": nist,
        "mteval_stats": stats,
        "rouge_l_lower_whitespace": rouge_l(low_r, low_h),
        "cider_d_lower_whitespace": cider_d(low_r, low_h),
    }
    with open(os.path.join(HERE, "e2e_perturbed_hyps.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(hyps) + "\n")
    with open(os.path.join(HERE, "e2e_reference_scores.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
