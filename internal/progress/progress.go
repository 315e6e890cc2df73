// Package progress draws a one-line progress bar on a terminal stream:
//
//	train  [=========>          ]  45/100  45%  loss 3.214  1520 tok/s  ETA 0:36
//
// It redraws at most a few times a second, prints a final newline on Done,
// and degrades to periodic plain lines when the stream is not a terminal
// (CI logs stay readable). A nil *Bar is valid and draws nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar for a task of known total size.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int64
	done     int64
	start    time.Time
	last     time.Time
	lastLine time.Time
	tty      bool
	extra    string
	finished bool
	interval time.Duration
	now      func() time.Time
}

// New returns a bar writing to w. total is the number of units (steps,
// bytes); a total ≤ 0 shows a counter without percentage or ETA.
func New(w io.Writer, label string, total int64) *Bar {
	b := &Bar{w: w, label: label, total: total, now: time.Now, interval: 150 * time.Millisecond}
	b.start = b.now()
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

// Set moves the bar to done units, with an optional status text
// (loss, throughput) shown after the counters.
func (b *Bar) Set(done int64, extra string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.extra = done, extra
	t := b.now()
	if b.tty {
		if t.Sub(b.last) < b.interval && done != b.total {
			return
		}
		b.last = t
		fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(t))
		return
	}
	// Not a terminal: a plain line every 10 seconds keeps logs short.
	if t.Sub(b.lastLine) >= 10*time.Second || done == b.total {
		b.lastLine = t
		fmt.Fprintln(b.w, b.line(t))
	}
}

// Add advances the bar by n units.
func (b *Bar) Add(n int64, extra string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	d := b.done + n
	b.mu.Unlock()
	b.Set(d, extra)
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K\n", b.line(b.now()))
	} else if b.lastLine.IsZero() || b.done != b.total {
		fmt.Fprintln(b.w, b.line(b.now()))
	}
}

func (b *Bar) line(t time.Time) string {
	el := t.Sub(b.start)
	var sb strings.Builder
	sb.WriteString(b.label)
	if b.total > 0 {
		const width = 24
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		fill := int(frac * width)
		sb.WriteString(" [")
		sb.WriteString(strings.Repeat("=", fill))
		if fill < width {
			sb.WriteString(">")
			sb.WriteString(strings.Repeat(" ", width-fill-1))
		}
		sb.WriteString("]")
		fmt.Fprintf(&sb, " %d/%d %3.0f%%", b.done, b.total, 100*frac)
	} else {
		fmt.Fprintf(&sb, " %d", b.done)
	}
	if b.extra != "" {
		sb.WriteString("  ")
		sb.WriteString(b.extra)
	}
	if b.total > 0 && b.done > 0 && b.done < b.total {
		eta := time.Duration(float64(el) * float64(b.total-b.done) / float64(b.done))
		sb.WriteString("  ETA ")
		sb.WriteString(FormatDuration(eta))
	} else {
		sb.WriteString("  ")
		sb.WriteString(FormatDuration(el))
	}
	return sb.String()
}

// FormatDuration prints d as h:mm:ss or m:ss.
func FormatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	h, m := s/3600, (s/60)%60
	s %= 60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// Clear erases the bar's line on a terminal so that a log line can be
// printed; the next Set redraws it. It does nothing on other streams.
func (b *Bar) Clear() {
	if b == nil || !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\x1b[K")
}
