#!/usr/bin/env bash
# Reproduces the E2E table of docs/results.md: tiny GPT-2 fine-tuned on E2E
# NLG with HUT, LoRA, HiRA and full fine-tuning, starting from the
# pre-trained models/tiny-gpt2 and from random weights of the same shape.
#
#   tools/results/e2e.sh [steps] [dev-MRs]      (defaults 300 and 100)
#
# Writes out/results/e2e.jsonl (one JSON line per run) and prints a
# Markdown table. About 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-300}
ndev=${2:-100}
out=out/results
mkdir -p "$out"
go build -o "$out/hut" ./cmd/hut
hut="$out/hut"
"$hut" pretrain --recipe models/recipes/tiny-gpt2.json --init-only --out "$out/tiny-gpt2-random" >/dev/null
: > "$out/e2e.jsonl"
for init in pretrained random; do
	model=models/tiny-gpt2
	[ "$init" = random ] && model="$out/tiny-gpt2-random"
	for method in hut lora hira full; do
		dir="$out/e2e-$init-$method"
		rm -rf "$dir"
		log=$("$hut" train --model "$model" --method "$method" --steps "$steps" --batch 8 --seq 64 --out "$dir" --quiet --eval-every 0 --checkpoint-every 0)
		trainable=$(echo "$log" | sed -n 's/^trainable params: \([0-9,]*\) .*/\1/p' | tr -d ,)
		secs=$(tail -n 1 "$dir/metrics.jsonl" | sed -n 's/.*"elapsed_s":\([0-9.]*\).*/\1/p')
		adapter="$dir/adapter"
		[ "$method" = full ] && { adapter=""; model_eval="$dir/model"; } || model_eval="$model"
		ev=$("$hut" eval --model "$model_eval" ${adapter:+--adapter "$adapter"} --generate "$ndev" 2>/dev/null)
		echo "{\"init\":\"$init\",\"method\":\"$method\",\"steps\":$steps,\"trainable\":$trainable,\"train_s\":$secs,\"eval\":$ev}" | tee -a "$out/e2e.jsonl"
	done
done
go run ./tools/results/table e2e < "$out/e2e.jsonl"
