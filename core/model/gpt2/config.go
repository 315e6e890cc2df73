// Package gpt2 is GPT-2 exactly as Hugging Face's GPT2LMHeadModel defines
// it: learned position embeddings, pre-LayerNorm blocks, gelu_new, causal
// attention, a final LayerNorm and an LM head tied to the token embedding.
// Every layer has an explicit forward and backward pass over the
// tensor.Backend seam (llm.c style); the block linears are peft.Linear
// layers so that any method of the HUT family can adapt them.
package gpt2

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Config holds the fields of a Hugging Face GPT2Config that the model uses.
type Config struct {
	NLayer       int     `json:"n_layer"`
	NHead        int     `json:"n_head"`
	NEmbd        int     `json:"n_embd"`
	NPositions   int     `json:"n_positions"`
	NInner       int     `json:"n_inner,omitempty"` // 0: 4·n_embd
	VocabSize    int     `json:"vocab_size"`
	LayerNormEps float32 `json:"layer_norm_epsilon"`
	Activation   string  `json:"activation_function"`
	ResidPdrop   float32 `json:"resid_pdrop"`
	EmbdPdrop    float32 `json:"embd_pdrop"`
	AttnPdrop    float32 `json:"attn_pdrop"`
	BOSTokenID   int     `json:"bos_token_id"`
	EOSTokenID   int     `json:"eos_token_id"`
}

// Inner returns the MLP width.
func (c *Config) Inner() int {
	if c.NInner > 0 {
		return c.NInner
	}
	return 4 * c.NEmbd
}

// Small is GPT-2 124M's configuration.
func Small() Config {
	return Config{NLayer: 12, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257,
		LayerNormEps: 1e-5, Activation: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1,
		BOSTokenID: 50256, EOSTokenID: 50256}
}

// ParseConfig reads a config.json (path is used in errors) and checks that
// the model is one this package implements.
func ParseConfig(b []byte, path string) (Config, error) {
	var raw struct {
		Config
		NCtx                      int    `json:"n_ctx"`
		ModelType                 string `json:"model_type"`
		ScaleAttnWeights          *bool  `json:"scale_attn_weights"`
		ScaleAttnByInverseLayerID bool   `json:"scale_attn_by_inverse_layer_idx"`
		AddCrossAttention         bool   `json:"add_cross_attention"`
	}
	raw.LayerNormEps = 1e-5
	raw.Activation = "gelu_new"
	raw.BOSTokenID, raw.EOSTokenID = 50256, 50256
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c := raw.Config
	if c.NPositions == 0 {
		c.NPositions = raw.NCtx
	}
	fail := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("config %s: %s", path, fmt.Sprintf(format, a...))
	}
	if raw.ModelType != "" && raw.ModelType != "gpt2" {
		return fail("model_type is %q, want \"gpt2\"", raw.ModelType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"n_layer", c.NLayer}, {"n_head", c.NHead}, {"n_embd", c.NEmbd}, {"n_positions", c.NPositions}, {"vocab_size", c.VocabSize}} {
		if f.v <= 0 {
			return fail("%s = %d, want a positive integer", f.name, f.v)
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return fail("n_embd = %d is not a multiple of n_head = %d", c.NEmbd, c.NHead)
	}
	if c.NInner < 0 {
		return fail("n_inner = %d, want a positive integer or null", c.NInner)
	}
	switch c.Activation {
	case "gelu_new", "gelu_pytorch_tanh", "gelu":
	default:
		return fail("activation_function %q is not supported (want gelu_new)", c.Activation)
	}
	if raw.ScaleAttnWeights != nil && !*raw.ScaleAttnWeights {
		return fail("scale_attn_weights = false is not supported")
	}
	if raw.ScaleAttnByInverseLayerID {
		return fail("scale_attn_by_inverse_layer_idx = true is not supported")
	}
	if raw.AddCrossAttention {
		return fail("add_cross_attention = true is not supported")
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"resid_pdrop", c.ResidPdrop}, {"embd_pdrop", c.EmbdPdrop}, {"attn_pdrop", c.AttnPdrop}} {
		if p.v < 0 || p.v >= 1 {
			return fail("%s = %v, want a probability in [0, 1)", p.name, p.v)
		}
	}
	if c.LayerNormEps <= 0 {
		return fail("layer_norm_epsilon = %v, want > 0", c.LayerNormEps)
	}
	return c, nil
}

// ReadConfig reads dir/config.json.
func ReadConfig(dir string) (Config, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return Config{}, fmt.Errorf("gpt2: %w", err)
	}
	return ParseConfig(b, p)
}

// JSON renders the configuration as a Hugging Face config.json.
func (c Config) JSON() ([]byte, error) {
	m := map[string]any{
		"architectures":                   []string{"GPT2LMHeadModel"},
		"model_type":                      "gpt2",
		"n_layer":                         c.NLayer,
		"n_head":                          c.NHead,
		"n_embd":                          c.NEmbd,
		"n_positions":                     c.NPositions,
		"n_ctx":                           c.NPositions,
		"n_inner":                         nil,
		"vocab_size":                      c.VocabSize,
		"layer_norm_epsilon":              c.LayerNormEps,
		"activation_function":             c.Activation,
		"resid_pdrop":                     c.ResidPdrop,
		"embd_pdrop":                      c.EmbdPdrop,
		"attn_pdrop":                      c.AttnPdrop,
		"initializer_range":               0.02,
		"scale_attn_weights":              true,
		"scale_attn_by_inverse_layer_idx": false,
		"reorder_and_upcast_attn":         false,
		"use_cache":                       true,
		"bos_token_id":                    c.BOSTokenID,
		"eos_token_id":                    c.EOSTokenID,
		"torch_dtype":                     "float32",
	}
	if c.NInner > 0 {
		m["n_inner"] = c.NInner
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
