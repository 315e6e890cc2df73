package hf

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"

	"github.com/hutml/hut/core/safetensors"
)

// legacyMagic is the pickled magic number that starts a torch.save file
// written with _use_new_zipfile_serialization=False (torch < 1.6 default):
// LONG1 0x1950a86a20f9469cfc6c.
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// LoadTorch reads the floating-point tensors of a PyTorch checkpoint such
// as pytorch_model.bin, written by torch.save(model.state_dict()). Both the
// zip format (torch ≥ 1.6) and the older single-stream format are read. The
// pickled state dict is interpreted by a small safe unpickler that never
// runs code; see ErrUnsupportedPickle.
func LoadTorch(path string) (StateDict, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return ParseTorch(b, path)
}

// ParseTorch is LoadTorch for a checkpoint held in memory; name is used in
// errors and as Tensor.File.
func ParseTorch(b []byte, name string) (StateDict, error) {
	sd, _, err := parseTorch(b, name)
	return sd, err
}

// parseTorch also returns the names of all tensors, float or not.
func parseTorch(b []byte, name string) (StateDict, []string, error) {
	switch {
	case len(b) >= 4 && string(b[:4]) == "PK\x03\x04":
		return parseTorchZip(b, name)
	case bytes.HasPrefix(b, legacyMagic):
		return parseTorchLegacy(b, name)
	case len(b) >= 262 && string(b[257:262]) == "ustar":
		return nil, nil, fmt.Errorf("%s: tar-format torch checkpoint (torch < 0.4) is not supported; load and re-save it with a current torch, or convert it to safetensors", name)
	case isLFSPointer(b):
		return nil, nil, fmt.Errorf("%s: %w", name, errLFSPointer)
	case len(b) >= 2 && b[0] == 0x80:
		return nil, nil, fmt.Errorf("%s: a bare pickle, not a torch.save checkpoint (no zip archive, no torch magic number)", name)
	}
	return nil, nil, fmt.Errorf("%s: not a PyTorch checkpoint: expected a zip archive (torch ≥ 1.6) or a legacy torch.save stream", name)
}

func parseTorchZip(b []byte, name string) (StateDict, []string, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: bad zip archive: %v", name, err)
	}
	files := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		files[f.Name] = f
		dir, base := path.Split(f.Name)
		if base == "data.pkl" && strings.Count(dir, "/") == 1 {
			if pkl != nil {
				return nil, nil, fmt.Errorf("%s: archive has two pickles, %s and %s", name, pkl.Name, f.Name)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, nil, fmt.Errorf("%s: zip archive without <archive>/data.pkl: not a torch.save checkpoint", name)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if f := files[prefix+"byteorder"]; f != nil {
		bo, err := readZipEntry(b, f, 16)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		if s := strings.TrimSpace(string(bo)); s != "little" {
			return nil, nil, fmt.Errorf("%s: tensors are stored %s-endian; only little-endian checkpoints are supported", name, s)
		}
	}
	prog, err := readZipEntry(b, pkl, uint64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	roots := map[string]*rootStorage{}
	getRoot := func(key, dtype string, numel int64) (*rootStorage, error) {
		if r := roots[key]; r != nil {
			if r.dtype != dtype || r.numel != numel {
				return nil, fmt.Errorf("storage %s used as %d×%s and as %d×%s", key, r.numel, r.dtype, numel, dtype)
			}
			return r, nil
		}
		f := files[prefix+"data/"+key]
		if f == nil {
			return nil, fmt.Errorf("storage %s: no entry %sdata/%s in the archive", key, prefix, key)
		}
		want := uint64(numel) * uint64(elemSize[dtype])
		if f.UncompressedSize64 != want {
			return nil, fmt.Errorf("storage %s: entry %s holds %d bytes, expected %d (%d elements of %s)", key, f.Name, f.UncompressedSize64, want, numel, dtype)
		}
		data, err := readZipEntry(b, f, want)
		if err != nil {
			return nil, err
		}
		if uint64(len(data)) != want {
			return nil, fmt.Errorf("storage %s: entry %s holds %d bytes, expected %d", key, f.Name, len(data), want)
		}
		r := &rootStorage{key: key, dtype: dtype, numel: numel, data: data}
		roots[key] = r
		return r, nil
	}
	u := &unpickler{b: prog, name: name + ":" + pkl.Name}
	u.persistentLoad = func(pid any) (*pyStorage, error) { return storageFromPID(pid, getRoot) }
	root, err := u.run()
	if err != nil {
		return nil, nil, err
	}
	return toStateDict(root, name)
}

// readZipEntry returns the bytes of f, reading at most limit bytes. Stored
// (uncompressed) entries, which torch.save writes, are sliced from b
// without a copy.
func readZipEntry(b []byte, f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("entry %s: %d bytes, more than the %d expected", f.Name, f.UncompressedSize64, limit)
	}
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("entry %s: %v", f.Name, err)
		}
		if off < 0 || uint64(off) > uint64(len(b)) || f.CompressedSize64 > uint64(len(b))-uint64(off) {
			return nil, fmt.Errorf("entry %s: data outside the %d-byte file (truncated?)", f.Name, len(b))
		}
		return b[off : uint64(off)+f.CompressedSize64], nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %v", f.Name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, int64(min(limit, math.MaxInt64-1))+1)); err != nil {
		return nil, fmt.Errorf("entry %s: %v", f.Name, err)
	}
	if uint64(buf.Len()) > limit {
		return nil, fmt.Errorf("entry %s: more than the %d bytes expected", f.Name, limit)
	}
	return buf.Bytes(), nil
}

// parseTorchLegacy reads the pre-zip torch.save stream: pickles of the magic
// number, the protocol version, system info and the object, then a pickled
// list of storage keys followed by each storage as an int64 element count
// and its raw bytes.
func parseTorchLegacy(b []byte, name string) (StateDict, []string, error) {
	pos := 0
	next := func(what string, load func(any) (*pyStorage, error)) (any, error) {
		u := &unpickler{b: b, pos: pos, name: name, persistentLoad: load}
		v, err := u.run()
		if err != nil {
			return nil, fmt.Errorf("%s (legacy format, %s): %w", name, what, err)
		}
		pos = u.pos
		return v, nil
	}
	if _, err := next("magic number", nil); err != nil {
		return nil, nil, err
	}
	ver, err := next("protocol version", nil)
	if err != nil {
		return nil, nil, err
	}
	if ver != int64(1001) {
		return nil, nil, fmt.Errorf("%s: legacy torch protocol version %v, expected 1001", name, ver)
	}
	sys, err := next("system info", nil)
	if err != nil {
		return nil, nil, err
	}
	if d, ok := sys.(*pyDict); ok {
		if le, ok := d.m["little_endian"].(bool); ok && !le {
			return nil, nil, fmt.Errorf("%s: written on a big-endian machine; only little-endian checkpoints are supported", name)
		}
	}
	roots := map[string]*rootStorage{}
	getRoot := func(key, dtype string, numel int64) (*rootStorage, error) {
		if r := roots[key]; r != nil {
			if r.dtype != dtype || r.numel != numel {
				return nil, fmt.Errorf("storage %s used as %d×%s and as %d×%s", key, r.numel, r.dtype, numel, dtype)
			}
			return r, nil
		}
		r := &rootStorage{key: key, dtype: dtype, numel: numel}
		roots[key] = r
		return r, nil
	}
	obj, err := next("state dict", func(pid any) (*pyStorage, error) { return storageFromPID(pid, getRoot) })
	if err != nil {
		return nil, nil, err
	}
	kv, err := next("storage keys", nil)
	if err != nil {
		return nil, nil, err
	}
	keys, ok := kv.(*pyList)
	if !ok {
		return nil, nil, fmt.Errorf("%s: legacy storage key list is a %s", name, pyTypeName(kv))
	}
	for _, k := range keys.items {
		key, _ := k.(string)
		r := roots[key]
		if r == nil {
			return nil, nil, fmt.Errorf("%s: storage %v is not used by any tensor", name, k)
		}
		if r.data != nil {
			return nil, nil, fmt.Errorf("%s: storage %s stored twice", name, key)
		}
		if len(b)-pos < 8 {
			return nil, nil, fmt.Errorf("%s: storage %s: file ends before its header (truncated?)", name, key)
		}
		n := int64(leUint64(b[pos:]))
		pos += 8
		if n != r.numel {
			return nil, nil, fmt.Errorf("%s: storage %s has %d elements, the pickle says %d", name, key, n, r.numel)
		}
		size := uint64(n) * uint64(elemSize[r.dtype])
		if uint64(len(b)-pos) < size {
			return nil, nil, fmt.Errorf("%s: storage %s needs %d bytes, %d left (truncated?)", name, key, size, len(b)-pos)
		}
		r.data = b[pos : pos+int(size)]
		pos += int(size)
	}
	for k, r := range roots {
		if r.data == nil {
			return nil, nil, fmt.Errorf("%s: storage %s is used but not stored (truncated?)", name, k)
		}
	}
	return toStateDict(obj, name)
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// toStateDict converts the unpickled object, a dict of name → tensor, to a
// StateDict holding its floating-point tensors. A checkpoint that wraps the
// weights as {"state_dict": {...}} or {"model": {...}} is unwrapped.
func toStateDict(obj any, name string) (StateDict, []string, error) {
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, nil, fmt.Errorf("%s: checkpoint holds a %s, not a state dict", name, pyTypeName(obj))
	}
	hasTensor := false
	for _, v := range d.m {
		if _, ok := v.(*pyTensor); ok {
			hasTensor = true
			break
		}
	}
	if !hasTensor {
		for _, k := range []string{"state_dict", "model"} {
			if inner, ok := d.m[k].(*pyDict); ok {
				d = inner
				break
			}
		}
	}
	sd := StateDict{}
	var names []string
	for _, k := range d.keys {
		t, ok := d.m[k].(*pyTensor)
		if !ok {
			continue // e.g. an _extra_state or a version number
		}
		key, ok := k.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%s: tensor under a %s key %v", name, pyTypeName(k), k)
		}
		names = append(names, key)
		if _, isFloat := floatDTypes[t.storage.dtype]; !isFloat {
			continue // position_ids, attention masks: as LoadSafetensors does
		}
		data, shape, err := t.float32()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: %w", name, key, err)
		}
		sd[key] = &Tensor{Shape: shape, Data: data, DType: t.storage.dtype, File: name}
	}
	return sd, names, nil
}

// errLFSPointer explains a weight file that is only a Git LFS pointer.
var errLFSPointer = errors.New("this is a Git LFS pointer file, not the weights (cloned without git-lfs?): run `git lfs pull`, or fetch the checkpoint with `hut download`")

func isLFSPointer(b []byte) bool {
	return bytes.HasPrefix(b, []byte("version https://git-lfs.github.com/spec/"))
}

var floatDTypes = map[string]bool{"F32": true, "F16": true, "BF16": true, "F64": true}

// errOverlap reports views whose elements overlap in storage (stride 0).
var errOverlap = errors.New("overlapping strides are not supported")

// float32 copies the tensor out of its storage, following storage offset
// and strides, and converts it to float32.
func (t *pyTensor) float32() ([]float32, []int, error) {
	s := t.storage
	shape := make([]int, len(t.size))
	numel := int64(1)
	for i, n := range t.size {
		if n > math.MaxInt32 {
			return nil, nil, fmt.Errorf("dimension %d of size %v too large", i, t.size)
		}
		shape[i] = int(n)
		if numel != 0 && n != 0 && numel > s.numel/n+1 {
			return nil, nil, fmt.Errorf("size %v has more elements than its storage (%d): %w", t.size, s.numel, errOverlap)
		}
		numel *= n
	}
	if numel == 0 {
		if t.offset > s.numel {
			return nil, nil, fmt.Errorf("storage offset %d beyond the %d-element storage", t.offset, s.numel)
		}
		return []float32{}, shape, nil
	}
	if numel > s.numel {
		return nil, nil, fmt.Errorf("size %v has more elements than its storage (%d): %w", t.size, s.numel, errOverlap)
	}
	// The last element addressed must lie inside the storage.
	last := t.offset
	for i, n := range t.size {
		st := t.stride[i]
		if st != 0 && n-1 > (s.numel-last)/st {
			return nil, nil, fmt.Errorf("size %v, stride %v, offset %d reach past the %d-element storage %s", t.size, t.stride, t.offset, s.numel, s.key)
		}
		last += (n - 1) * st
	}
	if last >= s.numel {
		return nil, nil, fmt.Errorf("size %v, stride %v, offset %d reach past the %d-element storage %s", t.size, t.stride, t.offset, s.numel, s.key)
	}
	es := elemSize[s.dtype]
	if int64(len(s.root.data)) < (s.base+s.numel)*es {
		return nil, nil, fmt.Errorf("storage %s holds %d bytes, fewer than its %d elements need", s.key, len(s.root.data), s.numel)
	}
	raw := s.root.data[s.base*es : (s.base+s.numel)*es]
	var chunk []byte
	if contiguous(t.size, t.stride) {
		chunk = raw[t.offset*es : (t.offset+numel)*es]
	} else {
		chunk = gather(raw, es, t.offset, t.size, t.stride, numel)
	}
	out, err := safetensors.DecodeFloat32(chunk, s.dtype)
	if err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

// contiguous reports whether stride is the row-major stride of size
// (dimensions of size 1 may have any stride).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// gather copies a strided view into a row-major byte buffer.
func gather(raw []byte, es, offset int64, size, stride []int64, numel int64) []byte {
	out := make([]byte, 0, numel*es)
	idx := make([]int64, len(size))
	pos := offset
	for {
		out = append(out, raw[pos*es:(pos+1)*es]...)
		// Advance the odometer.
		d := len(size) - 1
		for ; d >= 0; d-- {
			idx[d]++
			pos += stride[d]
			if idx[d] < size[d] {
				break
			}
			pos -= idx[d] * stride[d]
			idx[d] = 0
		}
		if d < 0 {
			return out
		}
	}
}
