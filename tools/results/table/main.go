// Command table turns the JSON lines written by tools/results/*.sh into the
// Markdown tables of docs/results.md.
//
//	go run ./tools/results/table e2e < out/results/e2e.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "e2e" {
		fmt.Fprintln(os.Stderr, "usage: table e2e < results.jsonl")
		os.Exit(2)
	}
	fmt.Println("| init | method | trainable | train time | dev loss | BLEU | NIST | METEOR* | ROUGE-L | CIDEr |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Init, Method string
			Trainable    int
			TrainS       float64 `json:"train_s"`
			Eval         struct {
				EvalLoss float64 `json:"eval_loss"`
				BLEU     float64 `json:"bleu"`
				NIST     float64 `json:"nist"`
				METEOR   float64 `json:"meteor"`
				RougeL   float64 `json:"rouge_l"`
				CIDEr    float64 `json:"cider"`
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "table:", err)
			os.Exit(1)
		}
		e := r.Eval
		fmt.Printf("| %s | %s | %d | %.0f s | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", r.Init, r.Method, r.Trainable, r.TrainS,
			e.EvalLoss, 100*e.BLEU, e.NIST, 100*e.METEOR, 100*e.RougeL, e.CIDEr)
	}
}
