package cpufeat

import (
	"strings"
	"testing"
)

func TestParseISA(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", capAVX512}, {"native", capAVX512}, {"avx512", capAVX512},
		{"avx2", capAVX2}, {"go", capGo}, {"purego", capGo},
	} {
		if got := parseISA(tc.in); got != tc.want {
			t.Errorf("parseISA(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"AVX2", "sse", "avx-512"} {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, "HUT_ISA=") || !strings.Contains(msg, bad) {
					t.Errorf("parseISA(%q): panic %v, want an error naming HUT_ISA and the value", bad, r)
				}
			}()
			parseISA(bad)
		}()
	}
}

// The cap never adds a feature: AVX-512 is only used with AVX2 and FMA.
func TestCapKeepsOrder(t *testing.T) {
	if AVX512F && !AVX2FMA {
		t.Fatalf("AVX512F without AVX2FMA (HUT_ISA=%q)", ISA)
	}
	if isaCap < capAVX2 && AVX2FMA || isaCap < capAVX512 && AVX512F {
		t.Fatalf("HUT_ISA=%q: cap %d but AVX2FMA=%v AVX512F=%v", ISA, isaCap, AVX2FMA, AVX512F)
	}
}
