// Package testmodels makes the tiny checkpoints, tokenizers and task files
// the engine tests and the browser tests run on: a GPT-2 and a RoBERTa of a
// few thousand parameters with random weights (stored F16, as the tiny
// models of models/ are), byte-level BPE tokenizers learnt from the
// synthetic task text, and small E2E and SST-2 files. Everything is
// deterministic.
package testmodels

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
)

// Files are checkpoint files by name.
type Files map[string][]byte

// byteToRune is GPT-2's bytes_to_unicode table.
func byteToRune() [256]rune {
	var t [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}

// BPE learns merges byte-level BPE style from text (words split at
// spaces, a leading space written as the byte-level "Ġ") and returns
// vocab.json and merges.txt. specials are given the first ids; then come
// the 256 byte tokens, the merge results and the trailing specials.
func BPE(text string, merges int, lead, trail []string) (vocabJSON, mergesTxt []byte, size int) {
	tbl := byteToRune()
	vocab := map[string]int{}
	add := func(s string) {
		if _, ok := vocab[s]; !ok {
			vocab[s] = len(vocab)
		}
	}
	for _, s := range lead {
		add(s)
	}
	for b := 0; b < 256; b++ {
		add(string(tbl[b]))
	}
	// Words as sequences of byte-level symbols, with counts.
	counts := map[string]int{}
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		counts[w]++
	}
	type word struct {
		syms []string
		n    int
	}
	var words []word
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var syms []string
		for _, c := range []byte(k) {
			syms = append(syms, string(tbl[c]))
		}
		words = append(words, word{syms, counts[k]})
	}
	var ml []string
	for m := 0; m < merges; m++ {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.n
			}
		}
		best, bn := [2]string{}, 0
		for p, n := range pairs {
			if n > bn || (n == bn && p[0]+" "+p[1] < best[0]+" "+best[1]) {
				best, bn = p, n
			}
		}
		if bn < 2 {
			break
		}
		ml = append(ml, best[0]+" "+best[1])
		add(best[0] + best[1])
		for wi := range words {
			s := words[wi].syms
			var out []string
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, s[i]+s[i+1])
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[wi].syms = out
		}
	}
	for _, s := range trail {
		add(s)
	}
	vj, _ := json.Marshal(vocab)
	mt := "#version: 0.2\n" + strings.Join(ml, "\n") + "\n"
	return vj, []byte(mt), len(vocab)
}

var (
	names  = []string{"The Eagle", "Alimentum", "Zizzi", "Aromi", "The Mill", "Cotto", "Giraffe", "The Punter"}
	kinds  = []string{"pub", "restaurant", "coffee shop"}
	foods  = []string{"French", "Italian", "Indian", "English", "Japanese"}
	areas  = []string{"riverside", "city centre"}
	prices = []string{"cheap", "moderate", "high"}
)

// E2E returns an E2E CSV (header mr,ref) of n synthetic rows in the
// dataset's style: a meaning representation and one templated reference.
func E2E(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 3))
	var b strings.Builder
	b.WriteString("mr,ref\n")
	for i := 0; i < n; i++ {
		nm, k, f, a, p := names[r.IntN(len(names))], kinds[r.IntN(len(kinds))], foods[r.IntN(len(foods))], areas[r.IntN(len(areas))], prices[r.IntN(len(prices))]
		mr := fmt.Sprintf("name[%s], eatType[%s], food[%s], priceRange[%s], area[%s]", nm, k, f, p, a)
		ref := fmt.Sprintf("%s is a %s %s in the %s with %s prices.", nm, f, k, a, p)
		fmt.Fprintf(&b, "%q,%q\n", mr, ref)
	}
	return b.String()
}

var (
	good  = []string{"great", "moving", "wonderful", "funny", "brilliant", "charming"}
	bad   = []string{"dull", "boring", "awful", "flat", "tedious", "clumsy"}
	nouns = []string{"film", "movie", "story", "script", "cast", "ending"}
)

// SST2 returns an SST-2 TSV (header sentence\tlabel) of n synthetic rows.
func SST2(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 5))
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for i := 0; i < n; i++ {
		label := r.IntN(2)
		adj := bad[r.IntN(len(bad))]
		if label == 1 {
			adj = good[r.IntN(len(good))]
		}
		fmt.Fprintf(&b, "a %s %s , really %s \t%d\n", adj, nouns[r.IntN(len(nouns))], adj, label)
	}
	return b.String()
}

// GPT2Config is the tiny GPT-2's shape.
type GPT2Config struct {
	Layers, Embd, Heads, Positions, Merges int
	Dropout                                float32
	Seed                                   uint64
}

// DefaultGPT2 is 2 layers of width 32 with a vocabulary of about 320
// byte-level BPE tokens (256 bytes, 64 merges, <|endoftext|>).
var DefaultGPT2 = GPT2Config{Layers: 2, Embd: 32, Heads: 2, Positions: 128, Merges: 64, Dropout: 0.1, Seed: 1}

// TinyGPT2 returns config.json, model.safetensors (F16), vocab.json and
// merges.txt of a randomly initialised GPT-2 whose tokenizer was learnt
// from the synthetic E2E text.
func TinyGPT2(c GPT2Config) Files {
	vj, mt, size := BPE(E2E(400, 1), c.Merges, nil, []string{"<|endoftext|>"})
	cfg := gpt2.Config{NLayer: c.Layers, NHead: c.Heads, NEmbd: c.Embd, NPositions: c.Positions, VocabSize: size,
		LayerNormEps: 1e-5, Activation: "gelu_new", ResidPdrop: c.Dropout, EmbdPdrop: c.Dropout, AttnPdrop: c.Dropout,
		BOSTokenID: size - 1, EOSTokenID: size - 1}
	m := gpt2.New(cpu.New(), cfg)
	m.Init(c.Seed)
	// GPT-2's default init gives near-uniform logits; a larger embedding
	// makes the random model's predictions (and its gradients) less flat.
	scaleParam(m.WTE.W, 10)
	cj, err := cfg.JSON()
	if err != nil {
		panic(err)
	}
	return Files{"config.json": cj, "model.safetensors": encode(m.StateDict(), "F16"), "vocab.json": vj, "merges.txt": mt}
}

// RoBERTaConfig is the tiny RoBERTa's shape.
type RoBERTaConfig struct {
	Layers, Hidden, Heads, Inter, MaxLen, Merges int
	Classifier                                   bool
	Seed                                         uint64
}

// DefaultRoBERTa is a 2-layer classifier of width 32.
var DefaultRoBERTa = RoBERTaConfig{Layers: 2, Hidden: 32, Heads: 2, Inter: 64, MaxLen: 64, Merges: 48, Classifier: true, Seed: 2}

// TinyRoBERTa returns a RoBERTa checkpoint (a two-class classifier, or a
// masked LM) with its tokenizer learnt from the synthetic SST-2 text.
func TinyRoBERTa(c RoBERTaConfig) Files {
	vj, mt, size := BPE(SST2(300, 1), c.Merges, []string{"<s>", "<pad>", "</s>", "<unk>"}, []string{"<mask>"})
	cfg := roberta.Config{VocabSize: size, HiddenSize: c.Hidden, NumHiddenLayers: c.Layers, NumAttentionHeads: c.Heads,
		IntermediateSize: c.Inter, HiddenAct: "gelu", HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1,
		MaxPositionEmbeddings: c.MaxLen + 2, TypeVocabSize: 1, InitializerRange: 0.02, LayerNormEps: 1e-5,
		PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2, NumLabels: 2}
	head := roberta.HeadMLM
	if c.Classifier {
		head = roberta.HeadClassifier
		cfg.ID2Label = []string{"negative", "positive"}
	}
	m := roberta.New(cpu.New(), cfg, head)
	m.Init(c.Seed)
	cj, err := cfg.JSON(head)
	if err != nil {
		panic(err)
	}
	return Files{"config.json": cj, "model.safetensors": encode(m.StateDict(), "F16"), "vocab.json": vj, "merges.txt": mt}
}

func scaleParam(b tensor.Buf, s float32) {
	d := cpu.F(b)
	for i := range d {
		d[i] *= s
	}
}

func encode(ts []safetensors.Tensor, dtype string) []byte {
	for i := range ts {
		ts[i].DType = dtype
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
