package data

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestReadE2ECSV(t *testing.T) {
	in := "\ufeffmr,ref\n" +
		"\"name[A], eatType[pub]\",A is a pub.\n" +
		"\"name[A], eatType[pub]\",\"A, a pub.\"\n" +
		"\n" +
		"\"name[B], priceRange[Â£20-25]\",\"B costs\nÂ£20-25.\"\n" +
		"\"name[A], eatType[pub]\",Again A.\n"
	rows, err := ReadE2ECSV(strings.NewReader(in), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[2].Ref != "B costs\n£20-25." || rows[2].MR != "name[B], priceRange[£20-25]" || rows[2].Line != 5 || rows[3].Line != 7 {
		t.Fatalf("rows = %+v", rows)
	}
	g := GroupE2E(rows)
	if len(g) != 3 || !slices.Equal(g[0].Refs, []string{"A is a pub.", "A, a pub."}) {
		t.Errorf("GroupE2E = %+v", g)
	}
	if g := GroupE2EByMR(rows); len(g) != 2 || len(g[0].Refs) != 3 {
		t.Errorf("GroupE2EByMR = %+v", g)
	}
	// testset.csv style: MR column only; headerless two-column file; TSV.
	rows, err = ReadE2ECSV(strings.NewReader("MR\n\"name[A]\"\n"), "t.csv")
	if err != nil || len(rows) != 1 || rows[0].Ref != "" {
		t.Errorf("MR-only: %+v %v", rows, err)
	}
	rows, err = ReadE2ECSV(strings.NewReader("name[A],A.\nname[B],B.\n"), "h.csv")
	if err != nil || len(rows) != 2 || rows[1].Ref != "B." {
		t.Errorf("headerless: %+v %v", rows, err)
	}
	rows, err = ReadE2ECSV(strings.NewReader("src\ttarget\nname[A]\tA.\n"), "x.tsv")
	if err != nil || len(rows) != 1 || rows[0].Ref != "A." {
		t.Errorf("tsv: %+v %v", rows, err)
	}
}

func TestReadErrors(t *testing.T) {
	cola, _ := LookupTask("cola")
	sst2, _ := LookupTask("sst2")
	stsb, _ := LookupTask("STS-B")
	tests := []struct {
		name string
		err  error
		want string // substring: file:line and what was expected
	}{
		{"csv ragged", func() error {
			_, err := ReadE2ECSV(strings.NewReader("mr,ref\na,b\na,b,c\n"), "r.csv")
			return err
		}(), "r.csv:3:"},
		{"csv bad utf8", func() error {
			_, err := ReadE2ECSV(strings.NewReader("mr,ref\na,b\na,\xff\n"), "u.csv")
			return err
		}(), "u.csv:3: invalid UTF-8"},
		{"csv 3 cols no header", func() error {
			_, err := ReadE2ECSV(strings.NewReader("a,b,c\n"), "n.csv")
			return err
		}(), "exactly 2 columns"},
		{"csv empty", func() error { _, err := ReadE2ECSV(strings.NewReader(""), "e.csv"); return err }(), "e.csv"},
		{"csv bare quote", func() error {
			_, err := ReadE2ECSV(strings.NewReader("mr,ref\na,\"b\n"), "q.csv")
			return err
		}(), "q.csv:2"},
		{"lora no separator", func() error {
			_, err := ReadE2ELoRA(strings.NewReader("name : A||A .\nname : B\n"), "l.txt")
			return err
		}(), "l.txt:2: want \"context||completion\""},
		{"glue ragged", func() error {
			_, err := ReadGLUE(sst2, strings.NewReader("sentence\tlabel\ngood\t1\nbad\n"), "s.tsv")
			return err
		}(), "s.tsv:3: 1 tab-separated fields, want 2"},
		{"glue bad utf8", func() error {
			_, err := ReadGLUE(sst2, strings.NewReader("sentence\tlabel\ngo\xc3od\t1\n"), "s.tsv")
			return err
		}(), "s.tsv:2: invalid UTF-8"},
		{"glue unknown label", func() error {
			_, err := ReadGLUE(sst2, strings.NewReader("sentence\tlabel\ngood\tpositive\n"), "s.tsv")
			return err
		}(), "s.tsv:2: unknown sst2 label \"positive\""},
		{"glue missing column", func() error {
			_, err := ReadGLUE(sst2, strings.NewReader("text\tlabel\ngood\t1\n"), "s.tsv")
			return err
		}(), "s.tsv:1: header"},
		{"cola fields", func() error {
			_, err := ReadGLUE(cola, strings.NewReader("gj04\t1\tThe sailors rode.\n"), "c.tsv")
			return err
		}(), "c.tsv:1: want 4"},
		{"stsb score", func() error {
			_, err := ReadGLUE(stsb, strings.NewReader("sentence1\tsentence2\tscore\na\tb\tNaN\n"), "b.tsv")
			return err
		}(), "b.tsv:2: stsb score"},
		{"preds unknown label", func() error {
			_, err := ReadPredictions(sst2, strings.NewReader("1\n0\n2\n"), "p.txt")
			return err
		}(), "p.txt:3: unknown sst2 label"},
		{"preds empty line", func() error {
			_, err := ReadPredictions(sst2, strings.NewReader("1\n\n0\n"), "p.txt")
			return err
		}(), "p.txt:2: empty line"},
		{"multiref empty", func() error { _, err := ReadMultiRef(strings.NewReader("\n\n"), "m.txt"); return err }(), "m.txt: no references"},
		{"mr unclosed", func() error { _, err := LinearizeMR("name[A"); return err }(), "unclosed"},
		{"mr separator", func() error { _, err := LinearizeMR("name[A] area[x]"); return err }(), "want ','"},
		{"task", func() error { _, err := LookupTask("squad"); return err }(), "unknown GLUE task"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, tc.err, tc.want)
		}
	}
	var de *Error
	_, err := ReadGLUE(sst2, strings.NewReader("sentence\tlabel\nx\t7\n"), "s.tsv")
	if !errors.As(err, &de) || de.Line != 2 || de.File != "s.tsv" {
		t.Errorf("error %v is not a *data.Error at s.tsv:2", err)
	}
}

func TestReadGLUE(t *testing.T) {
	tests := []struct {
		task, in string
		want     []Example
	}{
		{"cola", "gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode sailors the.\n",
			[]Example{{Text1: "The sailors rode.", Label: 1, Line: 1}, {Text1: "Rode sailors the.", Label: 0, Line: 2}}},
		{"cola", "index\tsentence\n0\tA test sentence.\n", []Example{{Text1: "A test sentence.", Label: -1, Line: 2}}},
		{"mrpc", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\t\"He said\tShe said\r\n",
			[]Example{{Text1: "\"He said", Text2: "She said", Label: 1, Line: 2}}},
		{"rte", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n1\tC.\tD.\t0\n",
			[]Example{{Text1: "A.", Text2: "B.", Label: 1, Line: 2}, {Text1: "C.", Text2: "D.", Label: 0, Line: 3}}},
		{"mnli", "index\tsentence1\tsentence2\tlabel1\tgold_label\n0\tP\tH\tneutral\tcontradiction\n",
			[]Example{{Text1: "P", Text2: "H", Label: 2, Line: 2}}},
		{"qqp", "id\tqid1\tqid2\tquestion1\tquestion2\n0\t1\t2\tQ1?\tQ2?\n", []Example{{Text1: "Q1?", Text2: "Q2?", Label: -1, Line: 2}}},
	}
	for _, tc := range tests {
		task, err := LookupTask(tc.task)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadGLUE(task, strings.NewReader(tc.in), tc.task)
		if err != nil {
			t.Fatalf("%s: %v", tc.task, err)
		}
		for i := range got {
			got[i].Score = 0
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.task, got, tc.want)
		}
	}
	stsb, _ := LookupTask("stsb")
	got, err := ReadGLUE(stsb, strings.NewReader("index\tsentence1\tsentence2\tscore\n0\ta\tb\t3.800\n"), "stsb")
	if err != nil || len(got) != 1 || got[0].Score != 3.8 {
		t.Errorf("stsb: %+v %v", got, err)
	}
	got, _ = ReadGLUE(stsb, strings.NewReader("index\tsentence1\tsentence2\n0\ta\tb\n"), "stsb test")
	if len(got) != 1 || !math.IsNaN(got[0].Score) {
		t.Errorf("stsb test: %+v", got)
	}
}

func TestReadPredictions(t *testing.T) {
	rte, _ := LookupTask("rte")
	stsb, _ := LookupTask("stsb")
	tests := []struct {
		name string
		task *Task
		in   string
		want Predictions
	}{
		{"names", rte, "entailment\nnot_entailment\n1\n", Predictions{Labels: []int{0, 1, 1}}},
		{"submission", rte, "index\tprediction\n0\tnot_entailment\n1\tentailment\n", Predictions{Labels: []int{1, 0}}},
		{"tsv gold", rte, "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tentailment\n", Predictions{Labels: []int{0}}},
		{"scores", stsb, "4.5\n0\n", Predictions{Scores: []float64{4.5, 0}}},
	}
	for _, tc := range tests {
		got, err := ReadPredictions(tc.task, strings.NewReader(tc.in), tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got.Labels, tc.want.Labels) || !slices.Equal(got.Scores, tc.want.Scores) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestLinesAndMultiRef(t *testing.T) {
	hyps, err := ReadLines(strings.NewReader("  a b \r\n\nc\n"), "h")
	if err != nil || !slices.Equal(hyps, []string{"a b", "", "c"}) {
		t.Errorf("ReadLines = %q, %v", hyps, err)
	}
	refs, err := ReadMultiRef(strings.NewReader("r1\nr2\n\n\nr3\n \nr4\nr5"), "r")
	if err != nil || len(refs) != 3 || !slices.Equal(refs[0], []string{"r1", "r2"}) || !slices.Equal(refs[2], []string{"r4", "r5"}) {
		t.Errorf("ReadMultiRef = %q, %v", refs, err)
	}
}

func TestLinearizeMR(t *testing.T) {
	tests := []struct{ in, want string }{
		{"name[The Vaults], eatType[pub], priceRange[more than £30], customer rating[5 out of 5], near[Café Adriatic]",
			"name : The Vaults | Type : pub | price : more than £ 30 | customer rating : 5 out of 5 | near : Café Adriatic"},
		{"name[X], priceRange[£20-25], familyFriendly[yes], area[city centre], food[English]",
			"name : X | price : £ 20 - 25 | family friendly : yes | area : city centre | food : English"},
		{"name[X], color[red]", "name : X | color : red"},
	}
	for _, tc := range tests {
		got, err := LinearizeMR(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("LinearizeMR(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestTaskRegistry(t *testing.T) {
	for _, name := range []string{"cola", "SST-2", "mrpc", "STS-B", "rte", "wnli", "mnli", "qnli", "qqp"} {
		task, err := LookupTask(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(task.Metrics) == 0 || task.Files["train"] == "" || (!task.Regression && len(task.Labels) < 2) {
			t.Errorf("%s incomplete: %+v", name, task)
		}
	}
	if c, _ := LookupTask("cola"); c.Metrics[0] != MetricMCC {
		t.Errorf("CoLA metric %v", c.Metrics)
	}
}

func FuzzReadE2E(f *testing.F) {
	f.Add([]byte("mr,ref\n\"name[A], eatType[pub]\",A.\n"))
	f.Add([]byte("name : A | Type : pub||A .\n"))
	f.Add([]byte("\ufeffMR\n\"x\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rows, err := ReadE2ECSV(strings.NewReader(string(b)), "f.csv"); err == nil {
			for _, inst := range GroupE2E(rows) {
				_, _ = LinearizeMR(inst.MR)
			}
		}
		_, _ = ReadE2ELoRA(strings.NewReader(string(b)), "f.txt")
		_, _ = ReadMultiRef(strings.NewReader(string(b)), "f.txt")
		_, _ = LinearizeMR(string(b))
	})
}

func FuzzReadGLUE(f *testing.F) {
	f.Add("sst2", []byte("sentence\tlabel\ngood\t1\n"))
	f.Add("cola", []byte("gj04\t1\t\tThe sailors rode.\n"))
	f.Add("stsb", []byte("sentence1\tsentence2\tscore\na\tb\t1.5\n"))
	f.Add("mnli", []byte("index\tsentence1\tsentence2\tgold_label\n0\ta\tb\tneutral\n"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		task, err := LookupTask(name)
		if err != nil {
			return
		}
		exs, err := ReadGLUE(task, strings.NewReader(string(b)), "f.tsv")
		if err == nil {
			for _, ex := range exs {
				if !task.Regression && (ex.Label < -1 || ex.Label >= task.NumLabels()) {
					t.Fatalf("label %d out of range", ex.Label)
				}
			}
		}
		_, _ = ReadPredictions(task, strings.NewReader(string(b)), "p.txt")
	})
}
