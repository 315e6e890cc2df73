package tensor

// Param is a named parameter tensor with its gradient and AdamW state.
// G, M and V are nil while the parameter is frozen.
type Param struct {
	Name  string // Hugging Face / PEFT style name
	Shape []int
	W     Buf
	G     Buf
	M, V  Buf
	// NoDecay excludes the parameter from AdamW weight decay.
	NoDecay bool
}

// Size returns the number of elements of p.
func (p *Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Trainable reports whether p has a gradient buffer.
func (p *Param) Trainable() bool { return p.G != nil }

// NewParam allocates a frozen parameter on be.
func NewParam(be Backend, name string, shape ...int) *Param {
	p := &Param{Name: name, Shape: append([]int(nil), shape...)}
	p.W = be.NewBuf(p.Size())
	return p
}

// MakeTrainable allocates the gradient and optimizer state of p.
func (p *Param) MakeTrainable(be Backend) {
	if p.G == nil {
		p.G = be.NewBuf(p.Size())
		p.M = be.NewBuf(p.Size())
		p.V = be.NewBuf(p.Size())
	}
}

// Freeze releases the gradient and optimizer state of p.
func (p *Param) Freeze(be Backend) {
	for _, b := range []Buf{p.G, p.M, p.V} {
		if b != nil {
			be.Free(b)
		}
	}
	p.G, p.M, p.V = nil, nil, nil
}

// ReadAll returns a host copy of p's values.
func (p *Param) ReadAll(be Backend) []float32 {
	out := make([]float32, p.Size())
	be.Read(p.W, 0, out)
	return out
}
