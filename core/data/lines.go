// Package data reads the evaluation corpora of the paper: the E2E NLG
// challenge (official CSV files and LoRA's text format, with LoRA's MR
// linearisation and the E2E scorer's grouping of references) and the GLUE
// tasks (a registry that knows each task's files, columns, labels and
// metrics). Readers take an io.Reader plus a name used in error messages;
// every error on bad input names the file and line and what was expected.
// Nothing here embeds data: the command-line tool wires in the files of
// package github.com/hutml/hut/data.
package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Error is an input error at a line of a named file.
type Error struct {
	File string
	Line int // 1-based; 0 when the error is not about one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func errorf(file string, line int, format string, a ...any) error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// maxLine bounds one line of input (64 MiB).
const maxLine = 64 << 20

// eachLine calls fn with every line of r (without "\n" or "\r\n") and its
// 1-based number. It rejects invalid UTF-8 and strips a UTF-8 byte-order
// mark from the first line.
func eachLine(r io.Reader, name string, fn func(line string, n int) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	n := 0
	for {
		s, err := br.ReadString('\n')
		if len(s) > 0 {
			n++
			if len(s) > maxLine {
				return errorf(name, n, "line longer than %d bytes", maxLine)
			}
			s = strings.TrimSuffix(s, "\n")
			s = strings.TrimSuffix(s, "\r")
			if n == 1 {
				s = strings.TrimPrefix(s, "\ufeff")
			}
			if !utf8.ValidString(s) {
				return errorf(name, n, "invalid UTF-8 at byte %d of the line", invalidAt(s))
			}
			if ferr := fn(s, n); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errorf(name, n+1, "read: %v", err)
		}
	}
}

func invalidAt(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i + 1
		}
		i += size
	}
	return 0
}

// ReadLines returns the lines of r with surrounding whitespace removed, as
// the E2E scorer reads a system-output file (one output per line; empty
// lines are kept as empty outputs). A final newline does not add a line.
func ReadLines(r io.Reader, name string) ([]string, error) {
	var out []string
	err := eachLine(r, name, func(s string, _ int) error {
		out = append(out, strings.TrimSpace(s))
		return nil
	})
	return out, err
}

// ReadMultiRef reads the E2E scorer's multi-reference text format: the
// references of one instance on consecutive lines, instances separated by
// one or more blank lines. Lines are trimmed.
func ReadMultiRef(r io.Reader, name string) ([][]string, error) {
	var out [][]string
	var cur []string
	err := eachLine(r, name, func(s string, _ int) error {
		s = strings.TrimSpace(s)
		if s == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			return nil
		}
		cur = append(cur, s)
		return nil
	})
	if cur != nil {
		out = append(out, cur)
	}
	if err == nil && len(out) == 0 {
		err = errorf(name, 0, "no references")
	}
	return out, err
}
