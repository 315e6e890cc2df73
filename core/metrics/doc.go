// Package metrics implements the evaluation metrics of the E2E NLG
// challenge and of GLUE with the reference definitions:
//
//   - BLEU and NIST as NIST's mteval-v13a.pl computes them in the E2E
//     scorer (Mteval, MtevalTokenize);
//   - METEOR 1.5's formula with the exact-match stage only (Meteor);
//   - ROUGE-L and CIDEr-D as pycocoevalcap computes them (RougeL, CIDErD),
//     after a PTB-style tokenisation (CocoTokenize);
//   - E2E, which runs all five as tuetschek/e2e-metrics does;
//   - accuracy, binary F1, Matthews correlation, Pearson and Spearman (with
//     average ranks for ties) as scikit-learn and scipy define them.
//
// docs/metrics.md gives the exact definitions and the known deviations.
package metrics
