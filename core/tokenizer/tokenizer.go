// Package tokenizer implements the byte-level BPE tokenizers of GPT-2 and
// RoBERTa so that they reproduce Hugging Face's tokenizers id for id.
//
// A Tokenizer is built from vocab.json + merges.txt (or GPT-2's original
// names encoder.json + vocab.bpe), from a Hugging Face tokenizer.json, or
// from the copies of the GPT-2 and RoBERTa files embedded in this package
// (Builtin("gpt2"), Builtin("roberta")).
//
// Encoding follows Hugging Face's fast tokenizers:
//  1. added (special) tokens such as <|endoftext|> or <mask> are split out
//     of the text first, leftmost-longest, honouring their lstrip/rstrip
//     flags (RoBERTa's <mask> swallows the whitespace before it);
//  2. each remaining segment gets a leading space if add_prefix_space is set
//     and the segment does not start with a space, and is cut into pieces
//     with GPT-2's regex (see splitPieces);
//  3. each piece's UTF-8 bytes are merged with the BPE rules (see bpe).
//
// Decoding maps ids back to their bytes, so Decode(Encode(s)) == s for every
// byte string s, valid UTF-8 or not. The package has no cgo and builds for
// GOOS=js GOARCH=wasm.
package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// AddedToken is a token matched in the raw text before BPE, such as
// <|endoftext|> or <mask>.
type AddedToken struct {
	Content string
	ID      int
	// LStrip and RStrip make a match also consume the whitespace to its
	// left or right (Hugging Face's AddedToken flags).
	LStrip, RStrip bool
	// Special tokens are dropped by DecodeSkipSpecial.
	Special bool
}

// Template says which special tokens wrap an encoded sequence
// (Hugging Face's post-processor).
type Template int

const (
	// TemplateNone adds nothing (GPT-2: Hugging Face's GPT-2 tokenizer
	// adds no BOS/EOS).
	TemplateNone Template = iota
	// TemplateRoBERTa gives <s> A </s> and <s> A </s></s> B </s>.
	TemplateRoBERTa
)

// Tokenizer is a byte-level BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	name      string
	vocab     map[string]int // byte-level token string -> id
	idToToken []string       // id -> byte-level token string ("" if unused)
	idBytes   [][]byte       // id -> raw bytes of a BPE token (nil for added tokens)
	merges    map[uint64]merge
	byteID    [256]int32

	added    []AddedToken // sorted by decreasing length of Content
	addedIDs map[int]AddedToken

	addPrefixSpace bool
	template       Template
	bos, eos       int // -1 when absent
	pad, unk, mask int

	mu    sync.Mutex
	cache map[string][]int
}

// maxCache bounds the number of cached pre-token encodings; the cache is
// cleared when it is full.
const maxCache = 1 << 17

// Name is the name the tokenizer was built with ("gpt2", "roberta", or the
// directory or file it was loaded from).
func (t *Tokenizer) Name() string { return t.name }

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return len(t.idToToken) }

// AddPrefixSpace reports whether a space is put before text that does not
// start with one (Hugging Face's add_prefix_space).
func (t *Tokenizer) AddPrefixSpace() bool { return t.addPrefixSpace }

// WithAddPrefixSpace returns a tokenizer sharing t's vocabulary whose
// add_prefix_space setting is on.
func (t *Tokenizer) WithAddPrefixSpace(on bool) *Tokenizer {
	c := &Tokenizer{
		name: t.name, vocab: t.vocab, idToToken: t.idToToken, idBytes: t.idBytes,
		merges: t.merges, byteID: t.byteID, added: t.added, addedIDs: t.addedIDs,
		addPrefixSpace: on, template: t.template,
		bos: t.bos, eos: t.eos, pad: t.pad, unk: t.unk, mask: t.mask,
		cache: map[string][]int{},
	}
	return c
}

// BOS, EOS, PAD, UNK and Mask return the ids of those special tokens, or -1
// when the vocabulary has none. For GPT-2 BOS, EOS and UNK are all
// <|endoftext|> (50256) and PAD and Mask are -1; for RoBERTa they are
// <s>=0, </s>=2, <pad>=1, <unk>=3, <mask>=50264.
func (t *Tokenizer) BOS() int  { return t.bos }
func (t *Tokenizer) EOS() int  { return t.eos }
func (t *Tokenizer) PAD() int  { return t.pad }
func (t *Tokenizer) UNK() int  { return t.unk }
func (t *Tokenizer) Mask() int { return t.mask }

// Added returns the added tokens, longest first.
func (t *Tokenizer) Added() []AddedToken { return append([]AddedToken(nil), t.added...) }

// TokenID returns the id of a token given in its vocab.json spelling.
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	id, ok := t.vocab[tok]
	return id, ok
}

// Token returns the vocab.json spelling of id.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.idToToken) || (t.idToToken[id] == "" && t.idBytes[id] == nil) {
		return "", false
	}
	return t.idToToken[id], true
}

// Encode tokenizes text without adding BOS/EOS; added tokens written in the
// text (e.g. "<|endoftext|>") become their ids, as in Hugging Face.
func (t *Tokenizer) Encode(text string) []int {
	return t.encode(nil, text, true)
}

// EncodeOrdinary tokenizes text treating added-token strings as plain text.
func (t *Tokenizer) EncodeOrdinary(text string) []int {
	return t.encode(nil, text, false)
}

// EncodeWithSpecial is Encode plus the model's template (Hugging Face's
// add_special_tokens=True): <s> … </s> for RoBERTa, nothing for GPT-2.
func (t *Tokenizer) EncodeWithSpecial(text string) []int {
	ids := t.Encode(text)
	if t.template == TemplateRoBERTa {
		out := make([]int, 0, len(ids)+2)
		out = append(out, t.bos)
		out = append(out, ids...)
		return append(out, t.eos)
	}
	return ids
}

// EncodePair encodes a sentence pair with the model's template:
// <s> A </s></s> B </s> for RoBERTa, A B concatenated for GPT-2.
func (t *Tokenizer) EncodePair(a, b string) []int {
	ia, ib := t.Encode(a), t.Encode(b)
	out := make([]int, 0, len(ia)+len(ib)+4)
	if t.template == TemplateRoBERTa {
		out = append(out, t.bos)
		out = append(out, ia...)
		out = append(out, t.eos, t.eos)
		out = append(out, ib...)
		return append(out, t.eos)
	}
	out = append(out, ia...)
	return append(out, ib...)
}

func (t *Tokenizer) encode(dst []int, text string, special bool) []int {
	if !special || len(t.added) == 0 {
		return t.encodeSegment(dst, text)
	}
	for len(text) > 0 {
		start, end, tok, ok := t.findAdded(text)
		if !ok {
			return t.encodeSegment(dst, text)
		}
		dst = t.encodeSegment(dst, text[:start])
		dst = append(dst, tok.ID)
		text = text[end:]
	}
	return dst
}

// findAdded finds the leftmost (then longest) added token in s and returns
// the byte range it consumes including stripped whitespace.
func (t *Tokenizer) findAdded(s string) (start, end int, tok AddedToken, ok bool) {
	best := -1
	for _, a := range t.added {
		if a.Content == "" {
			continue
		}
		i := strings.Index(s, a.Content)
		if i < 0 {
			continue
		}
		// t.added is sorted longest first, so on equal positions the
		// first found is the longest.
		if best < 0 || i < best {
			best, tok = i, a
		}
	}
	if best < 0 {
		return 0, 0, tok, false
	}
	start, end = best, best+len(tok.Content)
	if tok.LStrip {
		for start > 0 {
			c, size := lastClass(s[:start])
			if c != classSpace {
				break
			}
			start -= size
		}
	}
	if tok.RStrip {
		for end < len(s) {
			c, size := classAt(s, end)
			if c != classSpace {
				break
			}
			end += size
		}
	}
	return start, end, tok, true
}

// lastClass is classAt for the last character of s.
func lastClass(s string) (runeClass, int) {
	r, size := utf8.DecodeLastRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return classOther, 1
	}
	return classifyRune(r), size
}

func (t *Tokenizer) encodeSegment(dst []int, s string) []int {
	if s == "" {
		return dst
	}
	if t.addPrefixSpace && s[0] != ' ' {
		s = " " + s
	}
	splitPieces(s, func(i, j int) {
		dst = t.encodePiece(dst, s[i:j])
	})
	return dst
}

func (t *Tokenizer) encodePiece(dst []int, piece string) []int {
	if len(piece) == 1 {
		return append(dst, int(t.byteID[piece[0]]))
	}
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return append(dst, ids...)
	}
	n := len(dst)
	dst = t.bpe(dst, piece)
	ids = append([]int(nil), dst[n:]...)
	t.mu.Lock()
	if len(t.cache) >= maxCache {
		clear(t.cache)
	}
	t.cache[strings.Clone(piece)] = ids
	t.mu.Unlock()
	return dst
}

// DecodeBytes returns the bytes that ids stand for; added tokens give their
// content. An id outside the vocabulary is an error.
func (t *Tokenizer) DecodeBytes(ids []int) ([]byte, error) {
	return t.decode(ids, false)
}

// Decode is DecodeBytes as a string (the exact bytes, which may be invalid
// UTF-8 when a multi-byte character is cut between tokens).
func (t *Tokenizer) Decode(ids []int) (string, error) {
	b, err := t.decode(ids, false)
	return string(b), err
}

// DecodeSkipSpecial is Decode without the special added tokens
// (Hugging Face's skip_special_tokens=True).
func (t *Tokenizer) DecodeSkipSpecial(ids []int) (string, error) {
	b, err := t.decode(ids, true)
	return string(b), err
}

func (t *Tokenizer) decode(ids []int, skipSpecial bool) ([]byte, error) {
	var out []byte
	for i, id := range ids {
		if a, ok := t.addedIDs[id]; ok {
			if skipSpecial && a.Special {
				continue
			}
			out = append(out, a.Content...)
			continue
		}
		if id < 0 || id >= len(t.idBytes) || t.idBytes[id] == nil {
			return out, fmt.Errorf("tokenizer %s: token id %d at position %d is outside the vocabulary (0..%d)", t.name, id, i, len(t.idToToken)-1)
		}
		out = append(out, t.idBytes[id]...)
	}
	return out, nil
}

// build finishes a Tokenizer from a vocabulary, ordered merge pairs and
// added tokens. It checks that every byte has a token and every merge's
// parts and result are in the vocabulary.
func build(name string, vocab map[string]int, merges [][2]string, added []AddedToken) (*Tokenizer, error) {
	t := &Tokenizer{
		name: name, vocab: vocab, merges: make(map[uint64]merge, len(merges)),
		addedIDs: map[int]AddedToken{}, cache: map[string][]int{},
		bos: -1, eos: -1, pad: -1, unk: -1, mask: -1,
	}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer %s: vocabulary entry %q has negative id %d", name, tok, id)
		}
		if id > maxID {
			maxID = id
		}
	}
	for _, a := range added {
		if a.ID < 0 {
			return nil, fmt.Errorf("tokenizer %s: added token %q has negative id %d", name, a.Content, a.ID)
		}
		if a.ID > maxID {
			maxID = a.ID
		}
	}
	if maxID > 1<<24 {
		return nil, fmt.Errorf("tokenizer %s: largest token id %d is implausibly large", name, maxID)
	}
	t.idToToken = make([]string, maxID+1)
	t.idBytes = make([][]byte, maxID+1)
	addedByContent := map[string]bool{}
	for _, a := range added {
		addedByContent[a.Content] = true
	}
	for tok, id := range vocab {
		if t.idToToken[id] != "" {
			return nil, fmt.Errorf("tokenizer %s: id %d is used by both %q and %q", name, id, t.idToToken[id], tok)
		}
		t.idToToken[id] = tok
		if addedByContent[tok] {
			continue
		}
		if b, ok := tokenToBytes(tok); ok {
			t.idBytes[id] = b
		}
	}
	for b := 0; b < 256; b++ {
		id, ok := vocab[string(byteToRune[b])]
		if !ok {
			return nil, fmt.Errorf("tokenizer %s: vocabulary has no token for byte 0x%02x (%q)", name, b, string(byteToRune[b]))
		}
		t.byteID[b] = int32(id)
	}
	for rank, m := range merges {
		a, okA := vocab[m[0]]
		b, okB := vocab[m[1]]
		r, okR := vocab[m[0]+m[1]]
		if !okA || !okB || !okR {
			return nil, fmt.Errorf("tokenizer %s: merge %d (%q %q) uses a token missing from the vocabulary", name, rank+1, m[0], m[1])
		}
		k := pairKey(int32(a), int32(b))
		if _, dup := t.merges[k]; !dup { // the first (lowest-rank) rule wins
			t.merges[k] = merge{rank: int32(rank), result: int32(r)}
		}
	}
	t.added = append([]AddedToken(nil), added...)
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].Content) > len(t.added[j].Content) })
	for _, a := range t.added {
		t.addedIDs[a.ID] = a
		if a.ID < len(t.idToToken) && t.idToToken[a.ID] == "" {
			t.idToToken[a.ID] = a.Content
		}
	}
	// Special-token roles by their conventional spellings.
	id := func(s string) int {
		for _, a := range added {
			if a.Content == s {
				return a.ID
			}
		}
		return -1
	}
	if e := id("<|endoftext|>"); e >= 0 {
		t.bos, t.eos, t.unk = e, e, e
	}
	if s, e := id("<s>"), id("</s>"); s >= 0 && e >= 0 {
		t.bos, t.eos = s, e
		t.template = TemplateRoBERTa
	}
	if p := id("<pad>"); p >= 0 {
		t.pad = p
	}
	if u := id("<unk>"); u >= 0 {
		t.unk = u
	}
	if m := id("<mask>"); m >= 0 {
		t.mask = m
	}
	return t, nil
}
