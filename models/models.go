// Package models carries the tiny pretrained checkpoints in the hut binary,
// so that the CLI's default jobs and `hut serve` work from any directory.
// Each model is a Hugging Face checkpoint directory (config.json,
// model.safetensors, tokenizer files, README.md model card); the recipes
// that produced them are in recipes/.
package models

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed tiny-gpt2/config.json tiny-gpt2/model.safetensors tiny-gpt2/vocab.json tiny-gpt2/merges.txt tiny-gpt2/tokenizer_config.json tiny-gpt2/special_tokens_map.json tiny-gpt2/README.md
//go:embed tiny-roberta/config.json tiny-roberta/model.safetensors tiny-roberta/vocab.json tiny-roberta/merges.txt tiny-roberta/tokenizer_config.json tiny-roberta/special_tokens_map.json tiny-roberta/README.md
var files embed.FS

// FS returns the embedded model directories.
func FS() fs.FS { return files }

// Names lists the embedded models.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
