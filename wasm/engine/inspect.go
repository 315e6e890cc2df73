package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
)

// InspectOptions are hut.inspect's arguments.
type InspectOptions struct {
	Layer  int    `json:"layer"`
	Module string `json:"module"`
	Rows   int    `json:"rows"`
	Cols   int    `json:"cols"`
	Row0   int    `json:"row0"`
	Col0   int    `json:"col0"`
}

// findLinear resolves (layer, module) to one linear of the model; module
// is a suffix of the module path within the block ("c_attn",
// "attn.c_proj", "query", "attention.output.dense"…).
func (e *Engine) findLinear(layer int, module string) (*peft.Linear, error) {
	module = strings.Trim(strings.TrimSpace(module), ".")
	module = strings.TrimSuffix(module, ".weight")
	ls := e.mdl.linears()
	var hits []*peft.Linear
	for _, l := range ls {
		n, mod, ok := splitLayer(l.Name)
		if ok && n == layer && mod == module {
			hits = []*peft.Linear{l} // an exact name wins ("output.dense")
			break
		}
		if ok && n == layer && strings.HasSuffix(mod, "."+module) {
			hits = append(hits, l)
		}
	}
	L := layerCount(e.src)
	switch {
	case layer < 0 || layer >= L:
		return nil, fmt.Errorf("inspect: layer %d: the model has layers 0…%d", layer, L-1)
	case len(hits) == 1:
		return hits[0], nil
	case len(hits) > 1:
		var names []string
		for _, h := range hits {
			_, mod, _ := splitLayer(h.Name)
			names = append(names, mod)
		}
		return nil, fmt.Errorf("inspect: module %q is ambiguous in layer %d: %s", module, layer, strings.Join(names, " or "))
	}
	return nil, fmt.Errorf("inspect: layer %d has no module %q (want one of %s)", layer, module, strings.Join(moduleNames(ls), ", "))
}

// baseWeight reads a linear's W0 [out, in] from the checkpoint (host copy),
// in the nn.Linear orientation.
func (e *Engine) baseWeight(l *peft.Linear) ([]float32, error) {
	name := l.W.Name
	candidates := []string{name}
	if i := strings.IndexByte(name, '.'); i > 0 {
		candidates = append(candidates, name[i+1:])
	}
	var data []float32
	var shape []int
	if e.src.weightName == hf.TorchName {
		sd, err := e.src.stateDict()
		if err != nil {
			return nil, err
		}
		for _, c := range candidates {
			if t, ok := sd[c]; ok {
				data, shape = t.Data, t.Shape
				break
			}
		}
	} else {
		f, err := safetensors.Parse(e.src.weights, e.src.weightName)
		if err != nil {
			return nil, err
		}
		for _, c := range candidates {
			if f.Info(c) != nil {
				data, shape, err = f.Float32(c)
				if err != nil {
					return nil, err
				}
				break
			}
		}
	}
	if data == nil {
		return nil, fmt.Errorf("inspect: the checkpoint has no tensor %q", name)
	}
	if len(shape) == 2 && shape[0] == l.Out && shape[1] == l.In {
		return data, nil
	}
	if len(shape) == 2 && shape[0] == l.In && shape[1] == l.Out { // GPT-2's Conv1D [in, out]
		out := make([]float32, len(data))
		for i := 0; i < l.In; i++ {
			for j := 0; j < l.Out; j++ {
				out[j*l.In+i] = data[i*l.Out+j]
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("inspect: tensor %q has shape %v, want [%d %d]", name, shape, l.Out, l.In)
}

// Inspect is hut.inspect: teaching data for one adapted linear.
func (e *Engine) Inspect(o InspectOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("inspect: no model loaded: call hut.loadModel first")
	}
	if o.Rows < 0 || o.Cols < 0 || o.Row0 < 0 || o.Col0 < 0 {
		return nil, errors.New("inspect: rows, cols, row0 and col0 must be ≥ 0")
	}
	if o.Module == "" {
		return nil, fmt.Errorf("inspect: module is missing (one of %s)", strings.Join(moduleNames(e.mdl.linears()), ", "))
	}
	l, err := e.findLinear(o.Layer, o.Module)
	if err != nil {
		return nil, err
	}
	be := e.be
	out, in := l.Out, l.In
	w0, err := e.baseWeight(l)
	if err != nil {
		return nil, err
	}
	method := "none"
	if pc := e.mdl.peftConfig(); pc != nil {
		method = pc.Method
	}
	res := map[string]any{"shape": []int{out, in}, "module": l.Name, "method": method, "r": 0, "merged": false}
	var wp []float32
	params := map[string][]float32{}
	if l.Ad != nil {
		for _, p := range l.Ad.Params() {
			params[p.Name] = p.ReadAll(be)
		}
	}
	readW := func() []float32 { return l.W.ReadAll(be) }
	switch {
	case l.Ad == nil || method == "full" || l.Ad.Merged():
		wp = readW()
		if l.Ad != nil && l.Ad.Merged() {
			res["merged"] = true
		}
		if l.Ad != nil && method == "hut" { // a and b are still the adapter's
			A, B := params["hut_A"], params["hut_B"]
			r := len(A) / out
			res["a"], res["b"], res["r"] = rowSums(A, out, r), colSums(B, r, in), r
		}
	case params["hut_A"] != nil:
		A, B := params["hut_A"], params["hut_B"]
		r := len(A) / out
		a, b := rowSums(A, out, r), colSums(B, r, in)
		wp = make([]float32, out*in)
		for i := 0; i < out; i++ {
			for j := 0; j < in; j++ {
				wp[i*in+j] = float32(a[i]) * w0[i*in+j] * float32(b[j])
			}
		}
		res["a"], res["b"], res["r"] = a, b, r
	case params["lora_A.weight"] != nil:
		A, B := params["lora_A.weight"], params["lora_B.weight"] // [r, in], [out, r]
		r := len(A) / in
		scale := e.mdl.peftConfig().Alpha / float32(r)
		ba := matmul(B, A, out, r, in)
		wp = make([]float32, out*in)
		for i := range wp {
			wp[i] = w0[i] + scale*ba[i]
		}
		res["r"], res["scale"] = r, scale
	case params["hira_A"] != nil:
		A, B := params["hira_A"], params["hira_B"]
		r := len(A) / in
		ba := matmul(B, A, out, r, in)
		wp = make([]float32, out*in)
		for i := range wp {
			wp[i] = w0[i] + w0[i]*ba[i]
		}
		res["r"] = r
	default:
		names := make([]string, 0, len(params))
		for n := range params {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("inspect: %s has an adapter with parameters %v that inspect does not know", l.Name, names)
	}
	rows := o.Rows
	if rows == 0 {
		rows = 8
	}
	cols := o.Cols
	if cols == 0 {
		cols = 8
	}
	r0, c0 := min(o.Row0, out-1), min(o.Col0, in-1)
	rows, cols = min(rows, out-r0), min(cols, in-c0)
	res["w0"] = slice2D(w0, in, r0, c0, rows, cols)
	res["wPrime"] = slice2D(wp, in, r0, c0, rows, cols)
	res["row0"], res["col0"] = r0, c0
	var d2, n0 float64
	for i := range w0 {
		d := float64(wp[i]) - float64(w0[i])
		d2 += d * d
		n0 += float64(w0[i]) * float64(w0[i])
	}
	res["deltaNorm"] = math.Sqrt(d2)
	res["w0Norm"] = math.Sqrt(n0)
	res["corr"] = pearson(w0, wp)
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	return res, nil
}

func rowSums(A []float32, rows, r int) []float64 {
	out := make([]float64, rows)
	for i := 0; i < rows; i++ {
		var s float32
		for t := 0; t < r; t++ {
			s += A[i*r+t]
		}
		out[i] = float64(s)
	}
	return out
}

func colSums(B []float32, r, cols int) []float64 {
	out := make([]float64, cols)
	for j := 0; j < cols; j++ {
		var s float32
		for t := 0; t < r; t++ {
			s += B[t*cols+j]
		}
		out[j] = float64(s)
	}
	return out
}

// matmul returns x [m, k] · y [k, n].
func matmul(x, y []float32, m, k, n int) []float32 {
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for t := 0; t < k; t++ {
			v := x[i*k+t]
			if v == 0 {
				continue
			}
			row := y[t*n : (t+1)*n]
			o := out[i*n : (i+1)*n]
			for j := range o {
				o[j] += v * row[j]
			}
		}
	}
	return out
}

func slice2D(w []float32, stride, r0, c0, rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for i := range out {
		out[i] = make([]float64, cols)
		for j := range out[i] {
			out[i][j] = float64(w[(r0+i)*stride+c0+j])
		}
	}
	return out
}

// pearson is the correlation of x and y as vectors (NaN when one is
// constant).
func pearson(x, y []float32) float64 {
	n := float64(len(x))
	if n == 0 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += float64(x[i])
		my += float64(y[i])
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := float64(x[i])-mx, float64(y[i])-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy)))
}
