package webgpu

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The WGSL sources. Each file declares its uniform block at binding 0 and
// its storage buffers at bindings 1.. in the strict one-line form matched
// by declRE; the Go side builds the bind group layouts from those lines.
//
//go:embed kernels/*.wgsl
var kernelFS embed.FS

// kernelSource returns the text of kernels/<name>.wgsl.
func kernelSource(name string) (string, error) {
	b, err := kernelFS.ReadFile("kernels/" + name + ".wgsl")
	if err != nil {
		return "", fmt.Errorf("webgpu: kernel %q: %v", name, err)
	}
	return string(b), nil
}

// storageDecl is one storage-buffer binding of a kernel.
type storageDecl struct {
	Binding  int
	Name     string
	Writable bool
	Elem     string // WGSL element type, e.g. "f32", "vec4<f32>", "i32"
	line     string
}

var declRE = regexp.MustCompile(`(?m)^@group\(0\) @binding\((\d+)\) var<storage, (read|read_write)> (\w+): array<([^;]+)>;[ \t]*$`)

// aliasRE matches "// alias X -> Y": binding X (read-only) may be the same
// buffer as binding Y (written), because every invocation reads X only at
// indices it then writes itself.
var aliasRE = regexp.MustCompile(`(?m)^// alias (\w+) -> (\w+)[ \t]*$`)

// parseDecls returns the storage bindings of a (preprocessed) kernel in
// binding order.
func parseDecls(src string) ([]storageDecl, error) {
	var ds []storageDecl
	seen := map[int]bool{}
	for _, m := range declRE.FindAllStringSubmatch(src, -1) {
		b, _ := strconv.Atoi(m[1])
		if b == 0 || seen[b] {
			return nil, fmt.Errorf("binding %d declared twice or reserved", b)
		}
		seen[b] = true
		ds = append(ds, storageDecl{Binding: b, Name: m[3], Writable: m[2] == "read_write", Elem: m[4], line: m[0]})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Binding < ds[j].Binding })
	return ds, nil
}

// parseAliases returns the allowed (read index, written index) pairs, as
// indices into decls.
func parseAliases(src string, decls []storageDecl) (map[[2]int]bool, error) {
	idx := map[string]int{}
	for i, d := range decls {
		idx[d.Name] = i
	}
	out := map[[2]int]bool{}
	for _, m := range aliasRE.FindAllStringSubmatch(src, -1) {
		r, ok1 := idx[m[1]]
		w, ok2 := idx[m[2]]
		if !ok1 || !ok2 || decls[r].Writable || !decls[w].Writable || decls[r].Elem != decls[w].Elem {
			return nil, fmt.Errorf("bad alias %s -> %s", m[1], m[2])
		}
		out[[2]int{r, w}] = true
	}
	return out, nil
}

// preprocess keeps the lines selected by //#if NAME, //#else, //#endif
// (nestable) for the given set of defined names.
func preprocess(src string, defined map[string]bool) (string, error) {
	var out strings.Builder
	type frame struct{ parent, cond, inElse bool }
	var stack []frame
	active := true
	for i, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "//#if "):
			name := strings.TrimSpace(strings.TrimPrefix(t, "//#if "))
			stack = append(stack, frame{parent: active, cond: defined[name]})
			active = active && defined[name]
			continue
		case t == "//#else":
			if len(stack) == 0 || stack[len(stack)-1].inElse {
				return "", fmt.Errorf("line %d: stray //#else", i+1)
			}
			f := &stack[len(stack)-1]
			f.inElse = true
			active = f.parent && !f.cond
			continue
		case t == "//#endif":
			if len(stack) == 0 {
				return "", fmt.Errorf("line %d: stray //#endif", i+1)
			}
			active = stack[len(stack)-1].parent
			stack = stack[:len(stack)-1]
			continue
		}
		if active {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	if len(stack) != 0 {
		return "", fmt.Errorf("unterminated //#if")
	}
	return out.String(), nil
}

// applyAlias removes the declaration of decls[r] and makes the code use
// decls[w] in its place (the binding is then the same buffer anyway).
func applyAlias(src string, decls []storageDecl, r, w int) string {
	src = strings.Replace(src, decls[r].line, "// "+decls[r].Name+" is aliased to "+decls[w].Name, 1)
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(decls[r].Name) + `\[`)
	return re.ReplaceAllString(src, decls[w].Name+"[")
}

// kernelSpec names one entry point of one WGSL file, the //#if flags its
// variants may set (bit i of a variant's defs = flags[i]), and its
// pipeline-overridable constants (values given per variant).
type kernelSpec struct {
	File   string
	Entry  string
	Flags  []string
	Consts []string
}

// Kernel identifiers (indices into kernelSpecs).
const (
	kFill = iota
	kCopy
	kEW
	kBcast
	kColSumPartial
	kColSumFinish
	kRowSum
	kReducePartial
	kReduceFinish
	kGather
	kScatter
	kLayerNorm
	kLayerNormBwd
	kLNDwDbPartial
	kLNDwDbFinish
	kAttention
	kAttnBwdRows
	kAttnBwdCols
	kKVStore
	kKVAttend
	kCrossEntropy
	kMSE
	kClipScale
	kAdamW
	kMatMulBlocked
	kMatMulTiled
	// One-invocation-per-row variants for CPU adapters (rowkernels.go).
	kLayerNormSeq
	kLayerNormBwdSeq
	kRowSumSeq
	kReducePartialSeq
	kReduceFinishSeq
	kCrossEntropySeq
	kAttentionSeq
	kAttnBwdRowsSeq
	kAttnBwdColsSeq
	kKVAttendSeq
	numKernels
)

// Flags of the matmul variants.
const (
	mmTA = 1 << iota
	mmTB
	mmVA
	mmVB
)

var kernelSpecs = [numKernels]kernelSpec{
	kFill:          {File: "fill", Entry: "main"},
	kCopy:          {File: "copy", Entry: "main"},
	kEW:            {File: "ew", Entry: "main", Consts: []string{"OP"}},
	kBcast:         {File: "bcast", Entry: "main", Consts: []string{"OP"}},
	kColSumPartial: {File: "colsum", Entry: "partial", Consts: []string{"MUL"}},
	kColSumFinish:  {File: "colsum", Entry: "finish", Consts: []string{"MUL"}},
	kRowSum:        {File: "rowsum", Entry: "main"},
	kReducePartial: {File: "reduce", Entry: "partial", Consts: []string{"SQ"}},
	kReduceFinish:  {File: "reduce", Entry: "finish", Consts: []string{"SQ"}},
	kGather:        {File: "gather", Entry: "main", Consts: []string{"ADD"}},
	kScatter:       {File: "scatter", Entry: "main"},
	kLayerNorm:     {File: "layernorm", Entry: "main"},
	kLayerNormBwd:  {File: "layernorm_bwd", Entry: "main"},
	kLNDwDbPartial: {File: "layernorm_dwdb", Entry: "partial", Consts: []string{"HASW", "HASB"}},
	kLNDwDbFinish:  {File: "layernorm_dwdb", Entry: "finish", Consts: []string{"HASW", "HASB"}},
	kAttention:     {File: "attention", Entry: "main"},
	kAttnBwdRows:   {File: "attention_bwd", Entry: "rows"},
	kAttnBwdCols:   {File: "attention_bwd", Entry: "cols"},
	kKVStore:       {File: "kvattention", Entry: "store"},
	kKVAttend:      {File: "kvattention", Entry: "attend"},
	kCrossEntropy:  {File: "crossentropy", Entry: "main", Consts: []string{"DLOG"}},
	kMSE:           {File: "mse", Entry: "main", Consts: []string{"DPRED"}},
	kClipScale:     {File: "clipscale", Entry: "main"},
	kAdamW:         {File: "adamw", Entry: "main"},
	kMatMulBlocked: {File: "matmul_blocked", Entry: "main", Flags: []string{"TA", "TB", "VA", "VB"}},
	kMatMulTiled:   {File: "matmul_tiled", Entry: "main", Flags: []string{"TA", "TB"}},

	kLayerNormSeq:     {File: "layernorm_seq", Entry: "main"},
	kLayerNormBwdSeq:  {File: "layernorm_bwd_seq", Entry: "main"},
	kRowSumSeq:        {File: "rowsum_seq", Entry: "main"},
	kReducePartialSeq: {File: "reduce_seq", Entry: "partial", Consts: []string{"SQ"}},
	kReduceFinishSeq:  {File: "reduce_seq", Entry: "finish", Consts: []string{"SQ"}},
	kCrossEntropySeq:  {File: "crossentropy_seq", Entry: "main", Consts: []string{"DLOG"}},
	kAttentionSeq:     {File: "attention_seq", Entry: "main"},
	kAttnBwdRowsSeq:   {File: "attention_bwd_seq", Entry: "rows"},
	kAttnBwdColsSeq:   {File: "attention_bwd_seq", Entry: "cols"},
	kKVAttendSeq:      {File: "kvattention_seq", Entry: "attend"},
}

// Element-wise op codes of ew.wgsl.
const (
	ewAdd = iota
	ewAddInPlace
	ewMul
	ewScale
	ewAXPY
	ewGELUTanh
	ewGELUErf
	ewGELUTanhGrad
	ewGELUErfGrad
	ewTanh
	ewTanhGrad
	ewDropout
)

// Broadcast op codes of bcast.wgsl.
const (
	bcScaleCols = iota
	bcScaleRows
	bcAddCols
	bcAddRows
)

// variantSource returns the full WGSL of a kernel variant: the prelude, the
// file preprocessed with the flags of defs, and the given aliases applied
// (alias[i] = j+1 means decl i is replaced by decl j). It also returns the
// storage declarations that remain, in binding order.
func variantSource(spec kernelSpec, defs uint32, alias [maxBindings]uint8) (string, []storageDecl, error) {
	prelude, err := kernelSource("prelude")
	if err != nil {
		return "", nil, err
	}
	src, err := kernelSource(spec.File)
	if err != nil {
		return "", nil, err
	}
	defined := map[string]bool{}
	for i, f := range spec.Flags {
		if defs&(1<<i) != 0 {
			defined[f] = true
		}
	}
	src, err = preprocess(src, defined)
	if err != nil {
		return "", nil, fmt.Errorf("webgpu: kernel %s: %v", spec.File, err)
	}
	decls, err := parseDecls(src)
	if err != nil {
		return "", nil, fmt.Errorf("webgpu: kernel %s: %v", spec.File, err)
	}
	var kept []storageDecl
	for i, d := range decls {
		if i < maxBindings && alias[i] != 0 {
			src = applyAlias(src, decls, i, int(alias[i])-1)
			continue
		}
		kept = append(kept, d)
	}
	return prelude + "\n" + src, kept, nil
}

// maxBindings is the most storage bindings a kernel may declare (the
// WebGPU default of maxStorageBuffersPerShaderStage).
const maxBindings = 8
