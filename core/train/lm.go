package train

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// LMExample is one causal-LM training sequence. Loss[i] says whether token
// i is a target (predicted from the tokens before it): false for prompt
// tokens, true for completion tokens and the closing end-of-text.
type LMExample struct {
	Tokens []int32
	Loss   []bool
}

// LMBatch is a micro-batch in the layout the GPT-2 model takes (its fields
// match gpt2.Batch so the types convert).
type LMBatch struct {
	B, T    int
	Tokens  []int32
	Targets []int32
	Weights []float32
}

// ChunkCorpus cuts a token stream into examples of T+1 tokens (T inputs
// and T targets) with stride T; every target counts. A stream shorter than
// T+1 tokens gives one shorter example.
func ChunkCorpus(ids []int32, T int) []LMExample {
	var out []LMExample
	for lo := 0; lo+1 < len(ids); lo += T {
		hi := min(lo+T+1, len(ids))
		if hi-lo < 2 {
			break
		}
		ex := LMExample{Tokens: ids[lo:hi], Loss: make([]bool, hi-lo)}
		for i := 1; i < len(ex.Loss); i++ {
			ex.Loss[i] = true
		}
		out = append(out, ex)
		if hi == len(ids) {
			break
		}
	}
	return out
}

// PromptCompletion builds the example prompt ++ completion ++ [eos] with the
// loss on the completion and the end token only, truncated to T+1 tokens
// (the prompt is kept whole when it fits; the completion is cut).
func PromptCompletion(prompt, completion []int32, eos int32, T int) LMExample {
	toks := make([]int32, 0, len(prompt)+len(completion)+1)
	toks = append(toks, prompt...)
	toks = append(toks, completion...)
	toks = append(toks, eos)
	loss := make([]bool, len(toks))
	for i := len(prompt); i < len(toks); i++ {
		loss[i] = true
	}
	if len(toks) > T+1 {
		toks, loss = toks[:T+1], loss[:T+1]
	}
	return LMExample{Tokens: toks, Loss: loss}
}

// LMBatcher deals micro-batches from examples: epoch e visits the examples
// in the order of a permutation seeded by (Seed, e), and micro-batch k of
// optimizer step s takes the next B examples of that stream. The batch of a
// step depends on nothing but its number, which is what makes resumed runs
// identical to uninterrupted ones.
type LMBatcher struct {
	Examples []LMExample
	B, T     int
	Accum    int
	Seed     uint64
	Pad      int32
	Shuffle  bool

	mu       sync.Mutex
	order    *Order
	lastStep int
	last     []*LMBatch
}

// Order is the example order of a training run: the g-th example drawn
// (counting from 0 across epochs) is example Index(g); epoch e = g / N
// visits all N examples in the order of a permutation seeded by (Seed, e),
// or in file order without Shuffle. It depends only on g, so any step of a
// run can be rebuilt on its own (exact resume).
type Order struct {
	N       int
	Seed    uint64
	Shuffle bool

	mu    sync.Mutex
	perms map[int][]int
}

// Index returns the example drawn g-th.
func (o *Order) Index(g int) int {
	if !o.Shuffle {
		return g % o.N
	}
	e := g / o.N
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.perms == nil {
		o.perms = map[int][]int{}
	}
	p, ok := o.perms[e]
	if !ok {
		p = rand.New(rand.NewPCG(o.Seed, uint64(e)+1)).Perm(o.N)
		if len(o.perms) > 4 {
			clear(o.perms)
		}
		o.perms[e] = p
	}
	return p[g%o.N]
}

// Validate checks the batcher's shape.
func (l *LMBatcher) Validate() error {
	if len(l.Examples) == 0 {
		return fmt.Errorf("no training examples")
	}
	if l.B <= 0 || l.T <= 0 || l.Accum <= 0 {
		return fmt.Errorf("batch %d × %d with %d accumulation steps: all must be positive", l.B, l.T, l.Accum)
	}
	return nil
}

func (l *LMBatcher) index(g int) int {
	l.mu.Lock()
	if l.order == nil {
		l.order = &Order{N: len(l.Examples), Seed: l.Seed, Shuffle: l.Shuffle}
	}
	l.mu.Unlock()
	return l.order.Index(g)
}

// Step returns the Accum micro-batches of optimizer step s; the weights of
// all target tokens of the step sum to 1.
func (l *LMBatcher) Step(s int) []*LMBatch {
	l.mu.Lock()
	if l.last != nil && l.lastStep == s {
		defer l.mu.Unlock()
		return l.last
	}
	l.mu.Unlock()
	out := make([]*LMBatch, l.Accum)
	total := 0
	for k := range out {
		b := &LMBatch{B: l.B, T: l.T, Tokens: make([]int32, l.B*l.T), Targets: make([]int32, l.B*l.T), Weights: make([]float32, l.B*l.T)}
		for j := 0; j < l.B; j++ {
			ex := l.Examples[l.index((s*l.Accum+k)*l.B+j)]
			total += fill(b, j, ex, l.Pad)
		}
		out[k] = b
	}
	if total > 0 {
		w := 1 / float32(total)
		for _, b := range out {
			for i, v := range b.Weights {
				if v != 0 {
					b.Weights[i] = w
				}
			}
		}
	}
	l.mu.Lock()
	l.lastStep, l.last = s, out
	l.mu.Unlock()
	return out
}

// fill writes example ex into row j of b and returns its number of targets.
func fill(b *LMBatch, j int, ex LMExample, pad int32) int {
	n := 0
	for t := 0; t < b.T; t++ {
		i := j*b.T + t
		if t+1 < len(ex.Tokens) {
			b.Tokens[i] = ex.Tokens[t]
			b.Targets[i] = ex.Tokens[t+1]
			if ex.Loss[t+1] {
				b.Weights[i] = 1
				n++
			}
		} else {
			b.Tokens[i] = pad
			b.Targets[i] = pad
		}
	}
	return n
}

// EvalBatches splits examples into consecutive batches of B rows for an
// evaluation pass; the weights of each batch sum to its share of all
// targets, so the losses of the batches add up to the mean loss.
func EvalBatches(examples []LMExample, B, T int, pad int32) []*LMBatch {
	var out []*LMBatch
	total := 0
	for lo := 0; lo < len(examples); lo += B {
		hi := min(lo+B, len(examples))
		b := &LMBatch{B: hi - lo, T: T, Tokens: make([]int32, (hi-lo)*T), Targets: make([]int32, (hi-lo)*T), Weights: make([]float32, (hi-lo)*T)}
		for j := lo; j < hi; j++ {
			total += fill(b, j-lo, examples[j], pad)
		}
		out = append(out, b)
	}
	if total > 0 {
		w := 1 / float32(total)
		for _, b := range out {
			for i, v := range b.Weights {
				if v != 0 {
					b.Weights[i] = w
				}
			}
		}
	}
	return out
}
