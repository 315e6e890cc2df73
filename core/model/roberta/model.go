package roberta

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/atomicfile"
)

// Prefix is the module path of the encoder inside the task models.
const Prefix = "roberta."

// ClassifierModule is the module PEFT saves with an adapter
// (modules_to_save) for sequence classification.
const ClassifierModule = "classifier"

// Layer is one post-LayerNorm encoder block.
type Layer struct {
	Query, Key, Value *peft.Linear  // attention.self.{query,key,value}: C → C
	AttnOut           *peft.Linear  // attention.output.dense: C → C
	LN1W, LN1B        *tensor.Param // attention.output.LayerNorm
	Inter             *peft.Linear  // intermediate.dense: C → I
	Out               *peft.Linear  // output.dense: I → C
	LN2W, LN2B        *tensor.Param // output.LayerNorm
}

// Model is a RoBERTa encoder with an optional head on a backend.
type Model struct {
	Cfg  Config
	Head Head
	Be   tensor.Backend

	WordEmb, PosEmb, TypeEmb *tensor.Param
	EmbLNW, EmbLNB           *tensor.Param
	Layers                   []*Layer

	// Classification head (HeadClassifier): classifier.dense C → C and
	// classifier.out_proj C → num_labels. They are not PEFT targets; they
	// are trained in full by every method.
	ClsDense, ClsOut *peft.Linear
	// Masked-LM head (HeadMLM): lm_head.dense, lm_head.layer_norm and
	// lm_head.bias; the decoder weight is WordEmb.
	LMDense      *peft.Linear
	LMLNW, LMLNB *tensor.Param
	LMBias       *tensor.Param

	// PEFT is the configuration of the attached method (nil: none).
	PEFT *peft.Config
	// Notes are what loading had to tell the user (a randomly initialised
	// classifier, ignored pooler weights…), as Hugging Face warns.
	Notes []string

	linears    []*peft.Linear
	params     []*tensor.Param // encoder parameters in HF order
	headParams []*tensor.Param // head parameters
	ws         *peft.Workspace
	acts       *activations
	merged     bool
}

// New allocates a model with zero weights; use Init or Load to fill it.
// head must not be HeadAuto (use cfg.ConfigHead()).
func New(be tensor.Backend, cfg Config, head Head) *Model {
	if head == HeadAuto {
		head = cfg.ConfigHead()
	}
	C, I, L := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	m := &Model{Cfg: cfg, Head: head, Be: be, ws: peft.NewWorkspace(be)}
	p := func(name string, shape ...int) *tensor.Param {
		t := tensor.NewParam(be, Prefix+name, shape...)
		m.params = append(m.params, t)
		return t
	}
	lin := func(name string, in, out int) *peft.Linear {
		l := &peft.Linear{Name: Prefix + name, In: in, Out: out,
			W: p(name+".weight", out, in), Bias: p(name+".bias", out)}
		m.linears = append(m.linears, l)
		return l
	}
	m.WordEmb = p("embeddings.word_embeddings.weight", cfg.VocabSize, C)
	m.PosEmb = p("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, C)
	m.TypeEmb = p("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, C)
	m.EmbLNW, m.EmbLNB = p("embeddings.LayerNorm.weight", C), p("embeddings.LayerNorm.bias", C)
	for i := 0; i < L; i++ {
		h := fmt.Sprintf("encoder.layer.%d.", i)
		ly := &Layer{}
		ly.Query = lin(h+"attention.self.query", C, C)
		ly.Key = lin(h+"attention.self.key", C, C)
		ly.Value = lin(h+"attention.self.value", C, C)
		ly.AttnOut = lin(h+"attention.output.dense", C, C)
		ly.LN1W, ly.LN1B = p(h+"attention.output.LayerNorm.weight", C), p(h+"attention.output.LayerNorm.bias", C)
		ly.Inter = lin(h+"intermediate.dense", C, I)
		ly.Out = lin(h+"output.dense", I, C)
		ly.LN2W, ly.LN2B = p(h+"output.LayerNorm.weight", C), p(h+"output.LayerNorm.bias", C)
		m.Layers = append(m.Layers, ly)
	}
	hp := func(name string, shape ...int) *tensor.Param {
		t := tensor.NewParam(be, name, shape...)
		m.headParams = append(m.headParams, t)
		return t
	}
	hlin := func(name string, in, out int) *peft.Linear {
		return &peft.Linear{Name: name, In: in, Out: out, W: hp(name+".weight", out, in), Bias: hp(name+".bias", out)}
	}
	switch head {
	case HeadClassifier:
		m.ClsDense = hlin("classifier.dense", C, C)
		m.ClsOut = hlin("classifier.out_proj", C, cfg.NumLabels)
	case HeadMLM:
		m.LMDense = hlin("lm_head.dense", C, C)
		m.LMLNW, m.LMLNB = hp("lm_head.layer_norm.weight", C), hp("lm_head.layer_norm.bias", C)
		m.LMBias = hp("lm_head.bias", cfg.VocabSize)
	}
	return m
}

// Init fills the weights as Hugging Face's RobertaPreTrainedModel
// initialises them: normal(0, initializer_range) for linear and embedding
// weights with the padding rows of the word and position embeddings
// zeroed, zero biases, unit LayerNorm weights.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	m.initParams(rng, append(append([]*tensor.Param(nil), m.params...), m.headParams...))
}

// InitHead re-initialises only the head (a classifier missing from a
// pre-trained checkpoint).
func (m *Model) InitHead(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	m.initParams(rng, m.headParams)
}

func (m *Model) initParams(rng *rand.Rand, ps []*tensor.Param) {
	std := float64(m.Cfg.InitializerRange)
	if std <= 0 {
		std = 0.02
	}
	C := m.Cfg.HiddenSize
	for _, p := range ps {
		v := make([]float32, p.Size())
		switch {
		case strings.HasSuffix(p.Name, "LayerNorm.weight") || strings.HasSuffix(p.Name, "layer_norm.weight"):
			for i := range v {
				v[i] = 1
			}
		case len(p.Shape) == 1:
			// biases and LayerNorm biases stay zero
		default:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
			if p == m.WordEmb || p == m.PosEmb {
				pad := m.Cfg.PadTokenID
				clear(v[pad*C : (pad+1)*C])
			}
		}
		m.Be.Write(p.W, 0, v)
	}
}

// Params returns every parameter: the encoder's (Hugging Face names with
// the roberta. prefix) and the head's.
func (m *Model) Params() []*tensor.Param {
	return append(append([]*tensor.Param(nil), m.params...), m.headParams...)
}

// HeadParams returns the head's parameters (classifier.* or lm_head.*).
func (m *Model) HeadParams() []*tensor.Param { return m.headParams }

// Linears returns the encoder linears in order, for PEFT target selection.
func (m *Model) Linears() []*peft.Linear { return m.linears }

// NumParams counts the base parameters (encoder and head; the tied MLM
// decoder once).
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += p.Size()
	}
	return n
}

// ---- loading ----

// Load reads a Hugging Face RoBERTa checkpoint directory (config.json and
// its weights) onto be. head selects the task head (HeadAuto: the one
// config.json names). A classifier that the checkpoint lacks (a
// RobertaForMaskedLM or RobertaModel checkpoint loaded for classification)
// is initialised randomly with seed, and Notes says so; numLabels > 0
// overrides the config's number of labels (a fresh GLUE head), and
// regression forces problem_type regression.
func Load(be tensor.Backend, dir string, head Head, opt LoadOptions) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if head == HeadAuto {
		head = cfg.ConfigHead()
	}
	if opt.NumLabels > 0 && (opt.NumLabels != cfg.NumLabels || cfg.ConfigHead() != HeadClassifier) {
		cfg.NumLabels = opt.NumLabels
		cfg.ID2Label = opt.Labels
		cfg.ProblemType = ""
	}
	if opt.Regression {
		cfg.NumLabels, cfg.ID2Label, cfg.ProblemType = 1, nil, ProblemRegression
	} else if opt.NumLabels > 1 && cfg.ProblemType == ProblemRegression {
		cfg.ProblemType = ProblemSingleLabel
	}
	if len(opt.Labels) == cfg.NumLabels {
		cfg.ID2Label = opt.Labels
	}
	sd, err := hf.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	m := New(be, cfg, head)
	if err := m.LoadStateDict(sd, opt.Seed); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadOptions adjust Load for fine-tuning.
type LoadOptions struct {
	NumLabels  int      // > 0: a classifier with this many outputs
	Labels     []string // class names for config.json's id2label
	Regression bool     // a one-output regression head (STS-B)
	Seed       uint64   // seed of a randomly initialised head
}

// ignoredTensor reports tensors that RoBERTa checkpoints may carry and
// that the model does not use: buffers, the pooler (RobertaModel), and the
// tied decoder copies (checked separately).
func ignoredTensor(name string) bool {
	return strings.HasSuffix(name, "embeddings.position_ids") || strings.HasSuffix(name, "embeddings.token_type_ids")
}

// LoadStateDict copies the tensors of sd into the model. Encoder names may
// carry the roberta. prefix or not. A missing head is initialised randomly
// (with a note); a head in the checkpoint that the model does not use
// (the LM head of a RobertaForMaskedLM checkpoint loaded for
// classification, the pooler of a RobertaModel) is skipped with a note.
func (m *Model) LoadStateDict(sd hf.StateDict, seed uint64) error {
	byName := map[string]*hf.Tensor{}
	var pooler, lmHead, classifier []string
	for k, t := range sd {
		switch {
		case ignoredTensor(k):
			continue
		case strings.HasPrefix(k, "pooler.") || strings.HasPrefix(k, Prefix+"pooler."):
			pooler = append(pooler, k)
			continue
		case k == "lm_head.decoder.weight" || k == "lm_head.decoder.bias":
			continue // tied copies, checked below
		case strings.HasPrefix(k, "lm_head.") && m.Head != HeadMLM:
			lmHead = append(lmHead, k)
			continue
		case strings.HasPrefix(k, "classifier.") && m.Head != HeadClassifier:
			classifier = append(classifier, k)
			continue
		}
		byName[strings.TrimPrefix(k, Prefix)] = t
	}
	if db, ok := sd["lm_head.decoder.bias"]; ok && m.Head == HeadMLM && sd["lm_head.bias"] == nil {
		byName["lm_head.bias"] = db // old checkpoints keep the bias only on the decoder
	}
	fill := func(p *tensor.Param, short string) error {
		t, ok := byName[short]
		if !ok {
			return fmt.Errorf("roberta: checkpoint has no tensor %q", p.Name)
		}
		delete(byName, short)
		if !slices.Equal(t.Shape, p.Shape) {
			return fmt.Errorf("roberta: tensor %q in %s has shape %v, want %v", p.Name, t.File, t.Shape, p.Shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("roberta: tensor %q in %s has a non-finite value at element %d", p.Name, t.File, i)
			}
		}
		m.Be.Write(p.W, 0, t.Data)
		return nil
	}
	for _, p := range m.params {
		if err := fill(p, strings.TrimPrefix(p.Name, Prefix)); err != nil {
			return err
		}
	}
	headMissing := false
	for _, p := range m.headParams {
		if _, ok := byName[p.Name]; !ok {
			headMissing = true
		}
	}
	if headMissing {
		var have []string
		for _, p := range m.headParams {
			if _, ok := byName[p.Name]; ok {
				have = append(have, p.Name)
			}
		}
		if len(have) > 0 {
			return fmt.Errorf("roberta: the checkpoint has only part of the %s head (%s)", m.Head, strings.Join(have, ", "))
		}
		m.InitHead(seed)
		m.Notes = append(m.Notes, fmt.Sprintf("the checkpoint has no %s head: initialised it randomly (seed %d); train it before use", m.Head, seed))
	} else {
		for _, p := range m.headParams {
			if err := fill(p, p.Name); err != nil {
				return err
			}
		}
	}
	if len(byName) > 0 {
		var extra []string
		for k := range byName {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		if len(extra) > 4 {
			extra = append(extra[:4], "…")
		}
		return fmt.Errorf("roberta: checkpoint has tensors RoBERTa does not have: %s (is this a RoBERTa checkpoint?)", strings.Join(extra, ", "))
	}
	if len(pooler) > 0 {
		m.Notes = append(m.Notes, "ignored the pooler weights (RobertaForSequenceClassification and RobertaForMaskedLM have no pooler)")
	}
	if len(lmHead) > 0 {
		m.Notes = append(m.Notes, "ignored the masked-LM head of the checkpoint")
	}
	if len(classifier) > 0 {
		m.Notes = append(m.Notes, "ignored the classification head of the checkpoint")
	}
	if m.Head == HeadMLM {
		wte := sd[Prefix+"embeddings.word_embeddings.weight"]
		if wte == nil {
			wte = sd["embeddings.word_embeddings.weight"]
		}
		if dec, ok := sd["lm_head.decoder.weight"]; ok {
			if !slices.Equal(dec.Shape, wte.Shape) {
				return fmt.Errorf("roberta: lm_head.decoder.weight has shape %v, want the tied word-embedding shape %v", dec.Shape, wte.Shape)
			}
			for i := range dec.Data {
				if dec.Data[i] != wte.Data[i] {
					return fmt.Errorf("roberta: lm_head.decoder.weight differs from the word embeddings at element %d: untied MLM decoders are not supported", i)
				}
			}
		}
		if db, ok := sd["lm_head.decoder.bias"]; ok && !headMissing && sd["lm_head.bias"] != nil {
			b := sd["lm_head.bias"]
			if !slices.Equal(db.Shape, b.Shape) {
				return fmt.Errorf("roberta: lm_head.decoder.bias has shape %v, want %v", db.Shape, b.Shape)
			}
			for i := range db.Data {
				if db.Data[i] != b.Data[i] {
					return fmt.Errorf("roberta: lm_head.decoder.bias differs from lm_head.bias at element %d", i)
				}
			}
		}
	}
	return nil
}

// ---- saving ----

// StateDict returns the model's weights in Hugging Face layout (the
// roberta. prefix on the encoder, the head under classifier. or lm_head.;
// the tied decoder is not written, as transformers does). Merged adapters
// are included in the weights; unmerged adapters are not.
func (m *Model) StateDict() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, F32: p.ReadAll(m.Be)})
	}
	return ts
}

// SaveHF writes config.json and model.safetensors (dtype "F32", "F16" or
// "BF16") to dir as a Hugging Face checkpoint of the model's head.
func (m *Model) SaveHF(dir, dtype string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := m.StateDict()
	for i := range ts {
		ts[i].DType = dtype
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cj, err := m.Cfg.JSON(m.Head)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "config.json"), cj)
}

// ---- PEFT ----

// DefaultTargets are the target modules each method gets on RoBERTa when
// none are given: PEFT's defaults for LoRA (and HiRA, which shares LoRA's
// table) are query and value; HUT adapts every encoder linear, because
// its adapters are tiny (r·(in+out) per layer) and cost no weight-gradient
// GEMM; full fine-tuning trains everything.
func DefaultTargets(method string) []string {
	switch strings.ToLower(method) {
	case "lora", "hira":
		return []string{"query", "value"}
	}
	return []string{"all-linear"}
}

// Attach adds a method of the HUT family to the model. Unset targets get
// DefaultTargets. For full fine-tuning every parameter becomes trainable;
// for the other methods the classification head (if any) is trained in
// full, as PEFT's modules_to_save does.
func (m *Model) Attach(cfg *peft.Config) error {
	if m.PEFT != nil {
		return fmt.Errorf("roberta: a %s adapter is already attached", m.PEFT.Method)
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = DefaultTargets(cfg.Method)
	}
	if err := peft.Attach(m.Be, m.linears, cfg); err != nil {
		return err
	}
	switch {
	case cfg.Method == "full":
		for _, p := range m.Params() {
			m.makeTrainable(p)
		}
	case cfg.Method != "none" && cfg.Method != "":
		if m.Head == HeadClassifier {
			for _, p := range m.headParams {
				m.makeTrainable(p)
			}
		}
	}
	m.PEFT = cfg
	return nil
}

func (m *Model) makeTrainable(p *tensor.Param) {
	p.MakeTrainable(m.Be)
	if len(p.Shape) == 1 {
		p.NoDecay = true // biases and norms, as HF Trainer does
	}
}

// SavedModules returns the modules_to_save of an adapter of this model.
func (m *Model) SavedModules() []string {
	if m.Head == HeadClassifier {
		return []string{ClassifierModule}
	}
	return nil
}

func (m *Model) taskType() string {
	if m.Head == HeadClassifier {
		return "SEQ_CLS"
	}
	return ""
}

// LoadAdapter reads a PEFT-style adapter directory and attaches it. An
// adapter of a classification model carries the classifier
// (modules_to_save) and replaces the model's head.
func (m *Model) LoadAdapter(dir string) error {
	if m.PEFT != nil {
		return fmt.Errorf("roberta: a %s adapter is already attached", m.PEFT.Method)
	}
	_, meta, err := peft.ReadConfig(dir)
	if err != nil {
		return err
	}
	extra := map[string]*tensor.Param{}
	for _, mod := range meta.ModulesToSave {
		if mod != ClassifierModule {
			return fmt.Errorf("adapter %s: modules_to_save %q is not supported (want %q)", dir, mod, ClassifierModule)
		}
		if m.Head != HeadClassifier {
			return fmt.Errorf("adapter %s: it carries a classifier, but the model has the %s head", dir, m.Head)
		}
		for _, p := range m.headParams {
			extra[p.Name] = p
		}
	}
	cfg, _, err := peft.Load(dir, m.Be, m.linears, extra)
	if err != nil {
		return err
	}
	m.PEFT = cfg
	if len(extra) > 0 {
		m.Notes = append(m.Notes, "loaded the classifier from the adapter (modules_to_save)")
	}
	return nil
}

// SaveAdapter writes the attached adapter in PEFT layout, with the
// classifier as modules_to_save (keys base_model.model.classifier.*, as
// PEFT's get_peft_model_state_dict names them). Full fine-tuning writes
// the whole model as a Hugging Face checkpoint instead.
func (m *Model) SaveAdapter(dir, baseModel string) error {
	if m.PEFT == nil {
		return fmt.Errorf("roberta: no adapter attached")
	}
	if m.PEFT.Method == "full" {
		return m.SaveHF(dir, "F32")
	}
	var extra []*tensor.Param
	if m.Head == HeadClassifier {
		extra = m.headParams
	}
	meta := peft.Meta{BaseModel: baseModel, TaskType: m.taskType(), ModulesToSave: m.SavedModules()}
	return peft.Save(dir, m.Be, m.linears, m.PEFT, meta, extra)
}

// LoadTrainable restores the trainable values saved by SaveAdapter into
// the already attached adapter (or, for full fine-tuning, the whole
// model), for resuming a run.
func (m *Model) LoadTrainable(dir string) error {
	if m.PEFT == nil {
		return fmt.Errorf("roberta: no adapter attached")
	}
	if m.PEFT.Method == "full" {
		sd, err := hf.LoadDir(dir)
		if err != nil {
			return err
		}
		return m.LoadStateDict(sd, 0)
	}
	path := filepath.Join(dir, peft.WeightsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return err
	}
	set := func(key string, p *tensor.Param) error {
		v, shape, err := f.Float32(key)
		if err != nil {
			return fmt.Errorf("roberta: %s: %w", path, err)
		}
		if !slices.Equal(shape, p.Shape) {
			return fmt.Errorf("roberta: %s: tensor %q has shape %v, want %v", path, key, shape, p.Shape)
		}
		m.Be.Write(p.W, 0, v)
		return nil
	}
	for _, l := range m.linears {
		if l.Ad == nil {
			continue
		}
		for _, p := range l.Ad.Params() {
			if err := set(peft.AdapterKey(l, p), p); err != nil {
				return err
			}
		}
	}
	if m.Head == HeadClassifier {
		for _, p := range m.headParams {
			if err := set(peft.KeyPrefix+p.Name, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Trainable returns the parameters the optimizer updates.
func (m *Model) Trainable() []*tensor.Param { return peft.Trainable(m.Params(), m.linears) }

// TrainableNamed returns the trainable parameters with unique names for
// optimizer checkpoints (adapter parameters get their layer's path).
func (m *Model) TrainableNamed() map[string]*tensor.Param {
	return peft.TrainableNamed(m.Params(), m.linears)
}

// CountParams returns (trainable, all) as PEFT counts them: all = base +
// adapter parameters; trainable includes the classifier.
func (m *Model) CountParams() (trainable, all int) {
	return peft.CountParams(m.Params(), m.linears, m.PEFT)
}

// Merge folds every adapter into its base weight.
func (m *Model) Merge() error {
	if m.merged {
		return fmt.Errorf("roberta: already merged")
	}
	if err := peft.MergeAll(m.Be, m.linears); err != nil {
		return err
	}
	m.merged = true
	return nil
}

// Unmerge restores the base weights.
func (m *Model) Unmerge() error {
	if !m.merged {
		return fmt.Errorf("roberta: not merged")
	}
	if err := peft.UnmergeAll(m.Be, m.linears); err != nil {
		return err
	}
	m.merged = false
	return nil
}

// Merged reports whether adapters are merged.
func (m *Model) Merged() bool { return m.merged }

// AdapterClassifier returns the number of outputs of the classifier an
// adapter directory carries as modules_to_save (0 when it carries none),
// so that a base checkpoint can be loaded with a matching head.
func AdapterClassifier(dir string) (int, error) {
	_, meta, err := peft.ReadConfig(dir)
	if err != nil {
		return 0, err
	}
	has := false
	for _, mod := range meta.ModulesToSave {
		has = has || mod == ClassifierModule
	}
	if !has {
		return 0, nil
	}
	path := filepath.Join(dir, peft.WeightsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("adapter: %w", err)
	}
	key := peft.KeyPrefix + ClassifierModule + ".out_proj.weight"
	info := f.Info(key)
	if info == nil || len(info.Shape) != 2 || info.Shape[0] <= 0 {
		return 0, fmt.Errorf("adapter %s: modules_to_save names the classifier but tensor %q is missing or not a matrix", path, key)
	}
	return info.Shape[0], nil
}
