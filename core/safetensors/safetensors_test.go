package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func encode(t testing.TB, ts []Tensor) []byte {
	var buf bytes.Buffer
	if err := Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	xs := []float32{1, -2, 3.5, 0, 1e-3, 65504}
	for _, dt := range []string{"F32", "F16", "BF16"} {
		b := encode(t, []Tensor{{Name: "w", Shape: []int{2, 3}, DType: dt, F32: xs}, {Name: "s", Shape: []int{}, F32: []float32{7}}})
		f, err := Parse(b, "mem")
		if err != nil {
			t.Fatal(err)
		}
		got, shape, err := f.Float32("w")
		if err != nil {
			t.Fatal(err)
		}
		if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
			t.Fatalf("%s: shape %v", dt, shape)
		}
		tol := map[string]float64{"F32": 0, "F16": 1e-3, "BF16": 8e-3}[dt]
		for i := range xs {
			if d := math.Abs(float64(got[i] - xs[i])); d > tol*math.Max(1, math.Abs(float64(xs[i]))) {
				t.Errorf("%s[%d]: got %v want %v", dt, i, got[i], xs[i])
			}
		}
		if f.Metadata["format"] != "pt" {
			t.Errorf("metadata lost: %v", f.Metadata)
		}
		s, _, _ := f.Float32("s")
		if len(s) != 1 || s[0] != 7 {
			t.Errorf("scalar: %v", s)
		}
	}
}

func TestF16Exhaustive(t *testing.T) {
	// Every finite half converts to float32 and back unchanged.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, back)
		}
	}
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0},
		{5.960464477539063e-08, 0x0001}, {float32(math.Inf(-1)), 0xfc00},
		{1.0009765625 + 0.00048828125, 0x3c02}, // tie rounds to even
	}
	for _, c := range cases {
		if got := F32ToF16(c.in); got != c.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func header(t *testing.T, js string, data int) []byte {
	t.Helper()
	b := make([]byte, 8, 8+len(js)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(js)))
	b = append(b, js...)
	return append(b, make([]byte, data)...)
}

func TestBadFiles(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte"},
		{"header too long", header(t, `{}`, 0)[:9], "exceeds the file"},
		{"not json", header(t, `{"a":`, 0), "not a JSON object"},
		{"bad dtype", header(t, `{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}`, 1), "unknown dtype"},
		{"size lie", header(t, `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8 bytes"},
		{"past end", header(t, `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside"},
		{"negative dim", header(t, `{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "bad dimension"},
		{"overlap", header(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlap"},
		{"offsets", header(t, `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4), "2 entries"},
		{"huge shape", header(t, `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "bad dimension"},
		{"unknown field", header(t, `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), "bad header entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.file, "bad.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.safetensors") {
				t.Fatalf("error %q does not say %q and name the file", err, c.want)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(p, []Tensor{{Name: "a", Shape: []int{1}, F32: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	// A failing write leaves the old file untouched and no temp file behind.
	err := WriteFile(p, []Tensor{{Name: "a", Shape: []int{2}, F32: []float32{1}}}, nil)
	if err == nil {
		t.Fatal("expected a shape error")
	}
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if x, _, _ := f.Float32("a"); len(x) != 1 {
		t.Fatal("old file damaged")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encode(f, []Tensor{{Name: "w", Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}}}))
	f.Add(encode(f, []Tensor{{Name: "h", Shape: []int{3}, DType: "F16", F32: []float32{1, 2, 3}}, {Name: "b", Shape: []int{1}, DType: "BF16", F32: []float32{1}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b, "fuzz")
		if err != nil {
			return
		}
		for _, n := range file.Names() {
			info := file.Info(n)
			if x, _, err := file.Float32(n); err == nil && len(x) != info.Elems() {
				t.Fatalf("%s: %d values for %d elements", n, len(x), info.Elems())
			}
			_, _, _ = file.Int64s(n)
		}
	})
}
