//go:build js && wasm

package webgpu

// Row kernel names for WithRowKernels.
const (
	RowAuto = "auto" // seq on CPU/fallback adapters, tree elsewhere
	RowTree = "tree" // one workgroup per row, fixed-order tree reductions in workgroup memory
	RowSeq  = "seq"  // one invocation per row, sequential loops, no barriers
)

// WithRowKernels selects how the row-wise kernels (LayerNorm and its
// backward, CrossEntropy, Attention and its backward, KVAttention, RowSum,
// Sum/SumSquares) work: RowTree gives each row a workgroup that reduces
// in workgroup memory, the right shape for a GPU; RowSeq gives each row one
// invocation that loops over it without any barrier. On CPU adapters
// (SwiftShader) a workgroup barrier costs so much more than the arithmetic
// of a row that RowSeq is 20–100× faster there; RowAuto (the default)
// picks it for fallback adapters and RowTree otherwise. Both are held to
// the CPU reference by the parity tests.
func WithRowKernels(mode string) Option { return func(c *config) { c.rowKernels = mode } }

// runRowsK dispatches c (whose kernel is the tree variant) over rows:
// one workgroup per row, or, with the row-per-invocation kernels, the
// sequential variant seq over 64-wide workgroups.
func (be *Backend) runRowsK(c *call, seq int, rows int) {
	if !be.rowSeq {
		be.runRows(c, rows)
		return
	}
	if rows <= 0 {
		return
	}
	c.k = seq
	x, y := be.grid((rows + 63) / 64)
	be.run(c, x, y, 1)
}
