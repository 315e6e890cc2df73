package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/tokenizer"
)

// Architectures.
const (
	ArchGPT2    = "gpt2"
	ArchRoBERTa = "roberta"
)

// modelSource is the host copy of a loaded checkpoint: what the engine
// needs to build the model again (a new method, a new backend) without
// downloading it again. The weights stay in their file encoding (F16 for
// the tiny models) and are decoded on each build.
type modelSource struct {
	name       string
	arch       string
	config     map[string]any // config.json as JSON
	weights    []byte
	weightName string // "model.safetensors" or "pytorch_model.bin"
	bytes      int64  // all files together
	gcfg       gpt2.Config
	rcfg       roberta.Config
	rhead      roberta.Head
	headSeed   uint64
}

// stateDict decodes the weights.
func (s *modelSource) stateDict() (hf.StateDict, error) {
	if s.weightName == hf.TorchName {
		return hf.ParseTorch(s.weights, s.weightName)
	}
	f, err := safetensors.Parse(s.weights, s.weightName)
	if err != nil {
		return nil, err
	}
	sd := hf.StateDict{}
	for _, n := range f.Names() {
		info := f.Info(n)
		data, shape, err := f.Float32(n)
		if errors.Is(err, safetensors.ErrNotFloat) {
			continue // masks, position_ids
		}
		if err != nil {
			return nil, err
		}
		sd[n] = &hf.Tensor{Shape: shape, Data: data, DType: info.DType, File: s.weightName}
	}
	return sd, nil
}

// model is the model on the backend: GPT-2 or RoBERTa.
type model struct {
	g *gpt2.Model
	r *roberta.Model
	// dirty: the base weights on the backend may differ from the
	// checkpoint (full fine-tuning, a trained classifier, a merge), so the
	// next setup loads them again instead of reusing them.
	dirty bool
}

func (m *model) params() []*tensor.Param {
	if m.g != nil {
		return m.g.Params()
	}
	return m.r.Params()
}

func (m *model) linears() []*peft.Linear {
	if m.g != nil {
		return m.g.Linears()
	}
	return m.r.Linears()
}

func (m *model) merged() bool {
	if m.g != nil {
		return m.g.Merged()
	}
	return m.r.Merged()
}

func (m *model) peftConfig() *peft.Config {
	if m.g != nil {
		return m.g.PEFT
	}
	return m.r.PEFT
}

func (m *model) numParams() int {
	if m.g != nil {
		return m.g.NumParams()
	}
	return m.r.NumParams()
}

func (m *model) countParams() (int, int) {
	if m.g != nil {
		return m.g.CountParams()
	}
	return m.r.CountParams()
}

func (m *model) trainableNamed() map[string]*tensor.Param {
	if m.g != nil {
		return m.g.TrainableNamed()
	}
	return m.r.TrainableNamed()
}

func (m *model) attach(cfg *peft.Config) error {
	if m.g != nil {
		return m.g.Attach(cfg)
	}
	return m.r.Attach(cfg)
}

// newModel builds the model structure of src on be (weights zero).
func newModel(be tensor.Backend, src *modelSource) *model {
	if src.arch == ArchGPT2 {
		return &model{g: gpt2.New(be, src.gcfg)}
	}
	return &model{r: roberta.New(be, src.rcfg, src.rhead)}
}

// buildModel frees everything on the backend and builds the model of
// e.src from its host copy.
func (e *Engine) buildModel() error {
	e.closeRun()
	e.run = nil
	e.mdl = nil
	e.be.unpinAll()
	e.be.release()
	sd, err := e.src.stateDict()
	if err != nil {
		return err
	}
	m := newModel(e.be, e.src)
	if m.g != nil {
		err = m.g.LoadStateDict(sd)
	} else {
		err = m.r.LoadStateDict(sd, e.src.headSeed)
	}
	if err != nil {
		e.be.release()
		return err
	}
	for _, p := range m.params() {
		e.be.pin(p.W)
	}
	if err := e.BackendErr(); err != nil {
		e.be.unpinAll()
		e.be.release()
		return fmt.Errorf("uploading the weights: %w", err)
	}
	e.mdl = m
	return nil
}

// freshModel returns the model without adapter, activations or training
// state: the base weights are moved into a new model structure when they
// are unchanged, otherwise the model is built again from the checkpoint.
func (e *Engine) freshModel() error {
	e.closeRun()
	e.run = nil
	old := e.mdl
	if old == nil {
		return errors.New("no model loaded: call hut.loadModel first")
	}
	if old.dirty || old.merged() {
		return e.buildModel()
	}
	e.be.skeleton = true
	m := newModel(e.be, e.src)
	e.be.skeleton = false
	ps, ops := m.params(), old.params()
	if len(ps) != len(ops) {
		return e.buildModel()
	}
	for i, p := range ps {
		p.W = ops[i].W
	}
	e.mdl = m
	e.be.release() // the old adapter, activations, workspace and caches
	return nil
}

// ModelFiles are the files of a checkpoint by name.
type ModelFiles map[string][]byte

// tokenizerFrom builds the tokenizer from tokenizer.json or vocab.json +
// merges.txt (+ tokenizer_config.json); nil when there are none.
func tokenizerFrom(files ModelFiles) (*tokenizer.Tokenizer, error) {
	if b, ok := files["tokenizer.json"]; ok {
		return tokenizer.FromTokenizerJSON("tokenizer.json", bytes.NewReader(b))
	}
	vb, okV := files["vocab.json"]
	mb, okM := files["merges.txt"]
	if !okV && !okM {
		return nil, nil
	}
	if !okV || !okM {
		return nil, errors.New("tokenizer: vocab.json and merges.txt go together; one of them is missing")
	}
	t, err := tokenizer.FromVocabMerges("vocab.json", bytes.NewReader(vb), bytes.NewReader(mb))
	if err != nil {
		return nil, err
	}
	if cb, ok := files["tokenizer_config.json"]; ok {
		var cfg struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if cfg.AddPrefixSpace != nil {
			t = t.WithAddPrefixSpace(*cfg.AddPrefixSpace)
		}
	}
	return t, nil
}

// LoadModel is hut.loadModel: files holds config.json, model.safetensors
// (or pytorch_model.bin) and optionally the tokenizer files; name is how
// the model is called in adapter files and messages (the directory name).
// It drops the previous model, its adapter and the loaded task.
func (e *Engine) LoadModel(files ModelFiles, name string) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	cj, ok := files["config.json"]
	if !ok {
		return nil, fmt.Errorf("loadModel: config.json is missing (got %s)", fileList(files))
	}
	var head struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(cj, &head); err != nil {
		return nil, fmt.Errorf("loadModel: config.json: %w", err)
	}
	var generic map[string]any
	_ = json.Unmarshal(cj, &generic)
	src := &modelSource{name: name, config: generic}
	for _, b := range files {
		src.bytes += int64(len(b))
	}
	arch := head.ModelType
	if arch == "" {
		for _, a := range head.Architectures {
			if strings.HasPrefix(a, "GPT2") {
				arch = ArchGPT2
			} else if strings.HasPrefix(a, "Roberta") {
				arch = ArchRoBERTa
			}
		}
	}
	var err error
	switch arch {
	case ArchGPT2:
		src.gcfg, err = gpt2.ParseConfig(cj, "config.json")
	case ArchRoBERTa:
		src.rcfg, err = roberta.ParseConfig(cj, "config.json")
		src.rhead = src.rcfg.ConfigHead()
		src.headSeed = 42
	default:
		return nil, fmt.Errorf("loadModel: config.json has model_type %q; the browser engine runs gpt2 and roberta", head.ModelType)
	}
	if err != nil {
		return nil, fmt.Errorf("loadModel: %w", err)
	}
	src.arch = arch
	switch {
	case files[hf.SafetensorsName] != nil:
		src.weights, src.weightName = files[hf.SafetensorsName], hf.SafetensorsName
	case files[hf.TorchName] != nil:
		src.weights, src.weightName = files[hf.TorchName], hf.TorchName
	default:
		return nil, fmt.Errorf("loadModel: no weights: want model.safetensors (or pytorch_model.bin), got %s", fileList(files))
	}
	tok, err := tokenizerFrom(files)
	if err != nil {
		return nil, fmt.Errorf("loadModel: %w", err)
	}
	vocab := src.gcfg.VocabSize
	if arch == ArchRoBERTa {
		vocab = src.rcfg.VocabSize
	}
	if tok != nil && tok.VocabSize() > vocab {
		return nil, fmt.Errorf("loadModel: the tokenizer has %d tokens but the model's vocab_size is %d: the files do not belong together", tok.VocabSize(), vocab)
	}
	if tok != nil && arch == ArchRoBERTa && (tok.BOS() < 0 || tok.EOS() < 0) {
		return nil, errors.New("loadModel: the tokenizer has no <s>/</s> tokens: RoBERTa needs its own tokenizer")
	}
	if tok != nil && arch == ArchGPT2 && tok.EOS() < 0 {
		return nil, errors.New("loadModel: the tokenizer has no <|endoftext|> token: GPT-2 needs it to end sequences")
	}
	oldSrc, oldTok, oldTask := e.src, e.tok, e.task
	e.src, e.tok, e.task = src, tok, nil
	if err := e.buildModel(); err != nil {
		e.src, e.tok, e.task = oldSrc, oldTok, oldTask
		if oldSrc != nil {
			if rerr := e.buildModel(); rerr != nil {
				e.src, e.tok, e.task = nil, nil, nil
			}
		}
		return nil, fmt.Errorf("loadModel %s: %w", name, err)
	}
	return e.modelInfo(), nil
}

func (e *Engine) modelInfo() map[string]any {
	src, m := e.src, e.mdl
	out := map[string]any{
		"arch":   src.arch,
		"name":   src.name,
		"config": src.config,
		"params": m.numParams(),
		"bytes":  src.bytes,
	}
	switch {
	case src.arch == ArchGPT2:
		out["task"] = "causal-lm"
	case src.rhead == roberta.HeadClassifier:
		out["task"] = "classification"
		out["labels"] = src.rcfg.Labels()
	case src.rhead == roberta.HeadMLM:
		out["task"] = "mlm"
	default:
		out["task"] = "encoder"
	}
	if e.tok != nil {
		out["vocab"] = e.tok.VocabSize()
	} else {
		out["vocab"] = 0
	}
	notes := []string{}
	if m.r != nil {
		notes = append(notes, m.r.Notes...)
	}
	if e.tok == nil {
		notes = append(notes, "no tokenizer files (tokenizer.json, or vocab.json and merges.txt): loadTask, generate and classify need them")
	}
	out["notes"] = notes
	out["layers"] = layerCount(src)
	out["modules"] = moduleNames(m.linears())
	return out
}

func layerCount(src *modelSource) int {
	if src.arch == ArchGPT2 {
		return src.gcfg.NLayer
	}
	return src.rcfg.NumHiddenLayers
}

// moduleNames are the module names of one block's linears, as inspect and
// targets take them ("attn.c_attn", "mlp.c_fc", …).
func moduleNames(ls []*peft.Linear) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range ls {
		_, mod, ok := splitLayer(l.Name)
		if ok && !seen[mod] {
			seen[mod] = true
			out = append(out, mod)
		}
	}
	return out
}

// splitLayer cuts "transformer.h.3.attn.c_attn" into 3 and "attn.c_attn"
// (RoBERTa: "roberta.encoder.layer.3.attention.self.query").
func splitLayer(name string) (int, string, bool) {
	for _, marker := range []string{".h.", ".layer."} {
		i := strings.Index(name, marker)
		if i < 0 {
			continue
		}
		rest := name[i+len(marker):]
		j := strings.IndexByte(rest, '.')
		if j <= 0 {
			continue
		}
		n := 0
		for _, c := range rest[:j] {
			if c < '0' || c > '9' {
				return 0, "", false
			}
			n = n*10 + int(c-'0')
		}
		return n, rest[j+1:], true
	}
	return 0, "", false
}

func fileList(files ModelFiles) string {
	if len(files) == 0 {
		return "no files"
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
