//go:build js && wasm

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"syscall/js"
)

// parseArgs decodes a call's options object into dst (a struct with json
// tags). Unknown options and wrong types are errors that name the option.
func parseArgs(call string, a js.Value, dst any) error {
	switch a.Type() {
	case js.TypeUndefined, js.TypeNull:
		return nil
	case js.TypeObject:
	default:
		return fmt.Errorf("%s: want an options object, got a %s", call, a.Type())
	}
	if js.Global().Get("Array").Call("isArray", a).Bool() {
		return fmt.Errorf("%s: want an options object, got an array", call)
	}
	s := js.Global().Get("JSON").Call("stringify", a).String()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s: %s", call, jsonProblem(err))
	}
	return nil
}

// jsonProblem rewrites encoding/json's errors in terms of the JS options.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch {
		case strings.Contains(want, "int"), strings.Contains(want, "float"):
			want = "a number"
		case strings.Contains(want, "string") && strings.HasPrefix(want, "[]"):
			want = "a list of strings"
		case strings.Contains(want, "string"):
			want = "a string"
		case strings.Contains(want, "bool"):
			want = "true or false"
		}
		field := te.Field
		if field == "" {
			field = "the options"
		}
		return fmt.Sprintf("option %s: want %s, got %s", field, want, te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown option " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// checkKeys rejects options other than allowed.
func checkKeys(call string, a js.Value, allowed ...string) error {
	keys := js.Global().Get("Object").Call("keys", a)
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		ok := false
		for _, al := range allowed {
			ok = ok || k == al
		}
		if !ok {
			return fmt.Errorf("%s: unknown option %q (want %s)", call, k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// bytesOf copies an ArrayBuffer, a typed array, a DataView or a string
// into Go.
func bytesOf(v js.Value) ([]byte, bool) {
	g := js.Global()
	switch {
	case v.Type() == js.TypeString:
		return []byte(v.String()), true
	case v.Type() != js.TypeObject:
		return nil, false
	case v.InstanceOf(g.Get("ArrayBuffer")):
		u := g.Get("Uint8Array").New(v)
		b := make([]byte, u.Length())
		js.CopyBytesToGo(b, u)
		return b, true
	case g.Get("ArrayBuffer").Call("isView", v).Bool():
		u := g.Get("Uint8Array").New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength"))
		b := make([]byte, u.Length())
		js.CopyBytesToGo(b, u)
		return b, true
	}
	return nil, false
}

// filesArg reads {name: ArrayBuffer | TypedArray | string, …}.
func filesArg(call string, f js.Value) (map[string][]byte, error) {
	keys := js.Global().Get("Object").Call("keys", f)
	out := make(map[string][]byte, keys.Length())
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		b, ok := bytesOf(f.Get(k))
		if !ok {
			return nil, fmt.Errorf("%s: files[%q]: want an ArrayBuffer, a typed array or a string, got a %s", call, k, f.Get(k).Type())
		}
		out[k] = b
	}
	return out, nil
}

// toJS converts a result to JavaScript: maps to objects, slices to arrays
// ([]byte to a Uint8Array), numbers (NaN and ±Inf included) to numbers.
// Other types go through JSON.
func toJS(v any) js.Value {
	g := js.Global()
	switch x := v.(type) {
	case nil:
		return js.Null()
	case js.Value:
		return x
	case bool, string, int, int32, int64, uint32, uint64, float64:
		return js.ValueOf(num(x))
	case float32:
		return js.ValueOf(float64(x))
	case error:
		return js.ValueOf(x.Error())
	case []byte:
		u := g.Get("Uint8Array").New(len(x))
		js.CopyBytesToJS(u, x)
		return u
	case map[string]any:
		o := g.Get("Object").New()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			o.Set(k, toJS(x[k]))
		}
		return o
	case []any:
		return arr(len(x), func(i int) js.Value { return toJS(x[i]) })
	case []map[string]any:
		return arr(len(x), func(i int) js.Value { return toJS(x[i]) })
	case []string:
		return arr(len(x), func(i int) js.Value { return js.ValueOf(x[i]) })
	case []int:
		return arr(len(x), func(i int) js.Value { return js.ValueOf(x[i]) })
	case []int32:
		return arr(len(x), func(i int) js.Value { return js.ValueOf(int(x[i])) })
	case []float64:
		return arr(len(x), func(i int) js.Value { return js.ValueOf(x[i]) })
	case []float32:
		return arr(len(x), func(i int) js.Value { return js.ValueOf(float64(x[i])) })
	case [][]float64:
		return arr(len(x), func(i int) js.Value { return toJS(x[i]) })
	}
	b, err := json.Marshal(v)
	if err != nil {
		return js.ValueOf(fmt.Sprint(v))
	}
	return g.Get("JSON").Call("parse", string(bytes.TrimSpace(b)))
}

func num(v any) any {
	switch x := v.(type) {
	case int32:
		return int(x)
	case int64:
		return float64(x)
	case uint32:
		return int(x)
	case uint64:
		return float64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x // js.ValueOf keeps NaN and ±Infinity
		}
	}
	return v
}

func arr(n int, at func(i int) js.Value) js.Value {
	a := js.Global().Get("Array").New(n)
	for i := 0; i < n; i++ {
		a.SetIndex(i, at(i))
	}
	return a
}
