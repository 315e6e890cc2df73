#!/bin/sh
# Builds tools/llmc/bench_llmc.c against the train_gpt2.c of an llm.c
# checkout (karpathy/llm.c, the CPU reference of April 2024, e.g. commit
# 0109bd1) with llm.c's own Makefile flags (-Ofast -march=native, OpenMP),
# then times its GPT-2 124M training step (B=4, T=64) on random weights.
# Prints one JSON line, like `hut bench`. LLMC_MARCH replaces native (e.g.
# haswell: the AVX2 build, to compare with HUT_ISA=avx2 on an AVX-512 CPU).
#
#	tools/llmc/run.sh /path/to/llm.c [steps]     # OMP_NUM_THREADS defaults to 2
set -eu
dir=${1:?usage: tools/llmc/run.sh /path/to/llm.c [steps]}
steps=${2:-5}
[ -f "$dir/train_gpt2.c" ] || { echo "run.sh: no train_gpt2.c in $dir" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -Ofast -march="${LLMC_MARCH:-native}" -fopenmp -DOMP -Wno-unused-result -Wno-unknown-pragmas \
	-I"$dir" -o "$out/bench_llmc" "$here/bench_llmc.c" -lm
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$out/bench_llmc" "$steps" "$out/ckpt.bin"
