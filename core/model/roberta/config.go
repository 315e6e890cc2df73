// Package roberta is RoBERTa exactly as Hugging Face's RobertaModel,
// RobertaForSequenceClassification and RobertaForMaskedLM define it:
// word + position + token-type embeddings followed by a LayerNorm, post-
// LayerNorm encoder blocks with exact (erf) GELU, bidirectional attention
// with a key mask for padding, and position ids that start at
// pad_token_id+1 and skip padding tokens. Heads: sequence classification
// (RobertaClassificationHead: the <s> token, dropout, dense, tanh, dropout,
// out_proj), regression (num_labels = 1, MSE loss) and masked LM
// (RobertaLMHead: dense, gelu, layer_norm, a decoder tied to the word
// embeddings plus lm_head.bias).
//
// Every layer has an explicit forward and backward pass over the
// tensor.Backend seam (llm.c style). The encoder linears are peft.Linear
// layers named with their full Hugging Face module paths
// ("roberta.encoder.layer.0.attention.self.query"), so PEFT target names
// ("query", "value", "attention.output.dense", "intermediate.dense",
// "output.dense", "all-linear") select them with PEFT's suffix rule. The
// classification head is always trained in full and saved with an adapter
// as PEFT's modules_to_save.
//
// glue.go turns GLUE tasks into training jobs (length-bucketed batches,
// the task's metric, the majority-class baseline); mlm.go holds the
// dynamic-masking batcher for masked-LM pre-training.
package roberta

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Head selects the task head on top of the encoder.
type Head int

const (
	// HeadAuto takes the head from config.json's architectures.
	HeadAuto Head = iota
	// HeadNone is the bare encoder (RobertaModel).
	HeadNone
	// HeadClassifier is RobertaForSequenceClassification (regression when
	// the config says so).
	HeadClassifier
	// HeadMLM is RobertaForMaskedLM.
	HeadMLM
)

func (h Head) String() string {
	switch h {
	case HeadNone:
		return "none"
	case HeadClassifier:
		return "classifier"
	case HeadMLM:
		return "mlm"
	}
	return "auto"
}

// Architecture names used in config.json.
const (
	ArchModel          = "RobertaModel"
	ArchClassification = "RobertaForSequenceClassification"
	ArchMaskedLM       = "RobertaForMaskedLM"
)

// Problem types of Hugging Face's sequence-classification models.
const (
	ProblemSingleLabel = "single_label_classification"
	ProblemRegression  = "regression"
)

// Config holds the fields of a Hugging Face RobertaConfig that the model
// uses.
type Config struct {
	VocabSize                 int     `json:"vocab_size"`
	HiddenSize                int     `json:"hidden_size"`
	NumHiddenLayers           int     `json:"num_hidden_layers"`
	NumAttentionHeads         int     `json:"num_attention_heads"`
	IntermediateSize          int     `json:"intermediate_size"`
	HiddenAct                 string  `json:"hidden_act"`
	HiddenDropoutProb         float32 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float32 `json:"attention_probs_dropout_prob"`
	MaxPositionEmbeddings     int     `json:"max_position_embeddings"`
	TypeVocabSize             int     `json:"type_vocab_size"`
	InitializerRange          float32 `json:"initializer_range"`
	LayerNormEps              float32 `json:"layer_norm_eps"`
	PadTokenID                int     `json:"pad_token_id"`
	BOSTokenID                int     `json:"bos_token_id"`
	EOSTokenID                int     `json:"eos_token_id"`
	// ClassifierDropout is the dropout of the classification head; nil
	// means hidden_dropout_prob, as in Hugging Face.
	ClassifierDropout *float32 `json:"classifier_dropout"`
	// NumLabels is the number of classifier outputs (1: regression).
	NumLabels int `json:"-"`
	// ID2Label names the classes (index → name); nil gives LABEL_i.
	ID2Label []string `json:"-"`
	// ProblemType is "", "single_label_classification" or "regression".
	ProblemType string `json:"problem_type,omitempty"`
	// Architectures as written in config.json (decides the head for
	// HeadAuto).
	Architectures []string `json:"architectures,omitempty"`
}

// Base is roberta-base's configuration (with a two-class head).
func Base() Config {
	return Config{VocabSize: 50265, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072,
		HiddenAct: "gelu", HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1, MaxPositionEmbeddings: 514,
		TypeVocabSize: 1, InitializerRange: 0.02, LayerNormEps: 1e-5, PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2,
		NumLabels: 2, Architectures: []string{ArchMaskedLM}}
}

// Regression reports whether the classification head is a regression head
// (Hugging Face: problem_type "regression", or num_labels 1 without a
// problem type).
func (c *Config) Regression() bool {
	return c.ProblemType == ProblemRegression || (c.ProblemType == "" && c.NumLabels == 1)
}

// ClassifierDrop returns the dropout probability of the classification head.
func (c *Config) ClassifierDrop() float32 {
	if c.ClassifierDropout != nil {
		return *c.ClassifierDropout
	}
	return c.HiddenDropoutProb
}

// Labels returns the class names, LABEL_i where config.json names none.
func (c *Config) Labels() []string {
	out := make([]string, c.NumLabels)
	for i := range out {
		if i < len(c.ID2Label) && c.ID2Label[i] != "" {
			out[i] = c.ID2Label[i]
		} else {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return out
}

// ConfigHead returns the head config.json's architectures name (HeadMLM
// when the list is empty, as for pre-trained RoBERTa checkpoints).
func (c *Config) ConfigHead() Head {
	for _, a := range c.Architectures {
		switch a {
		case ArchClassification:
			return HeadClassifier
		case ArchMaskedLM:
			return HeadMLM
		case ArchModel:
			return HeadNone
		}
	}
	return HeadMLM
}

// HeadSize is the number of positions per head, C / NH.
func (c *Config) HeadSize() int { return c.HiddenSize / c.NumAttentionHeads }

// MaxSeqLen is the longest sequence the position embeddings allow:
// positions run from pad_token_id+1, so max_position_embeddings -
// pad_token_id - 1 tokens (512 for roberta-base).
func (c *Config) MaxSeqLen() int { return c.MaxPositionEmbeddings - c.PadTokenID - 1 }

// geluErf reports whether hidden_act is the exact (erf) GELU.
func (c *Config) geluErf() bool { return c.HiddenAct == "gelu" }

// ParseConfig reads a config.json (path is used in errors) and checks that
// the model is one this package implements.
func ParseConfig(b []byte, path string) (Config, error) {
	var raw struct {
		Config
		ModelType            string            `json:"model_type"`
		NumLabels            *int              `json:"num_labels"`
		ID2Label             map[string]string `json:"id2label"`
		PositionEmbedding    string            `json:"position_embedding_type"`
		IsDecoder            bool              `json:"is_decoder"`
		AddCrossAttention    bool              `json:"add_cross_attention"`
		TieWordEmbeddings    *bool             `json:"tie_word_embeddings"`
		ClassifierDropoutRaw json.RawMessage   `json:"classifier_dropout"`
	}
	// Defaults of transformers' RobertaConfig (BertConfig's, with RoBERTa's
	// special token ids).
	raw.VocabSize, raw.HiddenSize, raw.NumHiddenLayers, raw.NumAttentionHeads, raw.IntermediateSize = 50265, 768, 12, 12, 3072
	raw.HiddenAct = "gelu"
	raw.HiddenDropoutProb, raw.AttentionProbsDropoutProb = 0.1, 0.1
	raw.MaxPositionEmbeddings, raw.TypeVocabSize = 512, 2
	raw.InitializerRange, raw.LayerNormEps = 0.02, 1e-12
	raw.PadTokenID, raw.BOSTokenID, raw.EOSTokenID = 1, 0, 2
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c := raw.Config
	fail := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("config %s: %s", path, fmt.Sprintf(format, a...))
	}
	if raw.ModelType != "" && raw.ModelType != "roberta" {
		return fail("model_type is %q, want \"roberta\"", raw.ModelType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize}} {
		if f.v <= 0 {
			return fail("%s = %d, want a positive integer", f.name, f.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fail("hidden_size = %d is not a multiple of num_attention_heads = %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fail("pad_token_id = %d is outside the vocabulary [0, %d)", c.PadTokenID, c.VocabSize)
	}
	if c.PadTokenID+1 >= c.MaxPositionEmbeddings {
		return fail("max_position_embeddings = %d leaves no position after pad_token_id = %d", c.MaxPositionEmbeddings, c.PadTokenID)
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "gelu_pytorch_tanh":
	default:
		return fail("hidden_act %q is not supported (want gelu)", c.HiddenAct)
	}
	if raw.PositionEmbedding != "" && raw.PositionEmbedding != "absolute" {
		return fail("position_embedding_type %q is not supported (want absolute)", raw.PositionEmbedding)
	}
	if raw.IsDecoder || raw.AddCrossAttention {
		return fail("is_decoder / add_cross_attention = true is not supported (RoBERTa here is an encoder)")
	}
	if raw.TieWordEmbeddings != nil && !*raw.TieWordEmbeddings {
		return fail("tie_word_embeddings = false is not supported (the MLM decoder is tied to the word embeddings)")
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if p.v < 0 || p.v >= 1 {
			return fail("%s = %v, want a probability in [0, 1)", p.name, p.v)
		}
	}
	c.ClassifierDropout = nil
	if len(raw.ClassifierDropoutRaw) > 0 && string(raw.ClassifierDropoutRaw) != "null" {
		var v float32
		if err := json.Unmarshal(raw.ClassifierDropoutRaw, &v); err != nil || v < 0 || v >= 1 {
			return fail("classifier_dropout = %s, want null or a probability in [0, 1)", raw.ClassifierDropoutRaw)
		}
		c.ClassifierDropout = &v
	}
	if c.LayerNormEps <= 0 {
		return fail("layer_norm_eps = %v, want > 0", c.LayerNormEps)
	}
	// num_labels: the length of id2label (what Hugging Face serialises),
	// else an explicit num_labels, else 2.
	c.NumLabels = 2
	if raw.NumLabels != nil {
		c.NumLabels = *raw.NumLabels
	}
	if len(raw.ID2Label) > 0 {
		c.NumLabels = len(raw.ID2Label)
		c.ID2Label = make([]string, len(raw.ID2Label))
		keys := make([]string, 0, len(raw.ID2Label))
		for k := range raw.ID2Label {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(raw.ID2Label) {
				return fail("id2label key %q: want the integers 0..%d", k, len(raw.ID2Label)-1)
			}
			c.ID2Label[i] = raw.ID2Label[k]
		}
	}
	if c.NumLabels <= 0 {
		return fail("num_labels = %d, want a positive integer", c.NumLabels)
	}
	switch c.ProblemType {
	case "", ProblemSingleLabel, ProblemRegression:
	case "multi_label_classification":
		return fail("problem_type %q is not supported (want single_label_classification or regression)", c.ProblemType)
	default:
		return fail("problem_type %q is unknown (want single_label_classification or regression)", c.ProblemType)
	}
	if c.ProblemType == ProblemRegression && c.NumLabels != 1 {
		return fail("problem_type regression with %d labels: GLUE-style regression needs num_labels = 1", c.NumLabels)
	}
	return c, nil
}

// ReadConfig reads dir/config.json.
func ReadConfig(dir string) (Config, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return Config{}, fmt.Errorf("roberta: %w", err)
	}
	return ParseConfig(b, p)
}

// IsRoBERTaDir reports whether dir/config.json names model_type "roberta".
func IsRoBERTaDir(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var raw struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(b, &raw) == nil && raw.ModelType == "roberta"
}

// JSON renders the configuration as a Hugging Face config.json for the
// given head.
func (c Config) JSON(head Head) ([]byte, error) {
	arch := ArchMaskedLM
	switch head {
	case HeadClassifier:
		arch = ArchClassification
	case HeadNone:
		arch = ArchModel
	}
	m := map[string]any{
		"architectures":                []string{arch},
		"model_type":                   "roberta",
		"vocab_size":                   c.VocabSize,
		"hidden_size":                  c.HiddenSize,
		"num_hidden_layers":            c.NumHiddenLayers,
		"num_attention_heads":          c.NumAttentionHeads,
		"intermediate_size":            c.IntermediateSize,
		"hidden_act":                   c.HiddenAct,
		"hidden_dropout_prob":          c.HiddenDropoutProb,
		"attention_probs_dropout_prob": c.AttentionProbsDropoutProb,
		"max_position_embeddings":      c.MaxPositionEmbeddings,
		"type_vocab_size":              c.TypeVocabSize,
		"initializer_range":            c.InitializerRange,
		"layer_norm_eps":               c.LayerNormEps,
		"pad_token_id":                 c.PadTokenID,
		"bos_token_id":                 c.BOSTokenID,
		"eos_token_id":                 c.EOSTokenID,
		"position_embedding_type":      "absolute",
		"classifier_dropout":           nil,
		"use_cache":                    true,
		"torch_dtype":                  "float32",
	}
	if c.ClassifierDropout != nil {
		m["classifier_dropout"] = *c.ClassifierDropout
	}
	if head == HeadClassifier {
		labels := c.Labels()
		id2, l2id := map[string]string{}, map[string]int{}
		for i, l := range labels {
			id2[strconv.Itoa(i)] = l
			l2id[l] = i
		}
		m["id2label"], m["label2id"] = id2, l2id
		pt := c.ProblemType
		if pt == "" {
			pt = ProblemSingleLabel
			if c.NumLabels == 1 {
				pt = ProblemRegression
			}
		}
		m["problem_type"] = pt
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
