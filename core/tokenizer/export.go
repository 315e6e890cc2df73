package tokenizer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFiles writes the files of a built-in tokenizer into a model
// directory in Hugging Face's layout: vocab.json, merges.txt,
// tokenizer_config.json and special_tokens_map.json, so that the directory
// loads with this package, with transformers' AutoTokenizer, and in the
// browser demo.
func WriteFiles(name, dir string) error {
	vocab := "assets/gpt2-vocab.json.gz"
	var cfg, special map[string]any
	switch name {
	case "gpt2":
		special = map[string]any{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
		cfg = map[string]any{"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": false}
	case "roberta":
		vocab = "assets/roberta-vocab.json.gz"
		special = map[string]any{"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
			"unk_token": "<unk>", "pad_token": "<pad>", "mask_token": map[string]any{"content": "<mask>", "lstrip": true, "rstrip": false, "normalized": false, "single_word": false}}
		cfg = map[string]any{"tokenizer_class": "RobertaTokenizer", "model_max_length": 512, "add_prefix_space": false, "trim_offsets": true}
	default:
		return fmt.Errorf("tokenizer: unknown built-in tokenizer %q", name)
	}
	for k, v := range special {
		cfg[k] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct{ asset, out string }{{vocab, "vocab.json"}, {"assets/gpt2-merges.txt.gz", "merges.txt"}} {
		r, err := openGzipAsset(f.asset)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.out), b, 0o644); err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
	}
	for _, f := range []struct {
		v   any
		out string
	}{{cfg, "tokenizer_config.json"}, {special, "special_tokens_map.json"}} {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.out), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
	}
	return nil
}
