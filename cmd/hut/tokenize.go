package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/hutml/hut/core/tokenizer"
)

// tokenizeStdin is where `hut tokenize` reads text given no argument.
var tokenizeStdin io.Reader = os.Stdin

func init() {
	register("tokenize", "print the token ids of a text (GPT-2 / RoBERTa byte-level BPE)", runTokenize)
}

// runTokenize implements `hut tokenize --tokenizer gpt2|roberta|DIR "text"`.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", `[--tokenizer gpt2|roberta|DIR] [flags] "text"  (text from stdin when omitted)`, stderr)
	spec := fs.String("tokenizer", "gpt2", `"gpt2", "roberta", a directory (tokenizer.json, vocab.json+merges.txt or encoder.json+vocab.bpe) or a tokenizer.json file`)
	noSpecial := fs.Bool("no-special", false, "do not add the model's special tokens (RoBERTa's <s> ... </s>); Hugging Face's add_special_tokens=False")
	ordinary := fs.Bool("ordinary", false, "treat special-token strings such as <|endoftext|> in the text as plain text")
	prefix := fs.Bool("add-prefix-space", false, "put a space before the text (Hugging Face's add_prefix_space=True)")
	decodeIDs := fs.Bool("decode", false, `the argument is a list of ids ("464 3290" or "[464, 3290]"); print {"text": ...}`)
	if err := parseFlags(fs, interspersed(fs, args)); err != nil {
		return err
	}
	tok, err := tokenizer.New(*spec)
	if err != nil {
		return usagef("--tokenizer %s: %v", *spec, err)
	}
	if *prefix {
		tok = tok.WithAddPrefixSpace(true)
	}
	var text string
	if fs.NArg() > 0 {
		text = strings.Join(fs.Args(), " ")
	} else {
		b, err := io.ReadAll(tokenizeStdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		text = string(b)
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if *decodeIDs {
		ids, err := parseIDList(text)
		if err != nil {
			return usagef("--decode: %v", err)
		}
		s, err := tok.Decode(ids)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]string{"text": s})
	}
	var ids []int
	switch {
	case *ordinary:
		ids = tok.EncodeOrdinary(text)
	case *noSpecial:
		ids = tok.Encode(text)
	default:
		ids = tok.EncodeWithSpecial(text)
	}
	if *ordinary && !*noSpecial && tok.BOS() >= 0 && tok.Mask() >= 0 {
		ids = append(append([]int{tok.BOS()}, ids...), tok.EOS())
	}
	if ids == nil {
		ids = []int{}
	}
	return enc.Encode(map[string][]int{"ids": ids})
}

// parseIDList parses "1 2 3", "1,2,3" or "[1, 2, 3]".
func parseIDList(s string) ([]int, error) {
	f := strings.FieldsFunc(strings.Trim(strings.TrimSpace(s), "[]"), func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	ids := make([]int, 0, len(f))
	for i, x := range f {
		v, err := strconv.Atoi(x)
		if err != nil {
			return nil, fmt.Errorf("id %d (%q) is not an integer", i+1, x)
		}
		ids = append(ids, v)
	}
	return ids, nil
}
