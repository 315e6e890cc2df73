package webgpu

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKernelSources checks every kernel variant the backend can request:
// the preprocessor accepts it, its storage bindings are declared in the
// form the layout builder parses (bindings 1..n, at most maxBindings), the
// entry point exists, and every allowed alias rewrites cleanly.
func TestKernelSources(t *testing.T) {
	used := map[string]bool{"prelude": true}
	entryRE := func(e string) *regexp.Regexp { return regexp.MustCompile(`(?m)^fn ` + e + `\(`) }
	for _, spec := range kernelSpecs {
		used[spec.File] = true
		src, err := kernelSource(spec.File)
		if err != nil {
			t.Fatal(err)
		}
		k, err := newKernelDecls(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec.File, err)
		}
		for defs := uint32(0); defs < 1<<len(spec.Flags); defs++ {
			name := fmt.Sprintf("%s.%s defs=%#x", spec.File, spec.Entry, defs)
			var none [maxBindings]uint8
			full, decls, err := variantSource(spec, defs, none)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !strings.Contains(full, "@group(0) @binding(0) var<uniform> p: P;") {
				t.Errorf("%s: no uniform block at binding 0", name)
			}
			if !entryRE(spec.Entry).MatchString(full) {
				t.Errorf("%s: entry point %s missing", name, spec.Entry)
			}
			if len(decls) != len(k) {
				t.Fatalf("%s: %d storage bindings, the base variant has %d", name, len(decls), len(k))
			}
			for i, d := range decls {
				if d.Binding != i+1 || d.Name != k[i].Name || d.Writable != k[i].Writable {
					t.Errorf("%s: binding %d is %+v, want %+v at binding %d", name, i, d, k[i], i+1)
				}
			}
			if strings.Contains(full, "//#") {
				t.Errorf("%s: a preprocessor line survived", name)
			}
		}
		aliases, err := parseAliases(src, k)
		if err != nil {
			t.Fatalf("%s: %v", spec.File, err)
		}
		for pair := range aliases {
			var al [maxBindings]uint8
			al[pair[0]] = uint8(pair[1] + 1)
			full, decls, err := variantSource(spec, 0, al)
			if err != nil {
				t.Fatal(err)
			}
			if len(decls) != len(k)-1 {
				t.Errorf("%s alias %v: %d bindings left", spec.File, pair, len(decls))
			}
			if regexp.MustCompile(`\b` + k[pair[0]].Name + `\[`).MatchString(full) {
				t.Errorf("%s alias %v: %s still indexed", spec.File, pair, k[pair[0]].Name)
			}
		}
	}
	files, _ := fs.Glob(kernelFS, "kernels/*.wgsl")
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "kernels/"), ".wgsl")
		if !used[name] {
			t.Errorf("kernel file %s is not used by any kernelSpec", f)
		}
	}
}

// newKernelDecls returns the storage declarations of a kernel's base variant.
func newKernelDecls(spec kernelSpec) ([]storageDecl, error) {
	src, err := kernelSource(spec.File)
	if err != nil {
		return nil, err
	}
	base, err := preprocess(src, nil)
	if err != nil {
		return nil, err
	}
	d, err := parseDecls(base)
	if err == nil && len(d) > maxBindings {
		err = fmt.Errorf("%d bindings", len(d))
	}
	return d, err
}

func TestPreprocess(t *testing.T) {
	src := "a\n//#if X\nb\n//#if Y\nc\n//#else\nd\n//#endif\n//#else\ne\n//#endif\nf"
	for _, tc := range []struct {
		defs map[string]bool
		want string
	}{
		{nil, "a\ne\nf\n"},
		{map[string]bool{"X": true}, "a\nb\nd\nf\n"},
		{map[string]bool{"X": true, "Y": true}, "a\nb\nc\nf\n"},
		{map[string]bool{"Y": true}, "a\ne\nf\n"},
	} {
		got, err := preprocess(src, tc.defs)
		if err != nil || got != tc.want {
			t.Errorf("defs %v: got %q, %v; want %q", tc.defs, got, err, tc.want)
		}
	}
	for _, bad := range []string{"//#if X\n", "//#endif\n", "//#else\n", "//#if X\n//#else\n//#else\n//#endif\n"} {
		if _, err := preprocess(bad, nil); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestSplits(t *testing.T) {
	for _, tc := range []struct {
		total int
		steps []int
		want  []int
	}{
		{10, nil, []int{0, 10}},
		{10, []int{0, 10, 20}, []int{0, 10}},
		{10, []int{4}, []int{0, 4, 8, 10}},
		{10, []int{4, 3}, []int{0, 3, 4, 6, 8, 9, 10}},
		{12, []int{4, 6}, []int{0, 4, 6, 8, 12}},
	} {
		if got := splits(tc.total, tc.steps...); !slices.Equal(got, tc.want) {
			t.Errorf("splits(%d, %v) = %v, want %v", tc.total, tc.steps, got, tc.want)
		}
	}
	for _, tc := range [][3]int{{4, 6, 12}, {33, 40, 1320}, {16, 80, 80}, {0, 5, 0}, {1 << 20, 1<<20 + 1, 0}} {
		if got := lcm(tc[0], tc[1]); got != tc[2] {
			t.Errorf("lcm(%d, %d) = %d, want %d", tc[0], tc[1], got, tc[2])
		}
	}
	for _, N := range []int{1, 64, 65, 1000, 64*65535 + 1, 1 << 30} {
		rows, nseg := colSegments(N)
		if nseg > 65535 || rows*nseg < N || (nseg > 1 && rows*(nseg-1) >= N) {
			t.Errorf("colSegments(%d) = %d rows × %d segments", N, rows, nseg)
		}
	}
}
