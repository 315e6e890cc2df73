package hf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is a deliberately small pickle virtual machine. It understands
// the opcodes that torch.save emits for a state dict (pickle protocols 2 to
// 5) and builds plain Go values; it never imports or calls anything. The
// only "callables" it knows are a fixed allow-list of globals
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, the torch
// storage classes, ...), each interpreted by Go code below. Any other global,
// and any opcode outside the list, stops the load with ErrUnsupportedPickle.

// ErrUnsupportedPickle marks a pickle this loader refuses: an opcode or a
// global outside the small set torch.save uses for a tensor state dict.
// Arbitrary pickles can run code when Python loads them; this loader never
// runs anything and rejects what it does not understand.
var ErrUnsupportedPickle = errors.New("unsupported pickle content")

// Values built by the machine.
type (
	pyGlobal struct{ module, name string }
	pyTuple  []any
	pyList   struct{ items []any }
	pyBigInt struct{ le []byte } // a LONG1/LONG4 integer that does not fit int64
	pyMark   struct{}
	// pyDict keeps insertion order, like OrderedDict (and dict since 3.7).
	pyDict struct {
		keys []any
		m    map[any]any
	}
)

func newDict() *pyDict { return &pyDict{m: map[any]any{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, nil, float64:
	default:
		return fmt.Errorf("%w: dict key of type %s", ErrUnsupportedPickle, pyTypeName(k))
	}
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
	return nil
}

// pyStorage is a typed torch storage: numel elements of dtype starting at
// element base of the raw bytes of the storage named key.
type pyStorage struct {
	dtype string // safetensors dtype name: F32, F16, BF16, F64, I64, ..., BOOL
	key   string
	numel int64
	base  int64 // element offset into the root storage (legacy views)
	root  *rootStorage
}

// rootStorage holds the bytes of one serialized storage; data is filled in
// by the container format (zip entry or legacy stream).
type rootStorage struct {
	key   string
	dtype string
	numel int64
	data  []byte
}

// pyTensor is the result of torch._utils._rebuild_tensor_v2.
type pyTensor struct {
	storage *pyStorage
	offset  int64
	size    []int64
	stride  []int64
}

// storageDTypes maps torch storage class names to dtypes and element sizes.
var storageDTypes = map[string]string{
	"FloatStorage":    "F32",
	"HalfStorage":     "F16",
	"BFloat16Storage": "BF16",
	"DoubleStorage":   "F64",
	"LongStorage":     "I64",
	"IntStorage":      "I32",
	"ShortStorage":    "I16",
	"CharStorage":     "I8",
	"ByteStorage":     "U8",
	"BoolStorage":     "BOOL",
}

var elemSize = map[string]int64{
	"F32": 4, "F16": 2, "BF16": 2, "F64": 8,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// allowedGlobal reports whether module.name may appear in a state dict
// pickle. Only these names can be pushed; each is interpreted in reduce.
func allowedGlobal(module, name string) bool {
	switch module + "." + name {
	case "collections.OrderedDict",
		"torch._utils._rebuild_tensor_v2",
		"torch._utils._rebuild_parameter",
		"torch._tensor._rebuild_from_type_v2",
		"torch._tensor.Tensor", "torch.Tensor",
		"torch.nn.parameter.Parameter":
		return true
	}
	if module == "torch" {
		_, ok := storageDTypes[name]
		return ok
	}
	return false
}

// unpickler runs one pickle program.
type unpickler struct {
	b     []byte
	pos   int
	opPos int    // offset of the opcode being run, for errors
	name  string // file name for errors
	stack []any
	marks []int
	memo  map[int64]any
	// persistentLoad turns a persistent id (the tuple torch writes for a
	// storage) into a *pyStorage.
	persistentLoad func(pid any) (*pyStorage, error)
}

func (u *unpickler) errf(op byte, format string, a ...any) error {
	return fmt.Errorf("%s: pickle offset %d (opcode %s): "+format, append([]any{u.name, u.opPos, opName(op)}, a...)...)
}

func opName(op byte) string {
	if op >= 0x20 && op < 0x7f {
		return fmt.Sprintf("%q", rune(op))
	}
	return fmt.Sprintf("0x%02x", op)
}

func (u *unpickler) read(n int) ([]byte, bool) {
	if n < 0 || len(u.b)-u.pos < n {
		return nil, false
	}
	s := u.b[u.pos : u.pos+n]
	u.pos += n
	return s, true
}

func (u *unpickler) readLine() (string, bool) {
	i := bytes.IndexByte(u.b[u.pos:], '\n')
	if i < 0 {
		return "", false
	}
	s := string(u.b[u.pos : u.pos+i])
	u.pos += i + 1
	return s, true
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, bool) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] >= n) {
		return nil, false
	}
	v := u.stack[n-1]
	u.stack = u.stack[:n-1]
	return v, true
}

// popMark returns the items above the topmost mark and removes them and the
// mark.
func (u *unpickler) popMark() ([]any, bool) {
	if len(u.marks) == 0 {
		return nil, false
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, true
}

// run executes the program until STOP and returns the top of the stack.
// On return u.pos is just past the STOP opcode.
func (u *unpickler) run() (result any, err error) {
	if u.memo == nil {
		u.memo = map[int64]any{}
	}
	for {
		if u.pos >= len(u.b) {
			return nil, fmt.Errorf("%s: pickle ends at offset %d without a STOP opcode (truncated?)", u.name, u.pos)
		}
		op := u.b[u.pos]
		u.opPos = u.pos
		u.pos++
		short := func() error { return u.errf(op, "truncated argument") }
		underflow := func() error { return u.errf(op, "stack underflow (malformed pickle)") }
		switch op {
		case 0x80: // PROTO
			p, ok := u.read(1)
			if !ok {
				return nil, short()
			}
			if p[0] > 5 {
				return nil, u.errf(op, "pickle protocol %d is newer than 5", p[0])
			}
		case 0x95: // FRAME: length prefix of the next frame; frames are inline.
			if _, ok := u.read(8); !ok {
				return nil, short()
			}
		case '.': // STOP
			v, ok := u.pop()
			if !ok {
				return nil, underflow()
			}
			return v, nil
		case '(': // MARK
			u.marks = append(u.marks, len(u.stack))
		case '0': // POP
			if _, ok := u.pop(); !ok {
				return nil, underflow()
			}
		case '1': // POP_MARK
			if _, ok := u.popMark(); !ok {
				return nil, underflow()
			}
		case '2': // DUP
			v, ok := u.pop()
			if !ok {
				return nil, underflow()
			}
			u.push(v)
			u.push(v)
		case 'N':
			u.push(nil)
		case 0x88:
			u.push(true)
		case 0x89:
			u.push(false)
		case 'I': // INT (text), also 01/00 for True/False in protocol 0
			s, ok := u.readLine()
			if !ok {
				return nil, short()
			}
			switch s {
			case "01":
				u.push(true)
			case "00":
				u.push(false)
			default:
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return nil, u.errf(op, "bad integer %q", s)
				}
				u.push(v)
			}
		case 'L': // LONG (text)
			s, ok := u.readLine()
			if !ok {
				return nil, short()
			}
			v, err := strconv.ParseInt(strings.TrimSuffix(s, "L"), 10, 64)
			if err != nil {
				return nil, u.errf(op, "integer %q does not fit 64 bits", s)
			}
			u.push(v)
		case 'J': // BININT
			b, ok := u.read(4)
			if !ok {
				return nil, short()
			}
			u.push(int64(int32(binary.LittleEndian.Uint32(b))))
		case 'K': // BININT1
			b, ok := u.read(1)
			if !ok {
				return nil, short()
			}
			u.push(int64(b[0]))
		case 'M': // BININT2
			b, ok := u.read(2)
			if !ok {
				return nil, short()
			}
			u.push(int64(binary.LittleEndian.Uint16(b)))
		case 0x8a, 0x8b: // LONG1, LONG4
			var n int
			if op == 0x8a {
				b, ok := u.read(1)
				if !ok {
					return nil, short()
				}
				n = int(b[0])
			} else {
				b, ok := u.read(4)
				if !ok {
					return nil, short()
				}
				n = int(int32(binary.LittleEndian.Uint32(b)))
				if n < 0 {
					return nil, u.errf(op, "negative length")
				}
			}
			b, ok := u.read(n)
			if !ok {
				return nil, short()
			}
			u.push(decodeLong(b))
		case 'G': // BINFLOAT (big-endian)
			b, ok := u.read(8)
			if !ok {
				return nil, short()
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case 'F': // FLOAT (text)
			s, ok := u.readLine()
			if !ok {
				return nil, short()
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, u.errf(op, "bad float %q", s)
			}
			u.push(v)
		case 'X', 'T', 'B': // BINUNICODE, BINSTRING, BINBYTES: 4-byte length
			b, ok := u.read(4)
			if !ok {
				return nil, short()
			}
			n := binary.LittleEndian.Uint32(b)
			if uint64(n) > uint64(len(u.b)) {
				return nil, short()
			}
			s, ok := u.read(int(n))
			if !ok {
				return nil, short()
			}
			u.pushString(op, s)
		case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
			b, ok := u.read(1)
			if !ok {
				return nil, short()
			}
			s, ok := u.read(int(b[0]))
			if !ok {
				return nil, short()
			}
			u.pushString(op, s)
		case 0x8d, 0x8e: // BINUNICODE8, BINBYTES8
			b, ok := u.read(8)
			if !ok {
				return nil, short()
			}
			n := binary.LittleEndian.Uint64(b)
			if n > uint64(len(u.b)) {
				return nil, short()
			}
			s, ok := u.read(int(n))
			if !ok {
				return nil, short()
			}
			u.pushString(op, s)
		case ')':
			u.push(pyTuple{})
		case 't':
			items, ok := u.popMark()
			if !ok {
				return nil, underflow()
			}
			u.push(pyTuple(items))
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op - 0x84)
			if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
				return nil, underflow()
			}
			t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
			u.stack = u.stack[:len(u.stack)-n]
			u.push(t)
		case ']':
			u.push(&pyList{})
		case 'l': // LIST
			items, ok := u.popMark()
			if !ok {
				return nil, underflow()
			}
			u.push(&pyList{items: items})
		case 'a': // APPEND
			v, ok := u.pop()
			if !ok {
				return nil, underflow()
			}
			l, ok := u.top().(*pyList)
			if !ok {
				return nil, u.errf(op, "APPEND to a %s, not a list", pyTypeName(u.top()))
			}
			l.items = append(l.items, v)
		case 'e': // APPENDS
			items, ok := u.popMark()
			if !ok {
				return nil, underflow()
			}
			l, ok := u.top().(*pyList)
			if !ok {
				return nil, u.errf(op, "APPENDS to a %s, not a list", pyTypeName(u.top()))
			}
			l.items = append(l.items, items...)
		case '}':
			u.push(newDict())
		case 'd': // DICT
			items, ok := u.popMark()
			if !ok || len(items)%2 != 0 {
				return nil, underflow()
			}
			d := newDict()
			for i := 0; i < len(items); i += 2 {
				if err := d.set(items[i], items[i+1]); err != nil {
					return nil, u.errf(op, "%w", err)
				}
			}
			u.push(d)
		case 's': // SETITEM
			v, ok1 := u.pop()
			k, ok2 := u.pop()
			if !ok1 || !ok2 {
				return nil, underflow()
			}
			d, ok := u.top().(*pyDict)
			if !ok {
				return nil, u.errf(op, "SETITEM on a %s, not a dict", pyTypeName(u.top()))
			}
			if err := d.set(k, v); err != nil {
				return nil, u.errf(op, "%w", err)
			}
		case 'u': // SETITEMS
			items, ok := u.popMark()
			if !ok || len(items)%2 != 0 {
				return nil, underflow()
			}
			d, ok := u.top().(*pyDict)
			if !ok {
				return nil, u.errf(op, "SETITEMS on a %s, not a dict", pyTypeName(u.top()))
			}
			for i := 0; i < len(items); i += 2 {
				if err := d.set(items[i], items[i+1]); err != nil {
					return nil, u.errf(op, "%w", err)
				}
			}
		case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
			var idx int64
			switch op {
			case 'g':
				s, ok := u.readLine()
				if !ok {
					return nil, short()
				}
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return nil, u.errf(op, "bad memo index %q", s)
				}
				idx = v
			case 'h':
				b, ok := u.read(1)
				if !ok {
					return nil, short()
				}
				idx = int64(b[0])
			default:
				b, ok := u.read(4)
				if !ok {
					return nil, short()
				}
				idx = int64(binary.LittleEndian.Uint32(b))
			}
			v, ok := u.memo[idx]
			if !ok {
				return nil, u.errf(op, "memo entry %d was never stored", idx)
			}
			u.push(v)
		case 'p', 'q', 'r', 0x94: // PUT, BINPUT, LONG_BINPUT, MEMOIZE
			var idx int64
			switch op {
			case 'p':
				s, ok := u.readLine()
				if !ok {
					return nil, short()
				}
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return nil, u.errf(op, "bad memo index %q", s)
				}
				idx = v
			case 'q':
				b, ok := u.read(1)
				if !ok {
					return nil, short()
				}
				idx = int64(b[0])
			case 'r':
				b, ok := u.read(4)
				if !ok {
					return nil, short()
				}
				idx = int64(binary.LittleEndian.Uint32(b))
			default:
				idx = int64(len(u.memo))
			}
			if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] >= len(u.stack)) {
				return nil, underflow()
			}
			u.memo[idx] = u.stack[len(u.stack)-1]
		case 'c': // GLOBAL
			mod, ok1 := u.readLine()
			name, ok2 := u.readLine()
			if !ok1 || !ok2 {
				return nil, short()
			}
			g, err := u.global(op, mod, name)
			if err != nil {
				return nil, err
			}
			u.push(g)
		case 0x93: // STACK_GLOBAL
			nv, ok1 := u.pop()
			mv, ok2 := u.pop()
			if !ok1 || !ok2 {
				return nil, underflow()
			}
			mod, ok1 := mv.(string)
			name, ok2 := nv.(string)
			if !ok1 || !ok2 {
				return nil, u.errf(op, "module and name must be strings")
			}
			g, err := u.global(op, mod, name)
			if err != nil {
				return nil, err
			}
			u.push(g)
		case 'Q': // BINPERSID
			pid, ok := u.pop()
			if !ok {
				return nil, underflow()
			}
			if u.persistentLoad == nil {
				return nil, u.errf(op, "persistent id outside a torch checkpoint")
			}
			s, err := u.persistentLoad(pid)
			if err != nil {
				return nil, u.errf(op, "%w", err)
			}
			u.push(s)
		case 'R': // REDUCE
			args, ok1 := u.pop()
			fn, ok2 := u.pop()
			if !ok1 || !ok2 {
				return nil, underflow()
			}
			v, err := u.reduce(fn, args)
			if err != nil {
				return nil, u.errf(op, "%w", err)
			}
			u.push(v)
		case 'b': // BUILD
			state, ok := u.pop()
			if !ok {
				return nil, underflow()
			}
			switch obj := u.top().(type) {
			case *pyDict:
				// OrderedDict state (torch's state_dict carries _metadata
				// this way); it does not change the items.
				if _, ok := state.(*pyDict); !ok && state != nil {
					return nil, u.errf(op, "BUILD of a dict with a %s state", pyTypeName(state))
				}
			case *pyTensor:
				// Python-level attributes of a tensor: ignored.
				_ = obj
			default:
				return nil, u.errf(op, "%w: BUILD on a %s", ErrUnsupportedPickle, pyTypeName(u.top()))
			}
		default:
			return nil, u.errf(op, "%w: opcode not used by torch.save for a state dict", ErrUnsupportedPickle)
		}
	}
}

func (u *unpickler) top() any {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] >= n) {
		return pyMark{}
	}
	return u.stack[n-1]
}

func (u *unpickler) pushString(op byte, s []byte) {
	switch op {
	case 'B', 'C', 0x8e:
		u.push([]byte(string(s)))
	default:
		u.push(string(s))
	}
}

func (u *unpickler) global(op byte, mod, name string) (any, error) {
	if !allowedGlobal(mod, name) {
		return nil, u.errf(op, "%w: global %s.%s is not allowed (only tensor state dicts can be loaded; this loader never runs pickled code)", ErrUnsupportedPickle, mod, name)
	}
	return pyGlobal{mod, name}, nil
}

// decodeLong decodes a little-endian two's-complement integer.
func decodeLong(b []byte) any {
	if len(b) > 8 {
		return pyBigInt{le: append([]byte(nil), b...)}
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n := len(b); n > 0 && n < 8 && b[n-1]&0x80 != 0 {
		v |= ^uint64(0) << (8 * n) // sign-extend
	}
	return int64(v)
}

// reduce applies an allowed global to its argument tuple.
func (u *unpickler) reduce(fn, argv any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("%w: call of a %s", ErrUnsupportedPickle, pyTypeName(fn))
	}
	args, ok := argv.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("arguments of %s.%s are a %s, not a tuple", g.module, g.name, pyTypeName(argv))
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, fmt.Errorf("%w: OrderedDict with %d arguments", ErrUnsupportedPickle, len(args))
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter":
		// (data, requires_grad, backward_hooks)
		if len(args) < 1 {
			return nil, fmt.Errorf("_rebuild_parameter needs data")
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("_rebuild_parameter of a %s, not a tensor", pyTypeName(args[0]))
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, type, args, state): a tensor subclass or one with attributes.
		if len(args) < 3 {
			return nil, fmt.Errorf("_rebuild_from_type_v2 needs 3 arguments, has %d", len(args))
		}
		typ, ok := args[1].(pyGlobal)
		if !ok || !(typ.name == "Tensor" || typ.name == "Parameter") {
			return nil, fmt.Errorf("%w: _rebuild_from_type_v2 of type %v", ErrUnsupportedPickle, args[1])
		}
		return u.reduce(args[0], args[2])
	}
	return nil, fmt.Errorf("%w: %s.%s cannot be called", ErrUnsupportedPickle, g.module, g.name)
}

// rebuildTensor interprets (storage, storage_offset, size, stride,
// requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args pyTuple) (*pyTensor, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 needs at least 4 arguments, has %d", len(args))
	}
	s, ok := args[0].(*pyStorage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: storage is a %s", pyTypeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: bad storage offset %v", args[1])
	}
	size, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: size %v and stride %v differ in rank", size, stride)
	}
	return &pyTensor{storage: s, offset: off, size: size, stride: stride}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %s is a %s, not a tuple", what, pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("_rebuild_tensor_v2: bad %s entry %v", what, x)
		}
		out[i] = n
	}
	return out, nil
}

func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, pyBigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	case pyMark:
		return "mark"
	}
	return fmt.Sprintf("%T", v)
}

// storageFromPID interprets torch's persistent id for a storage:
// ('storage', storage_type, key, location, numel) in zip files, plus a
// sixth view_metadata entry in legacy files. roots returns the (shared) root
// storage for a key.
func storageFromPID(pid any, roots func(key, dtype string, numel int64) (*rootStorage, error)) (*pyStorage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) < 5 {
		return nil, fmt.Errorf("%w: persistent id %s is not a storage tuple", ErrUnsupportedPickle, pyTypeName(pid))
	}
	if tag, _ := t[0].(string); tag != "storage" {
		return nil, fmt.Errorf("%w: persistent id of kind %v", ErrUnsupportedPickle, t[0])
	}
	g, ok := t[1].(pyGlobal)
	if !ok || g.module != "torch" || storageDTypes[g.name] == "" {
		return nil, fmt.Errorf("%w: storage type %v", ErrUnsupportedPickle, t[1])
	}
	dtype := storageDTypes[g.name]
	key, ok := t[2].(string)
	if !ok || key == "" || len(key) > 256 || strings.ContainsAny(key, "/\\\x00") || key == "." || key == ".." {
		return nil, fmt.Errorf("bad storage key %v", t[2])
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 || numel > math.MaxInt64/8 {
		return nil, fmt.Errorf("storage %s: bad element count %v", key, t[4])
	}
	r, err := roots(key, dtype, numel)
	if err != nil {
		return nil, err
	}
	s := &pyStorage{dtype: dtype, key: key, numel: numel, root: r}
	if len(t) >= 6 && t[5] != nil {
		// Legacy view: (view_key, offset, view_size) into the root storage.
		v, ok := t[5].(pyTuple)
		if !ok || len(v) != 3 {
			return nil, fmt.Errorf("storage %s: bad view metadata %s", key, pyTypeName(t[5]))
		}
		vk, ok1 := v[0].(string)
		off, ok2 := v[1].(int64)
		n, ok3 := v[2].(int64)
		if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > numel || n > numel-off {
			return nil, fmt.Errorf("storage %s: view %v outside its %d elements", key, v, numel)
		}
		s.key, s.base, s.numel = key+"/"+vk, off, n
	}
	return s, nil
}
