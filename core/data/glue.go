package data

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Metric names used by the GLUE registry.
const (
	MetricAccuracy = "accuracy"
	MetricF1       = "f1"
	MetricMCC      = "mcc"
	MetricPearson  = "pearson"
	MetricSpearman = "spearman"
)

// Task describes one GLUE task in GLUE's own TSV format (tab-separated, no
// quoting, as GLUE's download script writes and Hugging Face's GLUE
// processors read).
type Task struct {
	Name     string   // registry name, e.g. "sst2"
	GLUEName string   // GLUE's folder name, e.g. "SST-2"
	Text1    []string // header names of the first text column (any one)
	Text2    []string // header names of the second text column, nil for single-sentence tasks
	Label    []string // header names of the label column
	// NoHeader tasks (CoLA) have no header in train/dev; their columns are
	// fixed: ColText1 and ColLabel.
	NoHeader           bool
	ColText1, ColLabel int
	// Labels are the class names in id order; a label field may be a name
	// or its id. Nil for regression (STS-B).
	Labels     []string
	Regression bool
	Metrics    []string // in the order GLUE reports them
	Positive   int      // class id that F1 treats as positive
	// Files are GLUE's file names of the labelled splits.
	Files map[string]string
	// Embedded says whether package datasets carries train/dev as
	// "glue/<Name>/train.tsv" and "glue/<Name>/dev.tsv".
	Embedded bool
}

// NumLabels is the number of classes (1 for regression).
func (t *Task) NumLabels() int {
	if t.Regression {
		return 1
	}
	return len(t.Labels)
}

var tasks = []*Task{
	{Name: "cola", GLUEName: "CoLA", NoHeader: true, ColText1: 3, ColLabel: 1, Text1: []string{"sentence"},
		Labels: []string{"0", "1"}, Metrics: []string{MetricMCC}, Positive: 1,
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "sst2", GLUEName: "SST-2", Text1: []string{"sentence"}, Label: []string{"label"},
		Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy}, Positive: 1,
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "mrpc", GLUEName: "MRPC", Text1: []string{"#1 String", "sentence1"}, Text2: []string{"#2 String", "sentence2"},
		Label: []string{"Quality", "label"}, Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy, MetricF1}, Positive: 1,
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "stsb", GLUEName: "STS-B", Text1: []string{"sentence1"}, Text2: []string{"sentence2"}, Label: []string{"score", "label"},
		Regression: true, Metrics: []string{MetricPearson, MetricSpearman},
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "rte", GLUEName: "RTE", Text1: []string{"sentence1"}, Text2: []string{"sentence2"}, Label: []string{"label"},
		Labels: []string{"entailment", "not_entailment"}, Metrics: []string{MetricAccuracy},
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "wnli", GLUEName: "WNLI", Text1: []string{"sentence1"}, Text2: []string{"sentence2"}, Label: []string{"label"},
		Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy}, Positive: 1,
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}, Embedded: true},
	{Name: "mnli", GLUEName: "MNLI", Text1: []string{"sentence1"}, Text2: []string{"sentence2"}, Label: []string{"gold_label", "label"},
		Labels: []string{"entailment", "neutral", "contradiction"}, Metrics: []string{MetricAccuracy},
		Files: map[string]string{"train": "train.tsv", "dev_matched": "dev_matched.tsv", "dev_mismatched": "dev_mismatched.tsv"}},
	{Name: "qnli", GLUEName: "QNLI", Text1: []string{"question"}, Text2: []string{"sentence"}, Label: []string{"label"},
		Labels: []string{"entailment", "not_entailment"}, Metrics: []string{MetricAccuracy},
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}},
	{Name: "qqp", GLUEName: "QQP", Text1: []string{"question1"}, Text2: []string{"question2"}, Label: []string{"is_duplicate", "label"},
		Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy, MetricF1}, Positive: 1,
		Files: map[string]string{"train": "train.tsv", "dev": "dev.tsv"}},
}

// Tasks returns the registry, in GLUE's order of presentation.
func Tasks() []*Task { return tasks }

// TaskNames returns the registry names.
func TaskNames() []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.Name)
	}
	return out
}

// LookupTask finds a task by registry name or GLUE name, ignoring case and
// "-" ("SST-2", "sst2", "STS-B" all work).
func LookupTask(name string) (*Task, error) {
	key := strings.ToLower(strings.ReplaceAll(name, "-", ""))
	for _, t := range tasks {
		if key == t.Name || key == strings.ToLower(strings.ReplaceAll(t.GLUEName, "-", "")) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown GLUE task %q (want one of %s)", name, strings.Join(TaskNames(), ", "))
}

// Example is one row of a GLUE file.
type Example struct {
	Text1, Text2 string
	// Label is the class id (-1 when the file has no label column, as in
	// GLUE's test files); Score is the STS-B similarity (NaN when absent).
	Label int
	Score float64
	Line  int
}

// ParseLabel turns a label field (a class name or its id) into a class id.
func (t *Task) ParseLabel(s string) (int, error) {
	s = strings.TrimSpace(s)
	for i, l := range t.Labels {
		if s == l {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(t.Labels) {
		return i, nil
	}
	return -1, fmt.Errorf("unknown %s label %q (want one of %s, or 0..%d)", t.Name, s, strings.Join(t.Labels, ", "), len(t.Labels)-1)
}

// ParseScore parses an STS-B similarity score.
func (t *Task) ParseScore(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s score %q is not a finite number", t.Name, s)
	}
	return v, nil
}

func findCol(header []string, names []string) int {
	for _, n := range names {
		for i, h := range header {
			if strings.TrimSpace(h) == n {
				return i
			}
		}
	}
	return -1
}

// ReadGLUE reads a GLUE TSV file of task t. Columns are found by the
// header (CoLA's train/dev files have none and use fixed columns; its test
// file's "index  sentence" header is recognised). Every row must have as
// many fields as the header (or, for CoLA, 4); labels must be in the task's
// label set; a file without a label column (a test split) gives Label -1.
func ReadGLUE(t *Task, r io.Reader, name string) ([]Example, error) {
	var out []Example
	nf := -1
	c1, c2, cl := -1, -1, -1
	err := eachLine(r, name, func(s string, n int) error {
		if s == "" {
			return errorf(name, n, "empty line (want %s rows)", t.GLUEName)
		}
		f := strings.Split(s, "\t")
		if nf < 0 { // first line
			nf = len(f)
			if t.NoHeader && !(len(f) >= 2 && f[0] == "index") {
				if len(f) != 4 {
					return errorf(name, n, "want 4 tab-separated fields (source, label, original label, sentence) for %s, got %d", t.GLUEName, len(f))
				}
				c1, cl = t.ColText1, t.ColLabel
			} else {
				c1 = findCol(f, t.Text1)
				if c1 < 0 {
					return errorf(name, n, "header %q has no %s column %q", f, t.GLUEName, t.Text1)
				}
				if t.Text2 != nil {
					if c2 = findCol(f, t.Text2); c2 < 0 {
						return errorf(name, n, "header %q has no %s column %q", f, t.GLUEName, t.Text2)
					}
				}
				cl = findCol(f, t.Label)
				return nil
			}
		}
		if len(f) != nf {
			return errorf(name, n, "%d tab-separated fields, want %d (as in line 1)", len(f), nf)
		}
		ex := Example{Text1: f[c1], Label: -1, Score: math.NaN(), Line: n}
		if c2 >= 0 {
			ex.Text2 = f[c2]
		}
		if cl >= 0 {
			if t.Regression {
				v, err := t.ParseScore(f[cl])
				if err != nil {
					return errorf(name, n, "%v", err)
				}
				ex.Score = v
			} else {
				id, err := t.ParseLabel(f[cl])
				if err != nil {
					return errorf(name, n, "%v", err)
				}
				ex.Label = id
			}
		}
		out = append(out, ex)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errorf(name, 0, "no data rows")
	}
	return out, nil
}

// Predictions are the model outputs or gold values of a GLUE split, one
// per example: class ids, or scores for a regression task.
type Predictions struct {
	Labels []int
	Scores []float64
}

// Len is the number of values.
func (p Predictions) Len() int { return max(len(p.Labels), len(p.Scores)) }

// ReadPredictions reads one value per line for task t: a class name or id
// (a float for STS-B). GLUE's submission format also works: a header
// "index<TAB>prediction" and lines "i<TAB>value" (the last field is used).
// A GLUE TSV file of the task (such as dev.tsv) is recognised by its
// header (or, for CoLA, by its 4 fields) and its gold labels are returned.
func ReadPredictions(t *Task, r io.Reader, name string) (Predictions, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Predictions{}, errorf(name, 0, "read: %v", err)
	}
	text := string(raw)
	first, _, _ := strings.Cut(strings.TrimPrefix(text, "\ufeff"), "\n")
	first = strings.TrimSuffix(first, "\r")
	ff := strings.Split(first, "\t")
	looksTSV := (t.NoHeader && len(ff) == 4) || (!t.NoHeader && len(ff) > 1 && findCol(ff, t.Text1) >= 0)
	if looksTSV {
		exs, err := ReadGLUE(t, strings.NewReader(text), name)
		if err != nil {
			return Predictions{}, err
		}
		var p Predictions
		for _, ex := range exs {
			if t.Regression {
				if math.IsNaN(ex.Score) {
					return Predictions{}, errorf(name, ex.Line, "no %s score column", t.GLUEName)
				}
				p.Scores = append(p.Scores, ex.Score)
			} else {
				if ex.Label < 0 {
					return Predictions{}, errorf(name, ex.Line, "no %s label column", t.GLUEName)
				}
				p.Labels = append(p.Labels, ex.Label)
			}
		}
		return p, nil
	}
	var p Predictions
	err = eachLine(strings.NewReader(text), name, func(s string, n int) error {
		s = strings.TrimSpace(s)
		if n == 1 && strings.HasPrefix(strings.ToLower(s), "index\t") {
			return nil
		}
		if s == "" {
			return errorf(name, n, "empty line (want one %s value per line)", t.Name)
		}
		if i := strings.LastIndexByte(s, '\t'); i >= 0 {
			s = s[i+1:]
		}
		if t.Regression {
			v, err := t.ParseScore(s)
			if err != nil {
				return errorf(name, n, "%v", err)
			}
			p.Scores = append(p.Scores, v)
			return nil
		}
		id, err := t.ParseLabel(s)
		if err != nil {
			return errorf(name, n, "%v", err)
		}
		p.Labels = append(p.Labels, id)
		return nil
	})
	if err != nil {
		return Predictions{}, err
	}
	if p.Len() == 0 {
		return p, errorf(name, 0, "no values")
	}
	return p, nil
}

// SortedFiles returns the task's split names in a stable order.
func (t *Task) SortedFiles() []string {
	var out []string
	for k := range t.Files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
