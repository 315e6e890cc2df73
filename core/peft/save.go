package peft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/atomicfile"
)

// File names of a PEFT adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
	KeyPrefix   = "base_model.model."
)

// Meta is what adapter_config.json says besides the method's own
// hyper-parameters.
type Meta struct {
	BaseModel     string   // base_model_name_or_path
	FanInFanOut   bool     // true for GPT-2's Conv1D layers
	TaskType      string   // "CAUSAL_LM", "SEQ_CLS"
	ModulesToSave []string // e.g. ["classifier"] for RoBERTa heads
}

// configJSON builds adapter_config.json with the field names each method's
// PEFT config class accepts (so LoRA and HiRA files load in PEFT as they are).
func configJSON(cfg *Config, meta Meta) (map[string]any, error) {
	m, err := Lookup(cfg.Method)
	if err != nil {
		return nil, err
	}
	var targets any = cfg.Targets
	if len(cfg.Targets) == 1 && cfg.Targets[0] == "all-linear" {
		targets = "all-linear"
	}
	var mts any
	if len(meta.ModulesToSave) > 0 {
		mts = meta.ModulesToSave
	}
	out := map[string]any{
		"peft_type":               m.PEFTType(),
		"r":                       cfg.R,
		"target_modules":          targets,
		"fan_in_fan_out":          meta.FanInFanOut,
		"base_model_name_or_path": meta.BaseModel,
		"modules_to_save":         mts,
		"task_type":               nilIfEmpty(meta.TaskType),
		"inference_mode":          true,
	}
	switch m.PEFTType() {
	case "LORA":
		out["lora_alpha"] = cfg.Alpha
		out["lora_dropout"] = cfg.Dropout
		out["bias"] = "none"
	case "HIRA":
		out["hira_dropout"] = cfg.Dropout
	case "HUT":
		out["lora_alpha"] = cfg.Alpha
		out["init_noise"] = cfg.InitNoise
	default:
		return nil, fmt.Errorf("method %s has no adapter file format (save the whole model instead)", m.Name())
	}
	return out, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// AdapterKey is the safetensors key of an adapter parameter of a layer.
func AdapterKey(l *Linear, p *tensor.Param) string {
	return KeyPrefix + l.Name + "." + p.Name
}

// Encode returns the two files of an adapter in PEFT layout: the bytes of
// adapter_config.json and of adapter_model.safetensors. extra holds
// modules_to_save parameters by their model name (written under
// base_model.model.<name>).
func Encode(be tensor.Backend, linears []*Linear, cfg *Config, meta Meta, extra []*tensor.Param) (config, weights []byte, err error) {
	cj, err := configJSON(cfg, meta)
	if err != nil {
		return nil, nil, err
	}
	var ts []safetensors.Tensor
	for _, l := range linears {
		if l.Ad == nil {
			continue
		}
		if l.Ad.Merged() {
			return nil, nil, fmt.Errorf("%s is merged; un-merge before saving the adapter", l.Name)
		}
		for _, p := range l.Ad.Params() {
			ts = append(ts, safetensors.Tensor{Name: AdapterKey(l, p), Shape: p.Shape, F32: p.ReadAll(be)})
		}
	}
	for _, p := range extra {
		ts = append(ts, safetensors.Tensor{Name: KeyPrefix + p.Name, Shape: p.Shape, F32: p.ReadAll(be)})
	}
	if len(ts) == 0 {
		return nil, nil, errors.New("the model has no adapter layers")
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		return nil, nil, err
	}
	b, err := json.MarshalIndent(cj, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(b, '\n'), buf.Bytes(), nil
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors
// (see Encode), each atomically.
func Save(dir string, be tensor.Backend, linears []*Linear, cfg *Config, meta Meta, extra []*tensor.Param) error {
	config, weights, err := Encode(be, linears, cfg, meta, extra)
	if err != nil {
		return fmt.Errorf("save adapter %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, WeightsFile), weights); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, ConfigFile), config)
}

// ReadConfig parses dir/adapter_config.json into a Config and Meta.
func ReadConfig(dir string) (*Config, Meta, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("adapter: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses the bytes of an adapter_config.json (path is used in
// errors).
func ParseConfig(b []byte, path string) (*Config, Meta, error) {
	var raw struct {
		PEFTType      string          `json:"peft_type"`
		R             int             `json:"r"`
		Alpha         float32         `json:"lora_alpha"`
		LoraDropout   float32         `json:"lora_dropout"`
		HiraDropout   float32         `json:"hira_dropout"`
		InitNoise     float32         `json:"init_noise"`
		Targets       json.RawMessage `json:"target_modules"`
		FanInFanOut   bool            `json:"fan_in_fan_out"`
		BaseModel     string          `json:"base_model_name_or_path"`
		TaskType      *string         `json:"task_type"`
		ModulesToSave []string        `json:"modules_to_save"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, Meta{}, fmt.Errorf("adapter config %s: %w", path, err)
	}
	m, err := LookupPEFTType(raw.PEFTType)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("adapter config %s: %w", path, err)
	}
	cfg := &Config{Method: m.Name(), R: raw.R, Alpha: raw.Alpha, InitNoise: raw.InitNoise}
	cfg.Dropout = raw.LoraDropout
	if m.PEFTType() == "HIRA" {
		cfg.Dropout = raw.HiraDropout
	}
	if raw.R <= 0 {
		return nil, Meta{}, fmt.Errorf("adapter config %s: r = %d, want a positive integer", path, raw.R)
	}
	if len(raw.Targets) > 0 && string(raw.Targets) != "null" {
		var one string
		if json.Unmarshal(raw.Targets, &one) == nil {
			cfg.Targets = []string{one}
		} else if err := json.Unmarshal(raw.Targets, &cfg.Targets); err != nil {
			return nil, Meta{}, fmt.Errorf("adapter config %s: target_modules must be a string or a list of strings", path)
		}
	}
	if len(cfg.Targets) == 0 {
		return nil, Meta{}, fmt.Errorf("adapter config %s: target_modules is missing", path)
	}
	sort.Strings(cfg.Targets)
	meta := Meta{BaseModel: raw.BaseModel, FanInFanOut: raw.FanInFanOut, ModulesToSave: raw.ModulesToSave}
	if raw.TaskType != nil {
		meta.TaskType = *raw.TaskType
	}
	return cfg, meta, nil
}

// Load reads an adapter directory, attaches its method to the targeted
// linears and fills the adapter parameters (and the extra parameters, by
// model name) from the file. Missing, unexpected or mis-shaped tensors are
// errors naming the tensor.
func Load(dir string, be tensor.Backend, linears []*Linear, extra map[string]*tensor.Param) (*Config, Meta, error) {
	cfg, meta, err := ReadConfig(dir)
	if err != nil {
		return nil, meta, err
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, meta, fmt.Errorf("adapter: %w", err)
	}
	if err := Attach(be, linears, cfg); err != nil {
		return nil, meta, fmt.Errorf("adapter %s: %w", dir, err)
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	ex := make([]*tensor.Param, len(names))
	for i, n := range names {
		ex[i] = extra[n]
	}
	if err := Fill(f, be, linears, ex); err != nil {
		return nil, meta, err
	}
	return cfg, meta, nil
}

// Fill copies an adapter file's tensors into the parameters of the attached
// adapters and into extra (modules_to_save, keyed by their model names). A
// missing or mis-shaped tensor, or a tensor that matches nothing, is an
// error naming it and the file.
func Fill(f *safetensors.File, be tensor.Backend, linears []*Linear, extra []*tensor.Param) error {
	used := map[string]bool{}
	fill := func(key string, p *tensor.Param) error {
		k := key
		if f.Info(k) == nil && f.Info(k+".weight") != nil {
			k += ".weight" // HUT/HiRA keys may carry a .weight suffix
		}
		if f.Info(k) == nil {
			return fmt.Errorf("adapter %s: tensor %q is missing", f.Path, key)
		}
		data, shape, err := f.Float32(k)
		if err != nil {
			return err
		}
		if !slices.Equal(shape, p.Shape) {
			return fmt.Errorf("adapter %s: tensor %q has shape %v, want %v (an adapter of another model or rank?)", f.Path, k, shape, p.Shape)
		}
		be.Write(p.W, 0, data)
		used[k] = true
		return nil
	}
	for _, l := range linears {
		if l.Ad == nil {
			continue
		}
		for _, p := range l.Ad.Params() {
			if err := fill(AdapterKey(l, p), p); err != nil {
				return err
			}
		}
	}
	for _, p := range extra {
		if err := fill(KeyPrefix+p.Name, p); err != nil {
			return err
		}
	}
	var unknown []string
	for _, k := range f.Names() {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		if len(unknown) > 3 {
			unknown = append(unknown[:3], "…")
		}
		return fmt.Errorf("adapter %s: tensors that match no adapted layer: %s", f.Path, strings.Join(unknown, ", "))
	}
	return nil
}
