// Package safetensors reads and writes the safetensors format used by
// Hugging Face: an 8-byte little-endian header length, a JSON header that
// maps tensor names to {dtype, shape, data_offsets}, and the raw
// little-endian tensor bytes.
//
// The reader trusts nothing in the header: sizes, offsets, dtypes and shapes
// are checked against each other and against the file length, and every
// problem is reported with the file and tensor name. Floating-point tensors
// (F32, F16, BF16, F64) can be read as float32.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/hutml/hut/internal/atomicfile"
)

// MaxHeaderSize bounds the JSON header (the reference implementation uses
// 100 MB).
const MaxHeaderSize = 100 << 20

// DType sizes in bytes.
var dtypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
	"U16": 2, "U32": 4, "U64": 8,
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string
	Shape []int
	Begin int64 // byte offsets into the data section
	End   int64
}

// Elems returns the number of elements of the tensor.
func (t *Info) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file held in memory.
type File struct {
	Path     string // for error messages
	Metadata map[string]string
	tensors  map[string]*Info
	data     []byte
}

// ReadFile reads and validates a safetensors file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Parse(b, path)
}

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Parse validates b as a safetensors file; name is used in errors.
func Parse(b []byte, name string) (*File, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("safetensors %s: %s", name, fmt.Sprintf(format, a...))
	}
	if len(b) < 8 {
		return nil, fail("file is %d bytes, shorter than the 8-byte header length (truncated?)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeaderSize {
		return nil, fail("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if uint64(len(b)-8) < n {
		return nil, fail("header length %d exceeds the file's remaining %d bytes (truncated?)", n, len(b)-8)
	}
	hdr := b[8 : 8+n]
	data := b[8+n:]
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, fail("header is not a JSON object: %v", err)
	}
	f := &File{Path: name, tensors: map[string]*Info{}, data: data}
	type span struct {
		b, e int64
		name string
	}
	var spans []span
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &f.Metadata); err != nil {
				return nil, fail("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e headerEntry
		d := json.NewDecoder(bytes.NewReader(v))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, fail("tensor %q: bad header entry: %v", k, err)
		}
		sz, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fail("tensor %q: unknown dtype %q", k, e.DType)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fail("tensor %q: data_offsets must have 2 entries, has %d", k, len(e.DataOffsets))
		}
		bgn, end := e.DataOffsets[0], e.DataOffsets[1]
		if bgn < 0 || end < bgn || end > int64(len(data)) {
			return nil, fail("tensor %q: data_offsets [%d, %d] outside the %d-byte data section (truncated?)", k, bgn, end, len(data))
		}
		elems := int64(1)
		shape := make([]int, len(e.Shape))
		for i, s := range e.Shape {
			if s < 0 || s > math.MaxInt32 {
				return nil, fail("tensor %q: bad dimension %d in shape %v", k, s, e.Shape)
			}
			shape[i] = int(s)
			elems *= s
			if elems > int64(len(data)) && s != 0 {
				return nil, fail("tensor %q: shape %v needs more bytes than the file has", k, e.Shape)
			}
		}
		if elems*int64(sz) != end-bgn {
			return nil, fail("tensor %q: shape %v of %s needs %d bytes but data_offsets span %d", k, e.Shape, e.DType, elems*int64(sz), end-bgn)
		}
		f.tensors[k] = &Info{Name: k, DType: e.DType, Shape: shape, Begin: bgn, End: end}
		spans = append(spans, span{bgn, end, k})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].b < spans[j].b })
	for i := 1; i < len(spans); i++ {
		if spans[i].b < spans[i-1].e {
			return nil, fail("tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for k := range f.tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Info returns the description of a tensor, or nil.
func (f *File) Info(name string) *Info { return f.tensors[name] }

// Raw returns the raw little-endian bytes of a tensor.
func (f *File) Raw(name string) ([]byte, error) {
	t := f.tensors[name]
	if t == nil {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", f.Path, name)
	}
	return f.data[t.Begin:t.End], nil
}

// ErrNotFloat is returned when a non-floating tensor is read as float32.
var ErrNotFloat = errors.New("not a floating-point tensor")

// Float32 decodes a floating-point tensor to float32.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t := f.tensors[name]
	if t == nil {
		return nil, nil, fmt.Errorf("safetensors %s: no tensor %q", f.Path, name)
	}
	raw := f.data[t.Begin:t.End]
	out, err := DecodeFloat32(raw, t.DType)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.Path, name, err)
	}
	return out, t.Shape, nil
}

// DecodeFloat32 converts little-endian F32/F16/BF16/F64 bytes to float32.
func DecodeFloat32(raw []byte, dtype string) ([]float32, error) {
	switch dtype {
	case "F32":
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	case "F16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
		return out, nil
	case "F64":
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w (dtype %s)", ErrNotFloat, dtype)
}

// Int64s decodes an integer tensor (I64, I32, I16, I8, U8, BOOL) to int64.
func (f *File) Int64s(name string) ([]int64, []int, error) {
	t := f.tensors[name]
	if t == nil {
		return nil, nil, fmt.Errorf("safetensors %s: no tensor %q", f.Path, name)
	}
	raw := f.data[t.Begin:t.End]
	n := t.Elems()
	out := make([]int64, n)
	switch t.DType {
	case "I64":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case "I32":
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case "I16":
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		}
	case "I8":
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	case "U8", "BOOL":
		for i := range out {
			out[i] = int64(raw[i])
		}
	default:
		return nil, nil, fmt.Errorf("safetensors %s: tensor %q: dtype %s is not an integer type", f.Path, name, t.DType)
	}
	return out, t.Shape, nil
}

// Tensor is a tensor to write. Exactly one of F32 or Raw is set; with F32
// the tensor is stored as DType ("F32" by default, or "F16"/"BF16").
type Tensor struct {
	Name  string
	Shape []int
	DType string
	F32   []float32
	Raw   []byte // already encoded bytes of DType
}

// Encode writes tensors (sorted by name, as the reference writer does) to w.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := append([]Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	blobs := make([][]byte, len(ts))
	seen := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		if seen[t.Name] {
			return fmt.Errorf("safetensors: tensor %q written twice", t.Name)
		}
		seen[t.Name] = true
		dt := t.DType
		if dt == "" {
			dt = "F32"
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		var blob []byte
		if t.Raw != nil {
			if len(t.Raw) != n*dtypeSize[dt] {
				return fmt.Errorf("safetensors: tensor %q: %d raw bytes for shape %v of %s", t.Name, len(t.Raw), t.Shape, dt)
			}
			blob = t.Raw
		} else {
			if len(t.F32) != n {
				return fmt.Errorf("safetensors: tensor %q: %d values for shape %v", t.Name, len(t.F32), t.Shape)
			}
			var err error
			blob, err = EncodeFloat32(t.F32, dt)
			if err != nil {
				return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
			}
		}
		blobs[i] = blob
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": dt, "shape": shape, "data_offsets": []int64{off, off + int64(len(blob))}}
		off += int64(len(blob))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to a multiple of 8 bytes, as the reference does.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hj)))
	if _, err := w.Write(lenb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, b := range blobs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes tensors to path atomically.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Encode(w, tensors, metadata) })
}

// EncodeFloat32 encodes xs as little-endian F32, F16 or BF16.
func EncodeFloat32(xs []float32, dtype string) ([]byte, error) {
	switch dtype {
	case "F32", "":
		b := make([]byte, 4*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b, nil
	case "F16":
		b := make([]byte, 2*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint16(b[2*i:], F32ToF16(x))
		}
		return b, nil
	case "BF16":
		b := make([]byte, 2*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint16(b[2*i:], F32ToBF16(x))
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot encode float32 as %q (want F32, F16 or BF16)", dtype)
}

// F16ToF32 converts an IEEE half to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		man &= 0x3ff
		return math.Float32frombits(sign | e<<23 | man<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// F32ToF16 converts float32 to IEEE half with round-to-nearest-even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rest := man & ((1 << shift) - 1)
		v := man >> shift
		if rest > half || (rest == half && v&1 == 1) {
			v++
		}
		return sign | uint16(v)
	}
	v := uint32(e)<<10 | man>>13
	rest := man & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && v&1 == 1) {
		v++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(v)
}

// F32ToBF16 converts float32 to bfloat16 with round-to-nearest-even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
