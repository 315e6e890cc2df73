package main

import (
	"errors"
	"io"
)

// pretrainRoBERTa runs a masked-LM recipe.
func pretrainRoBERTa(r *Recipe, recipePath, out string, quiet bool, stdout, stderr io.Writer) error {
	return errors.New("roberta recipes need the RoBERTa model package, which is not built yet")
}

func initRoBERTa(r *Recipe, recipePath, out string, stdout io.Writer) error {
	return errors.New("roberta recipes need the RoBERTa model package, which is not built yet")
}
