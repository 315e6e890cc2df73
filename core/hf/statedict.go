// Package hf reads Hugging Face checkpoint directories: config.json and the
// weights in model.safetensors (fp32, fp16 or bf16).
package hf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hutml/hut/core/safetensors"
)

// Tensor is a float32 tensor read from a checkpoint.
type Tensor struct {
	Shape []int
	Data  []float32
	DType string // dtype as stored in the file
	File  string // the file it came from, for error messages
}

// StateDict maps Hugging Face parameter names to tensors.
type StateDict map[string]*Tensor

// Names returns the sorted tensor names.
func (sd StateDict) Names() []string {
	out := make([]string, 0, len(sd))
	for k := range sd {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrNoWeights says a directory has no weight file this package can read.
var ErrNoWeights = errors.New("no model.safetensors in the checkpoint directory")

// LoadDir reads the weights of a checkpoint directory.
func LoadDir(dir string) (StateDict, error) {
	p := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, ErrNoWeights)
	}
	return LoadSafetensors(p)
}

// LoadSafetensors reads every floating-point tensor of one file.
func LoadSafetensors(path string) (StateDict, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return fromFile(f, path)
}

func fromFile(f *safetensors.File, path string) (StateDict, error) {
	sd := StateDict{}
	for _, n := range f.Names() {
		info := f.Info(n)
		data, shape, err := f.Float32(n)
		if errors.Is(err, safetensors.ErrNotFloat) {
			continue // e.g. attn.bias masks or position_ids buffers
		}
		if err != nil {
			return nil, err
		}
		sd[n] = &Tensor{Shape: shape, Data: data, DType: info.DType, File: path}
	}
	return sd, nil
}
