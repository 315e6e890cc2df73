package main

import (
	"fmt"
	"io"

	"github.com/hutml/hut/core/model/roberta"
)

func init() {
	register("merge", "merge an adapter into its base model and export a Hugging Face checkpoint", runMerge)
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", "--model DIR --adapter DIR --export OUT [--dtype F32|F16|BF16]", stderr)
	model := fs.String("model", defaultGPT2, "base checkpoint directory or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory")
	export := fs.String("export", "", "output directory for the merged checkpoint (config.json + model.safetensors)")
	dtype := fs.String("dtype", "F32", "storage type of the exported weights: F32, F16 or BF16")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *adapter == "" || *export == "" {
		return usagef("--adapter and --export are required")
	}
	switch *dtype {
	case "F32", "F16", "BF16":
	default:
		return usagef("--dtype %q: want F32, F16 or BF16", *dtype)
	}
	dir, err := resolveModel(*model)
	if err != nil {
		return err
	}
	var method string
	if roberta.IsRoBERTaDir(dir) {
		// The adapter's classifier (modules_to_save) becomes the exported head.
		m, err := loadRoBERTaFor(dir, *adapter, roberta.HeadAuto, roberta.LoadOptions{})
		if err != nil {
			return err
		}
		if err := m.Merge(); err != nil {
			return err
		}
		if err := m.SaveHF(*export, *dtype); err != nil {
			return err
		}
		method = m.PEFT.Method
	} else {
		m, _, err := loadGPT2Adapted(dir, *adapter, true)
		if err != nil {
			return err
		}
		if err := m.SaveHF(*export, *dtype); err != nil {
			return err
		}
		method = m.PEFT.Method
	}
	if err := copyTokenizerFiles(dir, *export); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s (%s) into %s and wrote %s\n", *adapter, method, dir, *export)
	return nil
}
