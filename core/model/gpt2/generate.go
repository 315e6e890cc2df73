package gpt2

import (
	"fmt"
	"math"

	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
)

func nan() float64 { return math.NaN() }

// Generator runs the model incrementally with a key/value cache over a
// batch of rows. It implements the decode.LM interface (Prefill, Step,
// Reorder, VocabSize). Prompts of different lengths are left-padded and the
// padding is masked out of attention; each row's positions count its own
// tokens only, as Hugging Face's generate does with an attention mask.
type Generator struct {
	m        *Model
	Tmax     int
	rows     int
	slot     int     // cache slots used so far (same for every row)
	nextPos  []int32 // next position id per row
	mask     []int32 // [rows, Tmax] key mask
	kc, vc   []tensor.Buf
	maskBuf  tensor.IBuf
	maskRows int
}

// NewGenerator returns a generator whose rows hold at most tmax tokens
// (prompt, padding and generated tokens together).
func (m *Model) NewGenerator(tmax int) (*Generator, error) {
	if tmax <= 0 {
		return nil, fmt.Errorf("gpt2: generator length %d", tmax)
	}
	return &Generator{m: m, Tmax: tmax}, nil
}

// VocabSize returns the size of the logit vectors.
func (g *Generator) VocabSize() int { return g.m.Cfg.VocabSize }

func (g *Generator) free() {
	for _, b := range g.kc {
		g.m.Be.Free(b)
	}
	for _, b := range g.vc {
		g.m.Be.Free(b)
	}
	g.kc, g.vc = nil, nil
	if g.maskBuf != nil {
		g.m.Be.FreeI(g.maskBuf)
		g.maskBuf = nil
	}
}

// Close releases the cache.
func (g *Generator) Close() { g.free() }

func (g *Generator) alloc(rows int) {
	g.free()
	n := rows * g.Tmax * g.m.Cfg.NEmbd
	for range g.m.Layers {
		g.kc = append(g.kc, g.m.Be.NewBuf(n))
		g.vc = append(g.vc, g.m.Be.NewBuf(n))
	}
	g.maskBuf = g.m.Be.NewIBuf(rows * g.Tmax)
	g.rows = rows
}

// Prefill starts a new batch with the given prompts and returns the logits
// of the next token of each row.
func (g *Generator) Prefill(prompts [][]int) ([][]float32, error) {
	if len(prompts) == 0 {
		return nil, fmt.Errorf("gpt2: no prompts")
	}
	L := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("gpt2: prompt %d is empty", i)
		}
		L = max(L, len(p))
	}
	if L > g.Tmax {
		return nil, fmt.Errorf("gpt2: prompt of %d tokens exceeds the generator length %d", L, g.Tmax)
	}
	R := len(prompts)
	g.alloc(R)
	g.slot = 0
	g.nextPos = make([]int32, R)
	g.mask = make([]int32, R*g.Tmax)
	toks := make([]int32, R*L)
	pos := make([]int32, R*L)
	for r, p := range prompts {
		pad := L - len(p)
		for j := 0; j < L; j++ {
			if j < pad {
				toks[r*L+j] = int32(g.m.Cfg.EOSTokenID)
				pos[r*L+j] = 1
				continue
			}
			t := p[j-pad]
			if t < 0 || t >= g.m.Cfg.VocabSize {
				return nil, fmt.Errorf("gpt2: prompt %d: token id %d outside the vocabulary [0, %d)", r, t, g.m.Cfg.VocabSize)
			}
			toks[r*L+j] = int32(t)
			pos[r*L+j] = int32(j - pad)
			g.mask[r*g.Tmax+j] = 1
		}
		g.nextPos[r] = int32(len(p))
	}
	return g.run(toks, pos, L)
}

// Step feeds one token per row and returns each row's next-token logits.
func (g *Generator) Step(tokens []int) ([][]float32, error) {
	if len(tokens) != g.rows {
		return nil, fmt.Errorf("gpt2: step got %d tokens for %d rows", len(tokens), g.rows)
	}
	if g.slot >= g.Tmax {
		return nil, fmt.Errorf("gpt2: generator is full (%d tokens)", g.Tmax)
	}
	toks := make([]int32, g.rows)
	pos := make([]int32, g.rows)
	for r, t := range tokens {
		if t < 0 || t >= g.m.Cfg.VocabSize {
			return nil, fmt.Errorf("gpt2: token id %d outside the vocabulary", t)
		}
		if int(g.nextPos[r]) >= g.m.Cfg.NPositions {
			return nil, fmt.Errorf("gpt2: row %d reached n_positions = %d", r, g.m.Cfg.NPositions)
		}
		toks[r] = int32(t)
		pos[r] = g.nextPos[r]
		g.mask[r*g.Tmax+g.slot] = 1
		g.nextPos[r]++
	}
	return g.run(toks, pos, 1)
}

// Reorder makes row i continue old row src[i] (beam search).
func (g *Generator) Reorder(src []int) error {
	be := g.m.Be
	R := len(src)
	for _, s := range src {
		if s < 0 || s >= g.rows {
			return fmt.Errorf("gpt2: reorder source row %d of %d", s, g.rows)
		}
	}
	per := g.Tmax * g.m.Cfg.NEmbd
	oldK, oldV := g.kc, g.vc
	g.kc, g.vc = nil, nil
	for l := range g.m.Layers {
		nk, nv := be.NewBuf(R*per), be.NewBuf(R*per)
		for i, s := range src {
			be.Copy(nk, i*per, oldK[l], s*per, per)
			be.Copy(nv, i*per, oldV[l], s*per, per)
		}
		be.Free(oldK[l])
		be.Free(oldV[l])
		g.kc = append(g.kc, nk)
		g.vc = append(g.vc, nv)
	}
	mask := make([]int32, R*g.Tmax)
	pos := make([]int32, R)
	for i, s := range src {
		copy(mask[i*g.Tmax:(i+1)*g.Tmax], g.mask[s*g.Tmax:(s+1)*g.Tmax])
		pos[i] = g.nextPos[s]
	}
	g.mask, g.nextPos = mask, pos
	if R != g.rows {
		be.FreeI(g.maskBuf)
		g.maskBuf = be.NewIBuf(R * g.Tmax)
	}
	g.rows = R
	return nil
}

// run feeds Tn tokens per row at cache slots g.slot… and returns the
// logits after each row's last new token.
func (g *Generator) run(toks, pos []int32, Tn int) ([][]float32, error) {
	m, be, cfg := g.m, g.m.Be, g.m.Cfg
	R, C, V, I := g.rows, cfg.NEmbd, cfg.VocabSize, cfg.Inner()
	N := R * Tn
	tok, pb := be.NewIBuf(N), be.NewIBuf(N)
	defer be.FreeI(tok)
	defer be.FreeI(pb)
	be.WriteI(tok, 0, toks)
	be.WriteI(pb, 0, pos)
	be.WriteI(g.maskBuf, 0, g.mask)
	x, x2, ln := be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	qkv, att, tmp := be.NewBuf(N*3*C), be.NewBuf(N*C), be.NewBuf(N*C)
	fc, fcg := be.NewBuf(N*I), be.NewBuf(N*I)
	mean, rstd := be.NewBuf(N), be.NewBuf(N)
	defer func() {
		for _, b := range []tensor.Buf{x, x2, ln, qkv, att, tmp, fc, fcg, mean, rstd} {
			be.Free(b)
		}
	}()
	be.Embed(x, tok, pb, nil, m.WTE.W, m.WPE.W, nil, N, C)
	ctx := &peft.Ctx{Be: be, WS: m.ws}
	gelu := m.geluKind()
	for l, ly := range m.Layers {
		be.LayerNorm(ln, mean, rstd, x, ly.LN1W.W, ly.LN1B.W, N, C, cfg.LayerNormEps)
		ly.Attn.Forward(ctx, qkv, ln, N)
		be.KVAttention(att, qkv, g.kc[l], g.vc[l], g.maskBuf, R, Tn, C, cfg.NHead, g.slot, g.Tmax)
		ly.AttnProj.Forward(ctx, tmp, att, N)
		be.Add(x2, x, tmp, N*C)
		be.LayerNorm(ln, mean, rstd, x2, ly.LN2W.W, ly.LN2B.W, N, C, cfg.LayerNormEps)
		ly.FC.Forward(ctx, fc, ln, N)
		be.GELU(fcg, fc, N*I, gelu)
		ly.Proj.Forward(ctx, tmp, fcg, N)
		be.Add(x, x2, tmp, N*C)
	}
	g.slot += Tn
	// Only the last new position of each row needs the LM head.
	last := make([]int32, R)
	for r := range last {
		last[r] = int32(r*Tn + Tn - 1)
	}
	idx := be.NewIBuf(R)
	defer be.FreeI(idx)
	be.WriteI(idx, 0, last)
	be.GatherRows(x2, x, idx, R, C)
	be.LayerNorm(ln, mean, rstd, x2, m.LNFW.W, m.LNFB.W, R, C, cfg.LayerNormEps)
	logits := be.NewBuf(R * V)
	defer be.Free(logits)
	be.MatMul(logits, ln, m.WTE.W, R, V, C, false, true, 1, 0)
	host := make([]float32, R*V)
	be.Read(logits, 0, host)
	out := make([][]float32, R)
	for r := range out {
		out[r] = host[r*V : (r+1)*V]
	}
	return out, nil
}
