package tokenizer

import "container/heap"

// merge is one rule of merges.txt: the pair (left, right) of token ids
// becomes token id result; rules with a lower rank apply first.
type merge struct {
	rank   int32
	result int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// longWord is the symbol count above which bpe switches from the quadratic
// scan to the heap-based merge loop. Both apply the same rule (see bpe).
const longWord = 48

// bpe turns the bytes of one pre-token into token ids, appending to dst.
//
// The rule is that of Hugging Face tokenizers (BPE::merge_word): repeatedly
// merge the adjacent pair with the lowest merge rank, the leftmost one on a
// tie, until no adjacent pair has a rule. For merges learned by BPE training
// (such as GPT-2's) this equals the slow Python rule (merge every occurrence
// of the best bigram in one pass).
func (t *Tokenizer) bpe(dst []int, word string) []int {
	if len(word) == 0 {
		return dst
	}
	if len(word) > longWord {
		return t.bpeHeap(dst, word)
	}
	var buf [longWord]int32
	syms := buf[:len(word)]
	for i := 0; i < len(word); i++ {
		syms[i] = t.byteID[word[i]]
	}
	for len(syms) > 1 {
		best := -1
		var bestM merge
		for i := 0; i+1 < len(syms); i++ {
			m, ok := t.merges[pairKey(syms[i], syms[i+1])]
			if ok && (best < 0 || m.rank < bestM.rank) {
				best, bestM = i, m
			}
		}
		if best < 0 {
			break
		}
		syms[best] = bestM.result
		copy(syms[best+1:], syms[best+2:])
		syms = syms[:len(syms)-1]
	}
	for _, s := range syms {
		dst = append(dst, int(s))
	}
	return dst
}

// heapItem is a candidate merge of symbols left and its successor.
type heapItem struct {
	rank        int32
	left        int32 // index of the left symbol (original position)
	lid, rid    int32 // ids when the item was pushed, to detect stale items
	resultToken int32
}

type mergeHeap []heapItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].left < h[j].left
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// bpeHeap is bpe for long words: O(n log n) with a linked list of symbols
// and a priority queue ordered by (rank, position), as in Hugging Face's
// Word::merge_all.
func (t *Tokenizer) bpeHeap(dst []int, word string) []int {
	n := len(word)
	ids := make([]int32, n)
	prev := make([]int32, n)
	next := make([]int32, n)
	alive := make([]bool, n)
	for i := 0; i < n; i++ {
		ids[i] = t.byteID[word[i]]
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
		alive[i] = true
	}
	next[n-1] = -1
	h := &mergeHeap{}
	push := func(l int32) {
		r := next[l]
		if l < 0 || r < 0 {
			return
		}
		if m, ok := t.merges[pairKey(ids[l], ids[r])]; ok {
			heap.Push(h, heapItem{rank: m.rank, left: l, lid: ids[l], rid: ids[r], resultToken: m.result})
		}
	}
	for i := int32(0); i+1 < int32(n); i++ {
		push(i)
	}
	for h.Len() > 0 {
		it := heap.Pop(h).(heapItem)
		l := it.left
		if !alive[l] {
			continue
		}
		r := next[l]
		if r < 0 || ids[l] != it.lid || ids[r] != it.rid {
			continue
		}
		ids[l] = it.resultToken
		alive[r] = false
		next[l] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = l
		}
		if p := prev[l]; p >= 0 {
			push(p)
		}
		push(l)
	}
	for i := int32(0); i >= 0; i = next[i] {
		dst = append(dst, int(ids[i]))
	}
	return dst
}
