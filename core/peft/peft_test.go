package peft

import (
	"encoding/json"
	"strings"
	"testing"
)

func linears(names ...string) []*Linear {
	out := make([]*Linear, len(names))
	for i, n := range names {
		out[i] = &Linear{Name: n, In: 4, Out: 4}
	}
	return out
}

func TestMatchTargets(t *testing.T) {
	ls := linears("transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj",
		"roberta.encoder.layer.0.attention.output.dense", "roberta.encoder.layer.0.output.dense")
	for _, c := range []struct {
		targets []string
		want    string // one char per linear
		err     string
	}{
		{[]string{"c_attn"}, "100000", ""},
		{[]string{"c_proj"}, "010100", ""},      // suffix match selects both, as in PEFT
		{[]string{"attn.c_proj"}, "010000", ""}, // a longer suffix disambiguates
		{[]string{"mlp.c_proj", "c_fc"}, "001100", ""},
		{[]string{"output.dense"}, "000011", ""}, // PEFT's suffix rule: both dense layers
		{[]string{"all-linear"}, "111111", ""},
		{[]string{"transformer.h.0.mlp.c_fc"}, "001000", ""}, // the full name
		{[]string{"attn"}, "", "matches no layer"},           // a path component alone is no suffix of a module
		{[]string{"q_proj"}, "", "matches no layer"},
		{[]string{"ttn.c_attn"}, "", "matches no layer"}, // suffixes match at dots only
	} {
		sel, err := MatchTargets(ls, c.targets)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.targets, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.targets, err)
			continue
		}
		var got strings.Builder
		for _, s := range sel {
			if s {
				got.WriteByte('1')
			} else {
				got.WriteByte('0')
			}
		}
		if got.String() != c.want {
			t.Errorf("%v: selected %s, want %s", c.targets, got.String(), c.want)
		}
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		keys    []string // fields the PEFT config class of the method accepts
		forbid  []string // fields it would reject
		peftTyp string
	}{
		{Config{Method: "lora", R: 4, Alpha: 32, Dropout: 0.1, Targets: []string{"c_attn"}}, []string{"lora_alpha", "lora_dropout", "bias"}, []string{"hira_dropout", "init_noise"}, "LORA"},
		{Config{Method: "hira", R: 8, Dropout: 0.05, Targets: []string{"c_attn", "c_fc"}}, []string{"hira_dropout"}, []string{"lora_alpha", "lora_dropout", "bias", "init_noise"}, "HIRA"},
		{Config{Method: "hut", R: 2, Targets: []string{"all-linear"}}, []string{"init_noise"}, []string{"hira_dropout"}, "HUT"},
	} {
		j, err := configJSON(&c.cfg, Meta{BaseModel: "gpt2", FanInFanOut: true, TaskType: "CAUSAL_LM"})
		if err != nil {
			t.Fatal(err)
		}
		if j["peft_type"] != c.peftTyp || j["fan_in_fan_out"] != true || j["base_model_name_or_path"] != "gpt2" {
			t.Errorf("%s: %v", c.cfg.Method, j)
		}
		for _, k := range c.keys {
			if _, ok := j[k]; !ok {
				t.Errorf("%s: no %q", c.cfg.Method, k)
			}
		}
		for _, k := range c.forbid {
			if _, ok := j[k]; ok {
				t.Errorf("%s: carries %q, which PEFT's config class would reject", c.cfg.Method, k)
			}
		}
		b, _ := json.Marshal(j)
		back, meta, err := ParseConfig(b, "mem")
		if err != nil {
			t.Fatal(err)
		}
		if back.Method != c.cfg.Method || back.R != c.cfg.R || back.Dropout != c.cfg.Dropout || !meta.FanInFanOut || meta.TaskType != "CAUSAL_LM" {
			t.Errorf("%s: round trip %+v %+v", c.cfg.Method, back, meta)
		}
		if strings.Join(back.Targets, ",") != strings.Join(sortedCopy(c.cfg.Targets), ",") {
			t.Errorf("%s: targets %v", c.cfg.Method, back.Targets)
		}
	}
	// all-linear is written as PEFT writes it: a string.
	j, _ := configJSON(&Config{Method: "hut", R: 1, Targets: []string{"all-linear"}}, Meta{})
	if j["target_modules"] != "all-linear" {
		t.Errorf("all-linear written as %v", j["target_modules"])
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"peft_type":"DORA","r":4,"target_modules":["q"]}`, "unknown peft_type"},
		{`{"peft_type":"LORA","r":0,"target_modules":["q"]}`, "r = 0"},
		{`{"peft_type":"LORA","r":4}`, "target_modules is missing"},
		{`{"peft_type":"LORA","r":4,"target_modules":5}`, "string or a list"},
		{`{"peft_type":`, "adapter config"},
	} {
		_, _, err := ParseConfig([]byte(c.json), "x/adapter_config.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x/adapter_config.json") {
			t.Errorf("%s: error %v, want %q and the file name", c.json, err, c.want)
		}
	}
}

func TestSummary(t *testing.T) {
	for _, c := range []struct {
		tr, all int
		want    string
	}{
		{294912, 124734720, "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364"},
		{0, 0, "trainable params: 0 || all params: 0 || trainable%: 0.0000"},
		{999, 1000, "trainable params: 999 || all params: 1,000 || trainable%: 99.9000"},
	} {
		if got := TrainableSummary(c.tr, c.all); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if _, err := Lookup("HUT"); err != nil {
		t.Error(err)
	}
	if _, err := Lookup("dora"); err == nil || !strings.Contains(err.Error(), "full, hira, hut, lora") {
		t.Errorf("Lookup(dora): %v", err)
	}
}
