package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The GPT-2 pre-tokenisation regex, used unchanged by Hugging Face's
// ByteLevel pre-tokenizer (GPT-2 and RoBERTa) and by tiktoken's r50k_base:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so splitPieces implements the same
// leftmost-first semantics by hand. \s is Unicode White_Space (what Python's
// regex module and Oniguruma use, and what unicode.IsSpace reports), \p{L}
// is unicode.IsLetter and \p{N} is unicode.IsNumber. A byte that is not
// valid UTF-8 is treated as one character of the "other" class, so that any
// byte string can be encoded and decoded back unchanged.

type runeClass uint8

const (
	classOther runeClass = iota
	classLetter
	classNumber
	classSpace
)

// asciiClass is a lookup table for the ASCII range.
var asciiClass [128]runeClass

func init() {
	for c := 0; c < 128; c++ {
		asciiClass[c] = classifyRune(rune(c))
	}
}

func classifyRune(r rune) runeClass {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// classAt returns the class of the character starting at s[i] and its size
// in bytes. Invalid UTF-8 bytes are one-byte "other" characters.
func classAt(s string, i int) (runeClass, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return classOther, 1
	}
	return classifyRune(r), size
}

// runEnd returns the end of the run of characters of class cl starting at i.
func runEnd(s string, i int, cl runeClass) int {
	for i < len(s) {
		c, size := classAt(s, i)
		if c != cl {
			break
		}
		i += size
	}
	return i
}

// contractionLen returns the length of a contraction ('s 't 're 've 'm 'll
// 'd, case-sensitive as in the regex) starting at the apostrophe s[i], or 0.
func contractionLen(s string, i int) int {
	rest := s[i+1:]
	if len(rest) >= 2 {
		switch rest[:2] {
		case "re", "ve", "ll":
			// 's and 't are tried first by the regex but cannot
			// conflict with these two-letter forms.
			return 3
		}
	}
	if len(rest) >= 1 {
		switch rest[0] {
		case 's', 't', 'm', 'd':
			return 2
		}
	}
	return 0
}

// splitPieces calls emit with the byte range of each pre-token of s, in
// order; the ranges tile s exactly.
func splitPieces(s string, emit func(start, end int)) {
	i := 0
	for i < len(s) {
		start := i
		if s[i] == '\'' {
			if n := contractionLen(s, i); n > 0 {
				emit(start, i+n)
				i += n
				continue
			}
		}
		c0, size0 := classAt(s, i)
		if s[i] == ' ' && i+1 < len(s) {
			c1, _ := classAt(s, i+1)
			if c1 != classSpace {
				end := runEnd(s, i+1, c1)
				emit(start, end)
				i = end
				continue
			}
		}
		if c0 != classSpace {
			end := runEnd(s, i+size0, c0)
			emit(start, end)
			i = end
			continue
		}
		// A whitespace run: \s+(?!\S) takes all of it at the end of the
		// text, otherwise all but its last character (which then starts the
		// next piece, e.g. as the optional space of " ?\p{L}+"); a run of one
		// character followed by a non-space falls through to \s+.
		end := i
		last := i
		for end < len(s) {
			c, size := classAt(s, end)
			if c != classSpace {
				break
			}
			last = end
			end += size
		}
		if end < len(s) && last > start {
			end = last
		}
		emit(start, end)
		i = end
	}
}
