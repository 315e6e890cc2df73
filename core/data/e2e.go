package data

import (
	"encoding/csv"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// E2ERow is one row of an E2E file: a meaning representation and one
// reference (Ref is "" in testset.csv, which has no references).
type E2ERow struct {
	MR   string
	Ref  string
	Line int // line where the row starts
}

// E2EInstance is a meaning representation with all its references.
type E2EInstance struct {
	MR   string
	Refs []string
	Line int // line of its first row
}

// Column-name patterns of the E2E scorer (measure_scores.py), matched
// case-insensitively at the start of a header field.
var (
	headerMR  = regexp.MustCompile(`(?i)^(mr|src|source|meaning(?:[_ .-]rep(?:resentation)?)?|da|dial(?:ogue)?[_ .-]act)s?`)
	headerRef = regexp.MustCompile(`(?i)^(trg|tgt|target|ref(?:erence)?|human(?:[_ .-](?:ref(?:erence)?))?)s?`)
)

// scorerFixes are the mis-encodings that the E2E scorer repairs in CSV
// input before parsing.
var scorerFixes = strings.NewReplacer("Ł", "£", "Â£", "£", "Ã©", "é", "ã©", "é")

// ReadE2ECSV reads an E2E CSV file (trainset.csv, devset.csv,
// testset_w_refs.csv, testset.csv, or a tab-separated file): columns are
// found by header with the scorer's patterns (mr/src/..., ref/target/...);
// a file with neither header must have exactly two columns, MR then
// reference. Every row must have as many fields as the first. As the scorer
// does, a BOM is dropped, the mis-encodings "Ł", "Â£", "Ã©", "ã©" are
// repaired and empty lines are ignored.
func ReadE2ECSV(r io.Reader, name string) ([]E2ERow, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, errorf(name, 0, "read: %v", err)
	}
	if !utf8.Valid(raw) {
		line := 1 + strings.Count(string(raw[:firstInvalid(raw)]), "\n")
		return nil, errorf(name, line, "invalid UTF-8")
	}
	text := strings.TrimPrefix(string(raw), "\ufeff")
	text = scorerFixes.Replace(text)
	firstLine, _, _ := strings.Cut(text, "\n")
	cr := csv.NewReader(strings.NewReader(text))
	if strings.Contains(firstLine, "\t") {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = 0
	records, err := cr.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, errorf(name, pe.StartLine, "row has a different number of fields than the first row (%v)", pe.Err)
			}
			return nil, errorf(name, pe.StartLine, "CSV: %v", pe.Err)
		}
		return nil, errorf(name, 0, "CSV: %v", err)
	}
	if len(records) == 0 {
		return nil, errorf(name, 0, "empty file")
	}
	// Line numbers: re-read positions cheaply by counting record starts.
	lines := recordLines(text, cr.Comma, len(records))
	mrCol, refCol := -1, -1
	for i, f := range records[0] {
		if headerMR.MatchString(f) {
			if mrCol >= 0 {
				return nil, errorf(name, 1, "two columns match the MR header pattern: %q and %q", records[0][mrCol], f)
			}
			mrCol = i
		} else if headerRef.MatchString(f) {
			if refCol >= 0 {
				return nil, errorf(name, 1, "two columns match the reference header pattern: %q and %q", records[0][refCol], f)
			}
			refCol = i
		}
	}
	start := 1
	switch {
	case mrCol < 0 && refCol < 0:
		if len(records[0]) != 2 {
			return nil, errorf(name, 1, "no mr/ref header and %d columns; want a header or exactly 2 columns (MR, reference)", len(records[0]))
		}
		mrCol, refCol, start = 0, 1, 0
	case mrCol < 0:
		return nil, errorf(name, 1, "header %q has no MR column (mr, src, source, meaning_representation, da, ...)", records[0])
	}
	var rows []E2ERow
	for i := start; i < len(records); i++ {
		rec := records[i]
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		row := E2ERow{MR: rec[mrCol], Line: lines[i]}
		if refCol >= 0 {
			row.Ref = rec[refCol]
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errorf(name, 0, "no data rows")
	}
	return rows, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// recordLines returns the starting line of each CSV record by re-parsing
// with FieldPos.
func recordLines(text string, comma rune, n int) []int {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	out := make([]int, 0, n)
	for {
		if _, err := cr.Read(); err != nil {
			break
		}
		line, _ := cr.FieldPos(0)
		out = append(out, line)
	}
	for len(out) < n {
		out = append(out, 0)
	}
	return out
}

// GroupE2E groups the references of consecutive rows with the same MR into
// one instance: the E2E scorer's rule for a CSV reference file scored
// against a plain-text output file (so testset_w_refs.csv gives its 630
// instances in file order).
func GroupE2E(rows []E2ERow) []E2EInstance {
	var out []E2EInstance
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].MR == r.MR {
			out[n-1].Refs = append(out[n-1].Refs, r.Ref)
			continue
		}
		out = append(out, E2EInstance{MR: r.MR, Refs: []string{r.Ref}, Line: r.Line})
	}
	return out
}

// GroupE2EByMR groups all rows with the same MR, wherever they are, in the
// order of first appearance (the scorer's rule when outputs come with
// their MRs).
func GroupE2EByMR(rows []E2ERow) []E2EInstance {
	idx := map[string]int{}
	var out []E2EInstance
	for _, r := range rows {
		if i, ok := idx[r.MR]; ok {
			out[i].Refs = append(out[i].Refs, r.Ref)
			continue
		}
		idx[r.MR] = len(out)
		out = append(out, E2EInstance{MR: r.MR, Refs: []string{r.Ref}, Line: r.Line})
	}
	return out
}

// ReadE2ELoRA reads microsoft/LoRA's E2E text format: one
// "context||completion" per line, the context being a linearised MR (see
// LinearizeMR). As LoRA's format_converting_e2e.py does, the line is
// stripped and split at "||"; MR holds the context and Ref the completion.
func ReadE2ELoRA(r io.Reader, name string) ([]E2ERow, error) {
	var rows []E2ERow
	err := eachLine(r, name, func(s string, n int) error {
		s = strings.TrimSpace(s)
		ctx, comp, ok := strings.Cut(s, "||")
		if !ok {
			return errorf(name, n, "want \"context||completion\", found no \"||\"")
		}
		if strings.Contains(comp, "||") {
			return errorf(name, n, "more than one \"||\" separator")
		}
		rows = append(rows, E2ERow{MR: ctx, Ref: comp, Line: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errorf(name, 0, "no data rows")
	}
	return rows, nil
}

// Slot is one attribute of an E2E meaning representation.
type Slot struct {
	Key, Value string
}

// ParseMR parses "name[The Vaults], eatType[pub], ..." into slots.
func ParseMR(mr string) ([]Slot, error) {
	var out []Slot
	s := strings.TrimSpace(mr)
	for s != "" {
		open := strings.IndexByte(s, '[')
		if open < 0 {
			return nil, errorf("MR", 0, "%q: want key[value], found no '[' in %q", mr, s)
		}
		close := strings.IndexByte(s[open:], ']')
		if close < 0 {
			return nil, errorf("MR", 0, "%q: unclosed '[' in %q", mr, s)
		}
		key := strings.TrimSpace(s[:open])
		if key == "" {
			return nil, errorf("MR", 0, "%q: empty attribute name", mr)
		}
		out = append(out, Slot{Key: key, Value: s[open+1 : open+close]})
		s = strings.TrimSpace(s[open+close+1:])
		if s != "" {
			if s[0] != ',' {
				return nil, errorf("MR", 0, "%q: want ',' between attributes, found %q", mr, s)
			}
			s = strings.TrimSpace(s[1:])
		}
	}
	if len(out) == 0 {
		return nil, errorf("MR", 0, "empty meaning representation")
	}
	return out, nil
}

// loraKeys are the attribute names of LoRA's (and prefix-tuning's) E2E
// format.
var loraKeys = map[string]string{
	"name": "name", "eatType": "Type", "priceRange": "price", "customer rating": "customer rating",
	"familyFriendly": "family friendly", "area": "area", "food": "food", "near": "near",
}

// LinearizeMR turns an E2E MR into the context string of LoRA's E2E files:
// attributes in MR order as "key : value" joined by " | ", with the keys
// renamed (eatType -> Type, priceRange -> price, familyFriendly -> family
// friendly; unknown keys are kept) and values tokenised as in those files
// ("£20-25" -> "£ 20 - 25", "less than £20" -> "less than £ 20").
// For every MR of the E2E dev and test sets this reproduces LoRA's
// valid.txt and test.txt contexts exactly.
func LinearizeMR(mr string) (string, error) {
	slots, err := ParseMR(mr)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(slots))
	for i, sl := range slots {
		k, ok := loraKeys[sl.Key]
		if !ok {
			k = sl.Key
		}
		parts[i] = k + " : " + loraValue(sl.Value)
	}
	return strings.Join(parts, " | "), nil
}

// loraValue splits "£" from a following character and a hyphen between
// digits, as LoRA's E2E files have them.
func loraValue(v string) string {
	rs := []rune(v)
	var b strings.Builder
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	for i, r := range rs {
		switch {
		case r == '£' && i+1 < len(rs) && rs[i+1] != ' ':
			b.WriteString("£ ")
		case r == '-' && i > 0 && i+1 < len(rs) && isDigit(rs[i-1]) && isDigit(rs[i+1]):
			b.WriteString(" - ")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
