package metrics

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cocoPunctuation is the list of tokens that pycocoevalcap's PTBTokenizer
// wrapper drops after tokenising.
var cocoPunctuation = map[string]bool{
	"''": true, "'": true, "``": true, "`": true, "-LRB-": true, "-RRB-": true, "-LCB-": true, "-RCB-": true,
	".": true, "?": true, "!": true, ",": true, ":": true, "-": true, "--": true, "...": true, ";": true,
}

// ptbAbbrev are lowercase words whose final period PTB keeps.
var ptbAbbrev = map[string]bool{
	"mr.": true, "mrs.": true, "ms.": true, "dr.": true, "st.": true, "jr.": true, "sr.": true, "prof.": true,
	"vs.": true, "etc.": true, "e.g.": true, "i.e.": true, "a.m.": true, "p.m.": true, "u.s.": true,
	"u.k.": true, "no.": true, "co.": true, "inc.": true, "ltd.": true, "mt.": true, "ave.": true, "rd.": true,
}

// CocoTokenize approximates what pycocoevalcap does to every caption before
// METEOR, ROUGE-L and CIDEr: Stanford CoreNLP 3.4.1's PTBTokenizer with
// -preserveLines -lowerCase, then removal of the punctuation tokens
// ” ' “ ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ; (the bracket
// escapes are lowercased by CoreNLP before that filter, so they stay).
//
// The Java tokenizer is not available here, so this is a rule-based
// re-implementation of the PTB conventions that matter for English text:
// lowercasing; splitting on whitespace; splitting off leading and trailing
// punctuation and brackets (brackets become -lrb- -rrb- -lsb- -rsb- -lcb-
// -rcb-, double quotes become “ and ”); splitting the clitics n't 's 're
// 've 'll 'd 'm (so "isn't" -> "is n't", "it's" -> "it 's"; "cannot" ->
// "can not"); splitting currency symbols ($ £ € ¥ #) and "%" from numbers;
// keeping a word-final period only for a short list of abbreviations
// (mr. dr. st. e.g. ...); keeping hyphenated words, decimals and thousands
// separators ("family-friendly", "20-25", "3.5", "1,000") as single tokens.
// Differences from CoreNLP remain possible on unusual text (URLs, emoticons,
// British-to-American respelling, which CoreNLP 3.4.1 does not apply by
// default on the command line either way for these corpora).
func CocoTokenize(s string) []string {
	var out []string
	for _, chunk := range strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace) {
		for _, t := range ptbSplitChunk(chunk) {
			if !cocoPunctuation[t] {
				out = append(out, t)
			}
		}
	}
	return out
}

// ptbBrackets are PTB's bracket escapes, lowercased: CoreNLP's -lowerCase
// applies to the escaped token, so pycocoevalcap's list (written "-LRB-")
// does not remove them. (No E2E reference contains a bracket.)
var ptbBrackets = map[rune]string{'(': "-lrb-", ')': "-rrb-", '[': "-lsb-", ']': "-rsb-", '{': "-lcb-", '}': "-rcb-"}

func isPTBLeadPunct(r rune) bool {
	switch r {
	case '"', '\'', '`', '(', '[', '{', '<', '¿', '¡', '“', '‘', '«':
		return true
	}
	return false
}

func isPTBTrailPunct(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '>', ',', ';', ':', '!', '?', '”', '’', '»':
		return true
	}
	return false
}

func isCurrency(r rune) bool {
	switch r {
	case '$', '£', '€', '¥', '#':
		return true
	}
	return false
}

// ptbQuote maps a quote character to its PTB token given its position.
func ptbQuote(r rune, opening bool) string {
	switch r {
	case '"', '“', '”':
		if opening {
			return "``"
		}
		return "''"
	case '\'', '‘', '’':
		if opening {
			return "`"
		}
		return "'"
	}
	if b, ok := ptbBrackets[r]; ok {
		return b
	}
	return string(r)
}

// ptbSplitChunk splits one whitespace-free, lowercased chunk.
func ptbSplitChunk(w string) []string {
	var lead, trail []string
	// Leading punctuation.
	for w != "" {
		r, size := utf8.DecodeRuneInString(w)
		if isPTBLeadPunct(r) {
			lead = append(lead, ptbQuote(r, true))
			w = w[size:]
			continue
		}
		if isCurrency(r) && size < len(w) {
			lead = append(lead, string(r))
			w = w[size:]
			continue
		}
		break
	}
	// Trailing punctuation, ellipses, dashes and periods.
	for w != "" {
		if strings.HasSuffix(w, "...") {
			trail = append(trail, "...")
			w = w[:len(w)-3]
			continue
		}
		if strings.HasSuffix(w, "--") {
			trail = append(trail, "--")
			w = w[:len(w)-2]
			continue
		}
		r, size := utf8.DecodeLastRuneInString(w)
		if isPTBTrailPunct(r) {
			trail = append(trail, ptbQuote(r, false))
			w = w[:len(w)-size]
			continue
		}
		if r == '%' && len(w) > 1 {
			trail = append(trail, "%")
			w = w[:len(w)-size]
			continue
		}
		if r == '.' {
			if ptbAbbrev[w] || (len(w) > 1 && isInitials(w)) {
				break
			}
			trail = append(trail, ".")
			w = w[:len(w)-1]
			continue
		}
		if r == '-' && len(w) > 1 {
			trail = append(trail, "-")
			w = w[:len(w)-1]
			continue
		}
		break
	}
	var mid []string
	if w != "" {
		mid = ptbClitics(w)
	}
	out := append(lead, mid...)
	for i := len(trail) - 1; i >= 0; i-- {
		out = append(out, trail[i])
	}
	return out
}

// isInitials reports whether w looks like "a.b." (letters each followed by
// a period), which PTB keeps together.
func isInitials(w string) bool {
	rs := []rune(w)
	if len(rs)%2 != 0 {
		return false
	}
	for i := 0; i < len(rs); i += 2 {
		if !unicode.IsLetter(rs[i]) || rs[i+1] != '.' {
			return false
		}
	}
	return len(rs) >= 4
}

// ptbClitics splits the English clitics off the end of a word.
func ptbClitics(w string) []string {
	w = strings.ReplaceAll(w, "’", "'")
	switch w {
	case "cannot":
		return []string{"can", "not"}
	case "gonna", "gotta", "wanna":
		return []string{w[:3], w[3:]}
	}
	if strings.HasSuffix(w, "n't") && len(w) > 3 {
		return []string{w[:len(w)-3], "n't"}
	}
	for _, c := range []string{"'s", "'re", "'ve", "'ll", "'d", "'m"} {
		if strings.HasSuffix(w, c) && len(w) > len(c) {
			return []string{w[:len(w)-len(c)], c}
		}
	}
	return []string{w}
}
