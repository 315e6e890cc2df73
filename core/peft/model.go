package peft

import "github.com/hutml/hut/core/tensor"

// The helpers below are what every model needs on top of its own parameters
// (base, in the model's order) and its adapted linears.

// Trainable returns the parameters the optimizer updates: trainable base
// parameters, then adapter parameters, each once.
func Trainable(base []*tensor.Param, linears []*Linear) []*tensor.Param {
	var out []*tensor.Param
	seen := map[*tensor.Param]bool{}
	add := func(p *tensor.Param) {
		if p.Trainable() && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range base {
		add(p)
	}
	for _, l := range linears {
		if l.Ad != nil {
			for _, p := range l.Ad.Params() {
				add(p)
			}
		}
	}
	return out
}

// TrainableNamed returns the trainable parameters by unique name, for
// optimizer checkpoints: base parameters by their model name, adapter
// parameters by their PEFT key.
func TrainableNamed(base []*tensor.Param, linears []*Linear) map[string]*tensor.Param {
	out := map[string]*tensor.Param{}
	for _, p := range base {
		if p.Trainable() {
			out[p.Name] = p
		}
	}
	for _, l := range linears {
		if l.Ad != nil {
			for _, p := range l.Ad.Params() {
				if p.Trainable() {
					out[AdapterKey(l, p)] = p
				}
			}
		}
	}
	return out
}

// CountParams returns (trainable, all) as PEFT's print_trainable_parameters
// counts them: all is the base model plus the adapter parameters (full
// fine-tuning adds none).
func CountParams(base []*tensor.Param, linears []*Linear, cfg *Config) (trainable, all int) {
	for _, p := range base {
		all += p.Size()
	}
	if cfg != nil && cfg.Method != "full" {
		for _, l := range linears {
			if l.Ad != nil {
				for _, p := range l.Ad.Params() {
					all += p.Size()
				}
			}
		}
	}
	for _, p := range Trainable(base, linears) {
		trainable += p.Size()
	}
	return trainable, all
}

// MergeAll folds every adapter into its base weight.
func MergeAll(be tensor.Backend, linears []*Linear) error {
	for _, l := range linears {
		if l.Ad != nil {
			if err := l.Ad.Merge(be, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnmergeAll restores every base weight.
func UnmergeAll(be tensor.Backend, linears []*Linear) error {
	for _, l := range linears {
		if l.Ad != nil {
			if err := l.Ad.Unmerge(be, l); err != nil {
				return err
			}
		}
	}
	return nil
}
