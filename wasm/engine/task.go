package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/train"
)

// Task names.
const (
	TaskE2E  = "e2e"
	TaskSST2 = "sst2"
)

// e2eExample is one E2E row tokenised the way microsoft/LoRA encodes E2E
// for GPT-2 (cmd/hut/lmdata.go): prompt = linearised MR + <|endoftext|>,
// completion = " " + reference (the end token is added when the example
// is cut to the sequence length).
type e2eExample struct {
	mr         string // the MR as given (for generation)
	prompt     []int32
	completion []int32
}

// taskData is a loaded task: tokenised for GPT-2 (E2E) or parsed for
// RoBERTa (SST-2; encoded at setup, when the sequence length is known).
type taskData struct {
	name               string
	e2eTrain, e2eDev   []e2eExample
	glue               *data.Task
	glueTrain, glueDev []data.Example
}

// TaskOptions are hut.loadTask's arguments.
type TaskOptions struct {
	Task     string `json:"task"`
	Train    string `json:"train"`
	Dev      string `json:"dev"`
	MaxTrain int    `json:"maxTrain"`
	MaxDev   int    `json:"maxDev"`
}

// LoadTask is hut.loadTask: the texts of the train and dev files (E2E CSV
// or LoRA's "context||completion" lines; GLUE TSV for SST-2).
func (e *Engine) LoadTask(o TaskOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("loadTask: no model loaded: call hut.loadModel first")
	}
	if e.tok == nil {
		return nil, fmt.Errorf("loadTask: the model %s was loaded without tokenizer files", e.src.name)
	}
	if o.MaxTrain < 0 || o.MaxDev < 0 {
		return nil, fmt.Errorf("loadTask: maxTrain = %d, maxDev = %d: want ≥ 0 (0: all)", o.MaxTrain, o.MaxDev)
	}
	if strings.TrimSpace(o.Train) == "" {
		return nil, errors.New("loadTask: train is empty (pass the text of the training file)")
	}
	name := strings.ToLower(strings.ReplaceAll(o.Task, "-", ""))
	var td *taskData
	var err error
	switch name {
	case TaskE2E:
		if e.src.arch != ArchGPT2 {
			return nil, fmt.Errorf("loadTask: e2e is a generation task for GPT-2; the loaded model is %s", e.src.arch)
		}
		td, err = e.loadE2E(o)
	case TaskSST2:
		if e.src.arch != ArchRoBERTa {
			return nil, fmt.Errorf("loadTask: sst2 is a classification task for RoBERTa; the loaded model is %s", e.src.arch)
		}
		td, err = e.loadSST2(o)
	default:
		return nil, fmt.Errorf("loadTask: unknown task %q (want \"e2e\" or \"sst2\")", o.Task)
	}
	if err != nil {
		return nil, fmt.Errorf("loadTask %s: %w", name, err)
	}
	e.task = td
	if e.run != nil {
		e.run.resetData()
	}
	out := map[string]any{"task": name}
	notes := []string{}
	if name == TaskE2E {
		out["train"], out["dev"], out["metric"] = len(td.e2eTrain), len(td.e2eDev), "loss"
	} else {
		out["train"], out["dev"], out["metric"] = len(td.glueTrain), len(td.glueDev), data.MetricAccuracy
		out["labels"] = e.src.rcfg.Labels()
		if e.mdl.r != nil {
			notes = append(notes, e.mdl.r.Notes...)
		}
	}
	out["notes"] = notes
	return out, nil
}

func (e *Engine) loadE2E(o TaskOptions) (*taskData, error) {
	td := &taskData{name: TaskE2E}
	var err error
	td.e2eTrain, err = e.e2eExamples(o.Train, "train", o.MaxTrain)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(o.Dev) != "" {
		td.e2eDev, err = e.e2eExamples(o.Dev, "dev", o.MaxDev)
		if err != nil {
			return nil, err
		}
	}
	return td, nil
}

// e2eExamples parses an E2E CSV (or LoRA's context||completion lines) and
// tokenises it.
func (e *Engine) e2eExamples(text, name string, limit int) ([]e2eExample, error) {
	first, _, _ := strings.Cut(text, "\n")
	lora := strings.Contains(first, "||")
	var rows []data.E2ERow
	var err error
	if lora {
		rows, err = data.ReadE2ELoRA(strings.NewReader(text), name)
	} else {
		rows, err = data.ReadE2ECSV(strings.NewReader(text), name)
	}
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	eos := int32(e.tok.EOS())
	out := make([]e2eExample, 0, len(rows))
	what := "tokenising " + name
	for i, r := range rows {
		ctx := r.MR
		if !lora {
			ctx, err = data.LinearizeMR(r.MR)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, r.Line, err)
			}
		}
		prompt := append(toInt32(e.tok.Encode(ctx)), eos)
		out = append(out, e2eExample{mr: r.MR, prompt: prompt, completion: toInt32(e.tok.Encode(" " + r.Ref))})
		if (i+1)%2000 == 0 {
			e.report(what, int64(i+1), int64(len(rows)), nil)
		}
	}
	e.report(what, int64(len(rows)), int64(len(rows)), nil)
	return out, nil
}

func (e *Engine) loadSST2(o TaskOptions) (*taskData, error) {
	task, err := data.LookupTask(TaskSST2)
	if err != nil {
		return nil, err
	}
	td := &taskData{name: TaskSST2, glue: task}
	td.glueTrain, err = data.ReadGLUE(task, strings.NewReader(o.Train), "train")
	if err != nil {
		return nil, err
	}
	if o.MaxTrain > 0 && len(td.glueTrain) > o.MaxTrain {
		td.glueTrain = td.glueTrain[:o.MaxTrain]
	}
	for _, ex := range td.glueTrain {
		if ex.Label < 0 {
			return nil, fmt.Errorf("train line %d: no label (is this the unlabelled test split?)", ex.Line)
		}
	}
	if strings.TrimSpace(o.Dev) != "" {
		td.glueDev, err = data.ReadGLUE(task, strings.NewReader(o.Dev), "dev")
		if err != nil {
			return nil, err
		}
		if o.MaxDev > 0 && len(td.glueDev) > o.MaxDev {
			td.glueDev = td.glueDev[:o.MaxDev]
		}
		for _, ex := range td.glueDev {
			if ex.Label < 0 {
				return nil, fmt.Errorf("dev line %d: no label (is this the unlabelled test split?)", ex.Line)
			}
		}
	}
	// The model needs a two-class classifier.
	c := e.src.rcfg
	switch {
	case e.src.rhead == roberta.HeadClassifier && c.NumLabels == 2 && !c.Regression():
	case e.src.rhead == roberta.HeadClassifier:
		return nil, fmt.Errorf("the model's classifier has %d outputs (regression %v); SST-2 needs 2 classes", c.NumLabels, c.Regression())
	default:
		c.NumLabels, c.ProblemType = 2, roberta.ProblemSingleLabel
		c.ID2Label = []string{"negative", "positive"}
		e.src.rcfg, e.src.rhead = c, roberta.HeadClassifier
		if err := e.buildModel(); err != nil {
			return nil, fmt.Errorf("adding a classifier head: %w", err)
		}
	}
	return td, nil
}

// lmExamples cuts the E2E examples to T+1 tokens.
func lmExamples(exs []e2eExample, eos int32, T int) []train.LMExample {
	out := make([]train.LMExample, len(exs))
	for i, x := range exs {
		out[i] = train.PromptCompletion(x.prompt, x.completion, eos, T)
	}
	return out
}

// glueExamples encodes SST-2 rows for RoBERTa, cut to maxLen tokens.
func (e *Engine) glueExamples(rows []data.Example, maxLen int) ([]roberta.GLUEExample, error) {
	exs, _, err := roberta.EncodeGLUE(e.tok, e.task.glue, rows, maxLen)
	return exs, err
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}
