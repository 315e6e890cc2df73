package hf

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type expectedTensor struct {
	Shape  []int     `json:"shape"`
	DType  string    `json:"dtype"`
	Values []float64 `json:"values"`
}

func loadExpected(t *testing.T) map[string]expectedTensor {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expectedTensor
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkExpected compares a loaded state dict with the values
// make_fixtures.py recorded, bit for bit.
func checkExpected(t *testing.T, sd StateDict, want map[string]expectedTensor) {
	t.Helper()
	if len(sd) != len(want) {
		t.Errorf("loaded %d tensors %v, want %d", len(sd), sd.Names(), len(want))
	}
	for name, w := range want {
		got := sd[name]
		if got == nil {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if got.DType != w.DType {
			t.Errorf("%s: dtype %s, want %s", name, got.DType, w.DType)
		}
		if len(got.Shape) != len(w.Shape) {
			t.Errorf("%s: shape %v, want %v", name, got.Shape, w.Shape)
			continue
		}
		for i := range w.Shape {
			if got.Shape[i] != w.Shape[i] {
				t.Errorf("%s: shape %v, want %v", name, got.Shape, w.Shape)
			}
		}
		if len(got.Data) != len(w.Values) {
			t.Errorf("%s: %d values, want %d", name, len(got.Data), len(w.Values))
			continue
		}
		for i, v := range w.Values {
			if math.Float32bits(got.Data[i]) != math.Float32bits(float32(v)) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got.Data[i], float32(v))
				break
			}
		}
	}
	for _, skipped := range []string{"pos_ids", "attn.bias"} {
		if sd[skipped] != nil {
			t.Errorf("non-float tensor %q should be skipped", skipped)
		}
	}
}

func TestLoadTorchFixtures(t *testing.T) {
	want := loadExpected(t)
	for _, dir := range []string{"torch_zip", "torch_zip_proto4", "torch_legacy", "torch_sharded"} {
		t.Run(dir, func(t *testing.T) {
			sd, err := LoadDir(filepath.Join("testdata", dir))
			if err != nil {
				t.Fatal(err)
			}
			checkExpected(t, sd, want)
			if f := sd["t.half"].File; !strings.HasSuffix(f, ".bin") {
				t.Errorf("File = %q", f)
			}
		})
	}
}

func TestMaliciousPickleRejected(t *testing.T) {
	_, err := LoadTorch("testdata/malicious.bin")
	if !errors.Is(err, ErrUnsupportedPickle) {
		t.Fatalf("err = %v, want ErrUnsupportedPickle", err)
	}
	for _, s := range []string{"posix.system", "malicious.bin", "data.pkl"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestPreferSafetensors(t *testing.T) {
	dir := t.TempDir()
	bin, err := os.ReadFile("testdata/torch_zip/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TorchName), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	writeST(t, filepath.Join(dir, SafetensorsName), map[string][]float32{"w": {1, 2}})
	sd, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != 1 || sd["w"] == nil || !strings.HasSuffix(sd["w"].File, ".safetensors") {
		t.Fatalf("LoadDir did not prefer model.safetensors: %v", sd.Names())
	}
	if p, _ := WeightsFile(dir); filepath.Base(p) != SafetensorsName {
		t.Errorf("WeightsFile = %s", p)
	}
}

func TestNoWeights(t *testing.T) {
	_, err := LoadDir(t.TempDir())
	if !errors.Is(err, ErrNoWeights) {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "nope")); err == nil || errors.Is(err, ErrNoWeights) {
		t.Fatalf("missing dir: err = %v", err)
	}
}

func TestNotATorchFile(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":  {},
		"text":   []byte("hello"),
		"pickle": {0x80, 0x02, 'N', '.'},
		"zip":    zipOf(t, map[string][]byte{"x/readme": []byte("hi")}),
	} {
		if _, err := ParseTorch(b, name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestLFSPointer(t *testing.T) {
	dir := t.TempDir()
	ptr := []byte("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 548105171\n")
	for _, n := range []string{SafetensorsName, TorchName} {
		os.WriteFile(filepath.Join(dir, n), ptr, 0o644)
		var err error
		if n == TorchName {
			_, err = LoadTorch(filepath.Join(dir, n))
		} else {
			_, err = LoadDir(dir)
		}
		if err == nil || !strings.Contains(err.Error(), "Git LFS pointer") || !strings.Contains(err.Error(), n) {
			t.Errorf("%s: err = %v", n, err)
		}
	}
}

func TestTruncatedFixturesFailCleanly(t *testing.T) {
	for _, p := range []string{"testdata/torch_zip/pytorch_model.bin", "testdata/torch_legacy/pytorch_model.bin"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n += 7 {
			if _, err := ParseTorch(b[:n], p); err == nil {
				t.Errorf("%s truncated to %d bytes: no error", p, n)
			}
		}
	}
}

// pk builds pickle programs by hand.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.Write(n[:])
	p.WriteString(s)
	return p
}
func (p *pk) global(mod, name string) *pk {
	p.WriteString("c" + mod + "\n" + name + "\n")
	return p
}
func (p *pk) int(x int) *pk {
	p.op('J')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(int32(x)))
	p.Write(n[:])
	return p
}
func (p *pk) ints(xs ...int) *pk {
	p.WriteByte('(')
	for _, x := range xs {
		p.int(x)
	}
	p.WriteByte('t')
	return p
}

// tensorPickle is a state dict {"w": tensor} over storage "0" of numel
// float32 elements with the given offset, size and stride.
func tensorPickle(numel, offset int, size, stride []int) []byte {
	p := &pk{}
	p.op(0x80, 2).global("collections", "OrderedDict").op(')', 'R', '(')
	p.str("w").global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(numel).op('t', 'Q')
	p.int(offset).ints(size...).ints(stride...).op(0x89).global("collections", "OrderedDict").op(')', 'R', 't', 'R', 'u', '.')
	return p.Bytes()
}

func zipOf(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func f32bytes(xs ...float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestHandBuiltViews(t *testing.T) {
	storage := f32bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	cases := []struct {
		name          string
		numel, offset int
		size, stride  []int
		want          []float32
		err           string
	}{
		{"contiguous", 12, 0, []int{3, 4}, []int{4, 1}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, ""},
		{"transposed", 12, 0, []int{2, 3}, []int{1, 2}, []float32{0, 2, 4, 1, 3, 5}, ""},
		{"offset+stride", 12, 5, []int{2, 2}, []int{3, 2}, []float32{5, 7, 8, 10}, ""},
		{"broadcast", 12, 1, []int{3}, []int{0}, []float32{1, 1, 1}, ""},
		{"past end", 12, 0, []int{3}, []int{6}, nil, "reach past"},
		{"gaps", 12, 0, []int{3}, []int{5}, []float32{0, 5, 10}, ""},
		{"offset past end", 12, 12, []int{1}, []int{1}, nil, "reach past"},
		{"too many", 12, 0, []int{13}, []int{0}, nil, "overlapping"},
		{"size mismatch", 11, 0, []int{1}, []int{1}, nil, "expected 44"},
		{"rank mismatch", 12, 0, []int{1, 2}, []int{1}, nil, "differ in rank"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := zipOf(t, map[string][]byte{
				"archive/data.pkl": tensorPickle(c.numel, c.offset, c.size, c.stride),
				"archive/data/0":   storage,
			})
			sd, err := ParseTorch(b, "hand.bin")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sd["w"].Data
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestMissingStorageEntry(t *testing.T) {
	b := zipOf(t, map[string][]byte{"archive/data.pkl": tensorPickle(2, 0, []int{2}, []int{1})})
	_, err := ParseTorch(b, "x.bin")
	if err == nil || !strings.Contains(err.Error(), "archive/data/0") {
		t.Fatalf("err = %v", err)
	}
}

func TestBigEndianRejected(t *testing.T) {
	b := zipOf(t, map[string][]byte{
		"archive/data.pkl":  tensorPickle(1, 0, []int{1}, []int{1}),
		"archive/data/0":    f32bytes(1),
		"archive/byteorder": []byte("big"),
	})
	if _, err := ParseTorch(b, "x.bin"); err == nil || !strings.Contains(err.Error(), "big-endian") {
		t.Fatalf("err = %v", err)
	}
}

func TestRejectedPickles(t *testing.T) {
	cases := map[string][]byte{
		"builtins.eval":  (&pk{}).op(0x80, 2).global("builtins", "eval").str("1").op(0x85, 'R', '.').Bytes(),
		"os.system":      (&pk{}).op(0x80, 4).op(0x8c, 2, 'o', 's', 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x93).Bytes(),
		"NEWOBJ":         (&pk{}).op(0x80, 2).global("collections", "OrderedDict").op(')', 0x81, '.').Bytes(),
		"INST":           []byte("(i__builtin__\nlist\n."),
		"OBJ":            (&pk{}).op('(').global("collections", "OrderedDict").op('o', '.').Bytes(),
		"EXT1":           {0x80, 2, 0x82, 1, '.'},
		"PERSID text":    []byte("Pfoo\n."),
		"BUILD on list":  {0x80, 2, ']', '}', 'b', '.'},
		"call a storage": (&pk{}).op(0x80, 2).global("torch", "FloatStorage").op(')', 'R', '.').Bytes(),
	}
	for name, prog := range cases {
		u := &unpickler{b: prog, name: name}
		_, err := u.run()
		if !errors.Is(err, ErrUnsupportedPickle) {
			t.Errorf("%s: err = %v, want ErrUnsupportedPickle", name, err)
		}
	}
}

func TestMalformedPickles(t *testing.T) {
	for name, prog := range map[string][]byte{
		"empty":          {},
		"no stop":        {0x80, 2, 'N'},
		"underflow":      {'.'},
		"pop mark":       {'(', '.'},
		"bad get":        {'h', 9, '.'},
		"short string":   {'X', 0xff, 0xff, 0xff, 0x7f, 'a'},
		"huge string":    {0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"setitem list":   {']', 'N', 'N', 's', '.'},
		"unhashable key": {'}', ']', 'N', 's', '.'},
		"proto 9":        {0x80, 9, 'N', '.'},
		"tuple3 short":   {'N', 0x87, '.'},
		"tuple past mrk": {'N', '(', 'N', 0x86, '.'},
	} {
		u := &unpickler{b: prog, name: name}
		if _, err := u.run(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeLong(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want int64
	}{{nil, 0}, {[]byte{0xff}, -1}, {[]byte{0x7f}, 127}, {[]byte{0x00, 0x80}, -32768}, {[]byte{1, 0, 0, 0, 0, 0, 0, 0x80}, math.MinInt64 + 1}} {
		if got := decodeLong(c.b); got != c.want {
			t.Errorf("decodeLong(%x) = %v, want %d", c.b, got, c.want)
		}
	}
	if _, ok := decodeLong(make([]byte, 10)).(pyBigInt); !ok {
		t.Error("10-byte long should stay big")
	}
}

// FuzzParseTorch feeds arbitrary bytes to the checkpoint parser, seeded
// with the real torch.save fixtures: it must return an error or a state
// dict, never panic or allocate without bound.
func FuzzParseTorch(f *testing.F) {
	for _, p := range []string{
		"testdata/torch_zip/pytorch_model.bin",
		"testdata/torch_zip_proto4/pytorch_model.bin",
		"testdata/torch_legacy/pytorch_model.bin",
		"testdata/malicious.bin",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(zipOf(f, map[string][]byte{
		"archive/data.pkl": tensorPickle(12, 1, []int{2, 2}, []int{3, 2}),
		"archive/data/0":   f32bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := ParseTorch(b, "fuzz")
		if err == nil {
			for _, n := range sd.Names() {
				tt := sd[n]
				numel := 1
				for _, d := range tt.Shape {
					numel *= d
				}
				if numel != len(tt.Data) {
					t.Fatalf("%s: shape %v but %d values", n, tt.Shape, len(tt.Data))
				}
			}
		}
	})
}

// FuzzUnpickle runs arbitrary pickle programs through the machine with a
// storage resolver that serves zero bytes, seeded with the programs of the
// fixtures.
func FuzzUnpickle(f *testing.F) {
	for _, p := range []string{"testdata/torch_zip/pytorch_model.bin", "testdata/torch_zip_proto4/pytorch_model.bin", "testdata/malicious.bin"} {
		zr, err := zip.OpenReader(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/data.pkl") {
				rc, _ := zf.Open()
				var buf bytes.Buffer
				buf.ReadFrom(rc)
				rc.Close()
				f.Add(buf.Bytes())
			}
		}
		zr.Close()
	}
	f.Add(tensorPickle(4, 0, []int{2, 2}, []int{1, 2}))
	f.Fuzz(func(t *testing.T, prog []byte) {
		roots := map[string]*rootStorage{}
		u := &unpickler{b: prog, name: "fuzz", persistentLoad: func(pid any) (*pyStorage, error) {
			return storageFromPID(pid, func(key, dtype string, numel int64) (*rootStorage, error) {
				if numel > 1<<16 {
					return nil, errors.New("too big for the fuzzer")
				}
				if r := roots[key]; r != nil && r.dtype == dtype && r.numel == numel {
					return r, nil
				}
				r := &rootStorage{key: key, dtype: dtype, numel: numel, data: make([]byte, numel*elemSize[dtype])}
				roots[key] = r
				return r, nil
			})
		}}
		v, err := u.run()
		if err != nil {
			return
		}
		toStateDict(v, "fuzz")
	})
}
