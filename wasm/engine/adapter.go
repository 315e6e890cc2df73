package engine

import (
	"bytes"
	"errors"
	"fmt"

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
	cj, wb, err := peft.Encode(e.be, e.mdl.linears(), pc, meta, extra)
	if err != nil {
		return nil, fmt.Errorf("exportAdapter: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("exportAdapter: %w", err)
	}
	return map[string]any{"files": map[string]any{peft.ConfigFile: string(cj), peft.WeightsFile: wb}, "method": pc.Method}, nil
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
	if err := peft.Fill(f, e.be, e.mdl.linears(), extra); err != nil {
		return nil, fmt.Errorf("importAdapter: %w", err)
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
