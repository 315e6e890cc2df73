#!/usr/bin/env bash
# Reproduces the SST-2 table of docs/results.md: tiny RoBERTa fine-tuned on
# SST-2 with HUT, LoRA, HiRA and full fine-tuning (one after the other, same
# seed), starting from the pre-trained models/tiny-roberta and from random
# weights of the same shape. Dev accuracy is on the whole GLUE SST-2 dev set
# (872 sentences); the majority class is printed for comparison.
#
#   tools/results/sst2.sh [steps]      (default 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-1000}
out=out/results
mkdir -p "$out"
go build -o "$out/hut" ./cmd/hut
hut="$out/hut"
"$hut" pretrain --recipe models/recipes/tiny-roberta.json --init-only --out "$out/tiny-roberta-random" >/dev/null
for init in pretrained random; do
	model=models/tiny-roberta
	[ "$init" = random ] && model="$out/tiny-roberta-random"
	echo "## $init ($model), $steps steps per method"
	"$hut" train --task sst2 --model "$model" --method hut,lora,hira,full --steps "$steps" --out "$out/sst2-$init" --quiet --checkpoint-every 0
done
