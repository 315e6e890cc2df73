// Package hf reads Hugging Face checkpoint directories: config.json and the
// weights, from model.safetensors, a sharded set of safetensors files
// described by model.safetensors.index.json, or a PyTorch
// pytorch_model.bin (zip or legacy torch.save format, optionally sharded).
// Floating-point tensors (fp32, fp16, bf16, fp64) are returned as float32;
// integer and boolean buffers (position_ids, attention masks) are skipped.
//
// pytorch_model.bin files are pickles. They are read by a minimal
// unpickler that knows only the handful of opcodes and globals torch.save
// uses for a tensor state dict and never imports or calls anything; any
// other content is rejected with ErrUnsupportedPickle.
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
var ErrNoWeights = errors.New("no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json in the checkpoint directory")

// Weight file names, in the order LoadDir looks for them.
const (
	SafetensorsName      = "model.safetensors"
	SafetensorsIndexName = "model.safetensors.index.json"
	TorchName            = "pytorch_model.bin"
	TorchIndexName       = "pytorch_model.bin.index.json"
)

// WeightsFile returns the weight file of a checkpoint directory that LoadDir
// reads: model.safetensors, model.safetensors.index.json, pytorch_model.bin
// or pytorch_model.bin.index.json, the first that exists. Safetensors is
// preferred because reading it runs no pickle at all.
func WeightsFile(dir string) (string, error) {
	for _, n := range []string{SafetensorsName, SafetensorsIndexName, TorchName, TorchIndexName} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if st, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("load %s: %w", dir, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("load %s: not a directory", dir)
	}
	return "", fmt.Errorf("load %s: %w", dir, ErrNoWeights)
}

// LoadDir reads the weights of a Hugging Face checkpoint directory (see
// WeightsFile for which file is used): a single safetensors file, a sharded
// set described by an index, or a PyTorch pytorch_model.bin.
func LoadDir(dir string) (StateDict, error) {
	p, err := WeightsFile(dir)
	if err != nil {
		return nil, err
	}
	switch filepath.Base(p) {
	case SafetensorsIndexName, TorchIndexName:
		return LoadSharded(p)
	case TorchName:
		return LoadTorch(p)
	}
	return LoadSafetensors(p)
}

// LoadSafetensors reads every floating-point tensor of one file.
func LoadSafetensors(path string) (StateDict, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		if b, rerr := os.ReadFile(path); rerr == nil && isLFSPointer(b) {
			return nil, fmt.Errorf("%s: %w", path, errLFSPointer)
		}
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
