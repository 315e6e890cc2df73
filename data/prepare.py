#!/usr/bin/env python3
"""Rebuilds the embedded data files of package datasets from the project's
shared data folder (shared/data in the project workspace).

Usage: python3 data/prepare.py /path/to/shared/data

What it does (see each SOURCE.md for provenance and licences):
  e2e/      trainset.csv, devset.csv, testset_w_refs.csv, and LoRA's
            valid.txt/test.txt, gzip-compressed unchanged.
  glue/cola train.tsv = raw/in_domain_train.tsv; dev.tsv = raw/in_domain_dev.tsv
            + raw/out_of_domain_dev.tsv (the GLUE CoLA dev set, 1043 rows).
  glue/sst2 train.tsv = alps_split train.tsv + dev.tsv rows (the 67349 rows of
            the GLUE SST-2 train set, in that repository's shuffled order);
            dev.tsv = alps_split test.tsv (the GLUE SST-2 dev set, 872 rows).
  glue/mrpc train.tsv, dev.tsv unchanged (GLUE format).
  glue/stsb train.tsv, dev.tsv unchanged (GLUE format).
  glue/rte  train.tsv, dev.tsv converted from the Hugging Face export
            (tab-separated, CSV-quoted, columns sentence1 sentence2 label idx,
            label 0/1) to GLUE's format: index, sentence1, sentence2, label with
            0 -> entailment, 1 -> not_entailment, no quoting.
  glue/wnli train.tsv = resplit train.tsv + dev.tsv rows (the 635-row GLUE WNLI
            train set); dev.tsv = resplit test.tsv (the GLUE WNLI dev set, 71 rows).
  tinyshakespeare/input.txt unchanged.
All outputs are written with gzip -9 and a zero mtime, so rebuilding is
byte-for-byte reproducible.
"""
import csv
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(HERE, rel + ".gz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(data)


def read(src, rel):
    with open(os.path.join(src, rel), "rb") as f:
        return f.read()


def lines_of(b):
    text = b.decode("utf-8")
    ls = text.split("\n")
    if ls and ls[-1] == "":
        ls.pop()
    return ls


def concat_tsv(*blobs):
    out = []
    for i, b in enumerate(blobs):
        ls = lines_of(b)
        out.extend(ls if i == 0 else ls[1:])  # keep the first header only
    return ("\n".join(out) + "\n").encode("utf-8")


def rte_to_glue(b):
    rows = list(csv.reader(io.StringIO(b.decode("utf-8")), delimiter="\t", quotechar='"'))
    header, rows = rows[0], rows[1:]
    assert header == ["sentence1", "sentence2", "label", "idx"], header
    names = {"0": "entailment", "1": "not_entailment"}
    out = ["index\tsentence1\tsentence2\tlabel"]
    for s1, s2, label, idx in rows:
        assert "\t" not in s1 + s2 and "\n" not in s1 + s2
        out.append("\t".join([idx, s1, s2, names[label]]))
    return ("\n".join(out) + "\n").encode("utf-8")


def main(src):
    e2e = os.path.join(src, "e2e")
    for name in ["trainset.csv", "devset.csv", "testset_w_refs.csv"]:
        write("e2e/" + name, read(e2e, name))
    write("e2e/lora_valid.txt", read(e2e, "lora_format/valid.txt"))
    write("e2e/lora_test.txt", read(e2e, "lora_format/test.txt"))

    g = os.path.join(src, "glue")
    write("glue/cola/train.tsv", read(g, "CoLA/raw/in_domain_train.tsv"))
    write("glue/cola/dev.tsv", read(g, "CoLA/raw/in_domain_dev.tsv") + read(g, "CoLA/raw/out_of_domain_dev.tsv"))
    write("glue/sst2/train.tsv", concat_tsv(read(g, "SST-2/alps_split/train.tsv"), read(g, "SST-2/alps_split/dev.tsv")))
    write("glue/sst2/dev.tsv", read(g, "SST-2/alps_split/test.tsv"))
    for split in ["train", "dev"]:
        write("glue/mrpc/%s.tsv" % split, read(g, "MRPC/%s.tsv" % split))
        write("glue/stsb/%s.tsv" % split, read(g, "STS-B/%s.tsv" % split))
        write("glue/rte/%s.tsv" % split, rte_to_glue(read(g, "RTE/%s.tsv" % split)))
    write("glue/wnli/train.tsv", concat_tsv(read(g, "WNLI/resplit/train.tsv"), read(g, "WNLI/resplit/dev.tsv")))
    write("glue/wnli/dev.tsv", read(g, "WNLI/resplit/test.tsv"))

    write("tinyshakespeare/input.txt", read(os.path.join(src, "tinyshakespeare"), "input.txt"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
