package tokenizer

// byteToRune is GPT-2's bytes_to_unicode table: every byte maps to one
// printable rune so that BPE tokens are valid strings. Printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the other 68
// bytes map, in increasing byte order, to U+0100, U+0101, ...
var byteToRune [256]rune

// runeToByte inverts byteToRune; runes outside the table map to -1.
var runeToByte = map[rune]int{}

func init() {
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
	}
	for b, r := range byteToRune {
		runeToByte[r] = b
	}
}

// bytesToToken renders raw bytes in the byte-level alphabet (the form used
// as keys of vocab.json and in merges.txt).
func bytesToToken(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = byteToRune[c]
	}
	return string(rs)
}

// tokenToBytes maps a byte-level token string back to raw bytes. ok is false
// when the string holds a rune outside the byte-level alphabet.
func tokenToBytes(s string) (b []byte, ok bool) {
	b = make([]byte, 0, len(s))
	for _, r := range s {
		v, found := runeToByte[r]
		if !found {
			return nil, false
		}
		b = append(b, byte(v))
	}
	return b, true
}
