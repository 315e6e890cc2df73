package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
)

// Merge is hut.merge: fold the adapter into the base weights (inference
// then runs the plain linears).
func (e *Engine) Merge() (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil || e.run == nil {
		return nil, errors.New("merge: no method attached: call hut.setup first")
	}
	var err error
	if e.mdl.g != nil {
		err = e.mdl.g.Merge()
	} else {
		err = e.mdl.r.Merge()
	}
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	e.mdl.dirty = true
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return map[string]any{"merged": true}, nil
}

// Unmerge is hut.unmerge: restore the base weights.
func (e *Engine) Unmerge() (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil || e.run == nil {
		return nil, errors.New("unmerge: no method attached: call hut.setup first")
	}
	var err error
	if e.mdl.g != nil {
		err = e.mdl.g.Unmerge()
	} else {
		err = e.mdl.r.Unmerge()
	}
	if err != nil {
		return nil, fmt.Errorf("unmerge: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("unmerge: %w", err)
	}
	return map[string]any{"merged": false}, nil
}

// adapterConfigJSON writes adapter_config.json exactly as peft.Save does
// (the same keys and values, with the field names each method's PEFT
// config class accepts).
func adapterConfigJSON(cfg *peft.Config, meta peft.Meta) ([]byte, error) {
	m, err := peft.Lookup(cfg.Method)
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
	var task any
	if meta.TaskType != "" {
		task = meta.TaskType
	}
	out := map[string]any{
		"peft_type":               m.PEFTType(),
		"r":                       cfg.R,
		"target_modules":          targets,
		"fan_in_fan_out":          meta.FanInFanOut,
		"base_model_name_or_path": meta.BaseModel,
		"modules_to_save":         mts,
		"task_type":               task,
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
		return nil, fmt.Errorf("method %s has no adapter file format", m.Name())
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// meta is what adapter_config.json says about the model.
func (e *Engine) meta() (peft.Meta, []*tensor.Param) {
	if e.mdl.g != nil {
		return peft.Meta{BaseModel: e.src.name, FanInFanOut: true, TaskType: "CAUSAL_LM"}, nil
	}
	r := e.mdl.r
	meta := peft.Meta{BaseModel: e.src.name, ModulesToSave: r.SavedModules()}
	var extra []*tensor.Param
	if r.Head == roberta.HeadClassifier {
		meta.TaskType = "SEQ_CLS"
		extra = r.HeadParams()
	}
	return meta, extra
}

// ExportAdapter is hut.exportAdapter: the adapter in PEFT layout
// (adapter_config.json and adapter_model.safetensors, byte for byte what
// hut train writes), or for full fine-tuning the whole model as a Hugging
// Face checkpoint (config.json and model.safetensors).
func (e *Engine) ExportAdapter() (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil || e.run == nil {
		return nil, errors.New("exportAdapter: no method attached: call hut.setup first")
	}
	pc := e.mdl.peftConfig()
	if pc.Method == "full" {
		var ts []safetensors.Tensor
		var cj []byte
		var err error
		if e.mdl.g != nil {
			ts = e.mdl.g.StateDict()
			cj, err = e.mdl.g.Cfg.JSON()
		} else {
			ts = e.mdl.r.StateDict()
			cj, err = e.mdl.r.Cfg.JSON(e.mdl.r.Head)
		}
		if err != nil {
			return nil, fmt.Errorf("exportAdapter: %w", err)
		}
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
			return nil, fmt.Errorf("exportAdapter: %w", err)
		}
		if err := e.BackendErr(); err != nil {
			return nil, fmt.Errorf("exportAdapter: %w", err)
		}
		return map[string]any{"files": map[string]any{"config.json": string(cj), "model.safetensors": buf.Bytes()}, "method": "full"}, nil
	}
	if e.mdl.merged() {
		return nil, errors.New("exportAdapter: the adapter is merged into the weights: call hut.unmerge() first")
	}
	meta, extra := e.meta()
	cj, err := adapterConfigJSON(pc, meta)
	if err != nil {
		return nil, fmt.Errorf("exportAdapter: %w", err)
	}
	var ts []safetensors.Tensor
	for _, l := range e.mdl.linears() {
		if l.Ad == nil {
			continue
		}
		for _, p := range l.Ad.Params() {
			ts = append(ts, safetensors.Tensor{Name: peft.AdapterKey(l, p), Shape: p.Shape, F32: p.ReadAll(e.be)})
		}
	}
	for _, p := range extra {
		ts = append(ts, safetensors.Tensor{Name: peft.KeyPrefix + p.Name, Shape: p.Shape, F32: p.ReadAll(e.be)})
	}
	if len(ts) == 0 {
		return nil, errors.New("exportAdapter: the model has no adapter layers")
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		return nil, fmt.Errorf("exportAdapter: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("exportAdapter: %w", err)
	}
	return map[string]any{"files": map[string]any{peft.ConfigFile: string(cj), peft.WeightsFile: buf.Bytes()}, "method": pc.Method}, nil
}

// ImportAdapter is hut.importAdapter: attach an adapter from PEFT files
// (as exportAdapter or hut train write them) to the loaded base model. The
// training options of the last setup (or the defaults) apply to later
// steps, from step 0.
func (e *Engine) ImportAdapter(files ModelFiles) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("importAdapter: no model loaded: call hut.loadModel first")
	}
	cb, ok := files[peft.ConfigFile]
	if !ok {
		return nil, fmt.Errorf("importAdapter: %s is missing (got %s)", peft.ConfigFile, fileList(files))
	}
	wb, ok := files[peft.WeightsFile]
	if !ok {
		return nil, fmt.Errorf("importAdapter: %s is missing (got %s)", peft.WeightsFile, fileList(files))
	}
	pc, meta, err := peft.ParseConfig(cb, peft.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("importAdapter: %w", err)
	}
	f, err := safetensors.Parse(wb, peft.WeightsFile)
	if err != nil {
		return nil, fmt.Errorf("importAdapter: %w", err)
	}
	var extra []*tensor.Param
	for _, mod := range meta.ModulesToSave {
		if mod != roberta.ClassifierModule || e.mdl.r == nil || e.mdl.r.Head != roberta.HeadClassifier {
			return nil, fmt.Errorf("importAdapter: modules_to_save %q does not fit the loaded %s model", mod, e.src.arch)
		}
	}
	o := e.train
	o.Method, o.R, o.Alpha, o.Dropout, o.Targets, o.InitNoise = pc.Method, pc.R, pc.Alpha, pc.Dropout, pc.Targets, pc.InitNoise
	o, err = e.defaults(o, "importAdapter")
	if err != nil {
		return nil, err
	}
	if err := e.freshModel(); err != nil {
		return nil, fmt.Errorf("importAdapter: %w", err)
	}
	if len(meta.ModulesToSave) > 0 {
		extra = e.mdl.r.HeadParams()
	}
	pc.Seed = *o.Seed
	if err := e.mdl.attach(pc); err != nil {
		e.mdl.dirty = true
		return nil, fmt.Errorf("importAdapter: %w", err)
	}
	e.mdl.dirty = true // if anything below fails, start from the checkpoint next time
	used := map[string]bool{}
	fill := func(key string, p *tensor.Param) error {
		k := key
		if f.Info(k) == nil && f.Info(k+".weight") != nil {
			k += ".weight"
		}
		if f.Info(k) == nil {
			return fmt.Errorf("importAdapter: tensor %q is missing from %s", key, peft.WeightsFile)
		}
		data, shape, err := f.Float32(k)
		if err != nil {
			return fmt.Errorf("importAdapter: %w", err)
		}
		if !sameShape(shape, p.Shape) {
			return fmt.Errorf("importAdapter: tensor %q has shape %v, want %v (an adapter of another model or rank?)", k, shape, p.Shape)
		}
		e.be.Write(p.W, 0, data)
		used[k] = true
		return nil
	}
	for _, l := range e.mdl.linears() {
		if l.Ad == nil {
			continue
		}
		for _, p := range l.Ad.Params() {
			if err := fill(peft.AdapterKey(l, p), p); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range extra {
		if err := fill(peft.KeyPrefix+p.Name, p); err != nil {
			return nil, err
		}
	}
	var unknown []string
	for _, k := range f.Names() {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if len(unknown) > 3 {
			unknown = append(unknown[:3], "…")
		}
		return nil, fmt.Errorf("importAdapter: tensors that match no adapted layer of the model: %s", strings.Join(unknown, ", "))
	}
	e.mdl.dirty = e.mdl.r != nil
	e.train = o
	res, err := e.startSession(o, pc)
	if err != nil {
		return nil, err
	}
	res["baseModel"] = meta.BaseModel
	return res, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
