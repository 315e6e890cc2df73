package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

//go:embed assets/gpt2-vocab.json.gz assets/gpt2-merges.txt.gz assets/roberta-vocab.json.gz
var assets embed.FS

// BuiltinNames lists the names Builtin accepts.
var BuiltinNames = []string{"gpt2", "roberta"}

var (
	builtinOnce sync.Map // name -> *builtinEntry
)

type builtinEntry struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// Builtin returns the embedded GPT-2 ("gpt2", also used by distilgpt2 and
// gpt2-medium/large/xl) or RoBERTa ("roberta", roberta-base/large,
// distilroberta) tokenizer. The result is shared and safe for concurrent use.
func Builtin(name string) (*Tokenizer, error) {
	switch name {
	case "gpt2", "roberta":
	default:
		return nil, fmt.Errorf("tokenizer: unknown built-in tokenizer %q (want one of %s)", name, strings.Join(BuiltinNames, ", "))
	}
	v, _ := builtinOnce.LoadOrStore(name, &builtinEntry{})
	e := v.(*builtinEntry)
	e.once.Do(func() { e.tok, e.err = loadBuiltin(name) })
	return e.tok, e.err
}

func loadBuiltin(name string) (*Tokenizer, error) {
	vocabFile := "assets/gpt2-vocab.json.gz"
	if name == "roberta" {
		vocabFile = "assets/roberta-vocab.json.gz"
	}
	vr, err := openGzipAsset(vocabFile)
	if err != nil {
		return nil, err
	}
	mr, err := openGzipAsset("assets/gpt2-merges.txt.gz")
	if err != nil {
		return nil, err
	}
	return FromVocabMerges(name, vr, mr)
}

func openGzipAsset(path string) (io.Reader, error) {
	raw, err := assets.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: embedded %s: %w", path, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: embedded %s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: embedded %s: %w", path, err)
	}
	return bytes.NewReader(b), nil
}

// New returns Builtin(spec) for "gpt2" or "roberta" and otherwise loads
// spec as a directory or a tokenizer.json file (see Load).
func New(spec string) (*Tokenizer, error) {
	for _, n := range BuiltinNames {
		if spec == n {
			return Builtin(spec)
		}
	}
	return Load(spec)
}

// Load reads a tokenizer from path, which is either a tokenizer.json file or
// a directory holding tokenizer.json, vocab.json + merges.txt, or
// encoder.json + vocab.bpe (tried in that order). In a directory without
// tokenizer.json, an optional tokenizer_config.json supplies
// add_prefix_space; added tokens are inferred from the vocabulary:
// <|endoftext|> (GPT-2), <s> <pad> </s> <unk> and <mask> with lstrip
// (RoBERTa).
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !st.IsDir() {
		return loadTokenizerJSONFile(path)
	}
	if p := filepath.Join(path, "tokenizer.json"); fileExists(p) {
		return loadTokenizerJSONFile(p)
	}
	pairs := [][2]string{{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}}
	for _, pr := range pairs {
		vp, mp := filepath.Join(path, pr[0]), filepath.Join(path, pr[1])
		if !fileExists(vp) || !fileExists(mp) {
			continue
		}
		vf, err := os.Open(vp)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		defer vf.Close()
		mf, err := os.Open(mp)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		defer mf.Close()
		t, err := fromVocabMerges(path, vf, vp, mf, mp)
		if err != nil {
			return nil, err
		}
		if cp := filepath.Join(path, "tokenizer_config.json"); fileExists(cp) {
			b, err := os.ReadFile(cp)
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %w", err)
			}
			var cfg struct {
				AddPrefixSpace *bool `json:"add_prefix_space"`
			}
			if err := json.Unmarshal(b, &cfg); err != nil {
				return nil, fmt.Errorf("tokenizer: %s: %w", cp, err)
			}
			if cfg.AddPrefixSpace != nil {
				t.addPrefixSpace = *cfg.AddPrefixSpace
			}
		}
		return t, nil
	}
	return nil, fmt.Errorf("tokenizer: directory %s has none of tokenizer.json, vocab.json+merges.txt, encoder.json+vocab.bpe", path)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// FromVocabMerges builds a tokenizer from the contents of vocab.json and
// merges.txt. Added tokens are inferred as described for Load.
func FromVocabMerges(name string, vocabJSON, merges io.Reader) (*Tokenizer, error) {
	return fromVocabMerges(name, vocabJSON, "vocab.json", merges, "merges.txt")
}

func fromVocabMerges(name string, vr io.Reader, vname string, mr io.Reader, mname string) (*Tokenizer, error) {
	vocab, err := readVocab(vr, vname)
	if err != nil {
		return nil, err
	}
	merges, err := readMerges(mr, mname)
	if err != nil {
		return nil, err
	}
	var added []AddedToken
	specials := []string{"<|endoftext|>"}
	_, hasBOS := vocab["<s>"]
	_, hasEOS := vocab["</s>"]
	if hasBOS && hasEOS {
		// RoBERTa: <|endoftext|> is an ordinary (BPE-split) string there.
		specials = []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
	}
	for _, s := range specials {
		if id, ok := vocab[s]; ok {
			added = append(added, AddedToken{Content: s, ID: id, Special: true, LStrip: s == "<mask>"})
		}
	}
	return build(name, vocab, merges, added)
}

func readVocab(r io.Reader, name string) (map[string]int, error) {
	dec := json.NewDecoder(r)
	var vocab map[string]int
	if err := dec.Decode(&vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: want a JSON object of token -> id: %w", name, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: empty vocabulary", name)
	}
	return vocab, nil
}

// readMerges parses merges.txt: an optional "#version" first line, then one
// "left right" pair per line in priority order.
func readMerges(r io.Reader, name string) ([][2]string, error) {
	var out [][2]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if line == 1 && strings.HasPrefix(s, "#version") {
			continue
		}
		if s == "" {
			continue
		}
		parts := strings.Split(s, " ")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("tokenizer: %s:%d: want two tokens separated by one space, got %q", name, line, s)
		}
		out = append(out, [2]string{parts[0], parts[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s:%d: %w", name, line+1, err)
	}
	return out, nil
}

func loadTokenizerJSONFile(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := FromTokenizerJSON(path, f)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// tokenizerJSON is the part of Hugging Face's tokenizer.json that a
// byte-level BPE uses.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		LStrip  bool   `json:"lstrip"`
		RStrip  bool   `json:"rstrip"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  *componentJSON  `json:"pre_tokenizer"`
	PostProcessor *componentJSON  `json:"post_processor"`
	Model         struct {
		Type                    string          `json:"type"`
		Vocab                   map[string]int  `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		Dropout                 *float64        `json:"dropout"`
	} `json:"model"`
}

type componentJSON struct {
	Type           string `json:"type"`
	AddPrefixSpace *bool  `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// FromTokenizerJSON builds a tokenizer from a Hugging Face tokenizer.json
// whose model is a byte-level BPE (GPT-2, RoBERTa and their relatives).
// name is used in error messages.
func FromTokenizerJSON(name string, r io.Reader) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.NewDecoder(r).Decode(&tj); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: not a tokenizer.json: %w", name, err)
	}
	m := tj.Model
	if m.Type != "" && m.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: %s: model type %q is not supported (want BPE)", name, m.Type)
	}
	if (m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "") || (m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "") {
		return nil, fmt.Errorf("tokenizer: %s: continuing_subword_prefix/end_of_word_suffix are not supported", name)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("tokenizer: %s: BPE dropout is not supported", name)
	}
	if len(tj.Normalizer) > 0 && string(tj.Normalizer) != "null" {
		return nil, fmt.Errorf("tokenizer: %s: a normalizer is not supported (byte-level BPE has none)", name)
	}
	if tj.PreTokenizer == nil || tj.PreTokenizer.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer: %s: pre_tokenizer must be ByteLevel", name)
	}
	if tj.PreTokenizer.UseRegex != nil && !*tj.PreTokenizer.UseRegex {
		return nil, fmt.Errorf("tokenizer: %s: ByteLevel with use_regex=false is not supported", name)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: model.vocab is empty", name)
	}
	merges, err := parseJSONMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: model.merges: %w", name, err)
	}
	var added []AddedToken
	for _, a := range tj.AddedTokens {
		added = append(added, AddedToken{Content: a.Content, ID: a.ID, LStrip: a.LStrip, RStrip: a.RStrip, Special: a.Special})
	}
	t, err := build(name, m.Vocab, merges, added)
	if err != nil {
		return nil, err
	}
	if tj.PreTokenizer.AddPrefixSpace != nil {
		t.addPrefixSpace = *tj.PreTokenizer.AddPrefixSpace
	}
	t.template = TemplateNone
	if pp := tj.PostProcessor; pp != nil && (pp.Type == "RobertaProcessing" || pp.Type == "BertProcessing") {
		if t.bos < 0 || t.eos < 0 {
			return nil, fmt.Errorf("tokenizer: %s: %s post-processor but no <s>/</s> tokens", name, pp.Type)
		}
		t.template = TemplateRoBERTa
	}
	return t, nil
}

// parseJSONMerges accepts both spellings of tokenizer.json merges:
// ["a b", ...] and [["a", "b"], ...].
func parseJSONMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var asStrings []string
	if err := json.Unmarshal(raw, &asStrings); err == nil {
		out := make([][2]string, len(asStrings))
		for i, s := range asStrings {
			parts := strings.Split(s, " ")
			if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
				return nil, fmt.Errorf("entry %d: want \"left right\", got %q", i, s)
			}
			out[i] = [2]string{parts[0], parts[1]}
		}
		return out, nil
	}
	var asPairs [][]string
	if err := json.Unmarshal(raw, &asPairs); err != nil {
		return nil, errors.New("want a list of \"a b\" strings or of [a, b] pairs")
	}
	out := make([][2]string, len(asPairs))
	for i, p := range asPairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("entry %d: want a pair, got %d items", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}
