// The teaching view: the formula with the user's shapes, statistics of a
// slice of W0 and W′, and the honest facts about HUT (docs: shared HUT.md).
import { fmt } from './charts.js';

// pearson returns the correlation of two equally long arrays (NaN when
// either is constant).
export function pearson(x, y) {
  const n = Math.min(x.length, y.length);
  if (n < 2) return NaN;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

function flat(m) {
  if (!m) return [];
  if (Array.isArray(m) && m.length && (Array.isArray(m[0]) || ArrayBuffer.isView(m[0]))) {
    const out = [];
    for (const row of m) for (const v of row) out.push(v);
    return out;
  }
  return Array.from(m);
}

// sliceStats computes what the view shows from an inspect answer.
export function sliceStats(ins) {
  const w0 = flat(ins.w0), wp = flat(ins.wPrime);
  const n = Math.min(w0.length, wp.length);
  const dw = new Array(n), a0 = new Array(n), ad = new Array(n);
  let nd = 0, n0 = 0;
  for (let i = 0; i < n; i++) {
    dw[i] = wp[i] - w0[i];
    a0[i] = Math.abs(w0[i]);
    ad[i] = Math.abs(dw[i]);
    nd += dw[i] * dw[i];
    n0 += w0[i] * w0[i];
  }
  return {
    w0: w0.slice(0, n), wp: wp.slice(0, n), dw,
    corr: pearson(wp, w0),
    dcorr: pearson(dw, w0),
    acorr: pearson(ad, a0),
    rel: n0 > 0 ? Math.sqrt(nd / n0) : NaN,
  };
}

// deltaMatrix returns W′ − W0 as rows.
export function deltaMatrix(ins) {
  const w0 = ins.w0 || [], wp = ins.wPrime || [];
  return w0.map((row, i) => Array.from(row, (v, j) => wp[i][j] - v));
}

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

function el(tag, cls, html) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html !== undefined) e.innerHTML = html;
  return e;
}

// renderFormula fills the formula box for a method with the user's shapes.
export function renderFormula(box, { method, dOut, dIn, r, alpha, module, layer }) {
  box.textContent = '';
  const where = `<code>${escapeHTML(module)}</code> of layer ${layer}: W0 ∈ ℝ<sup>${dOut}×${dIn}</sup> (d<sub>out</sub> = ${dOut}, d<sub>in</sub> = ${dIn})`;
  box.appendChild(el('p', '', where));
  const full = dOut * dIn;
  if (method === 'hut') {
    box.appendChild(el('p', 'eq', `W′ = (M<sub>A</sub> 1<sub>A</sub>) ⊙ W0 ⊙ (1<sub>B</sub> M<sub>B</sub>) = diag(a) · W0 · diag(b)`));
    box.appendChild(el('p', '', `M<sub>A</sub> ∈ ℝ<sup>${dOut}×${r}</sup>, M<sub>B</sub> ∈ ℝ<sup>${r}×${dIn}</sup>, `
      + `1<sub>A</sub> = 1<sup>${r}×${dIn}</sup>, 1<sub>B</sub> = 1<sup>${dOut}×${r}</sup>; `
      + `a<sub>i</sub> = Σ<sub>t</sub> M<sub>A</sub>[i,t] (${dOut} numbers), b<sub>j</sub> = Σ<sub>t</sub> M<sub>B</sub>[t,j] (${dIn} numbers), so W′<sub>ij</sub> = a<sub>i</sub> · W0<sub>ij</sub> · b<sub>j</sub>.`));
    box.appendChild(el('p', '', `Stored: r·(d<sub>in</sub> + d<sub>out</sub>) = ${r}·(${dIn} + ${dOut}) = <strong>${int(r * (dIn + dOut))}</strong> numbers; `
      + `W′ itself has only d<sub>in</sub> + d<sub>out</sub> − 1 = <strong>${int(dIn + dOut - 1)}</strong> degrees of freedom `
      + `(c·a and b/c give the same W′), against ${int(full)} for the full matrix.`));
    box.appendChild(el('p', '', 'Training never forms W′: Z = (X ⊙ bᵀ) W0ᵀ, Y = Z ⊙ aᵀ + c. No weight-gradient matrix product is needed.'));
  } else if (method === 'hira') {
    box.appendChild(el('p', 'eq', `W′ = W0 ⊙ (1 + B · A)`));
    box.appendChild(el('p', '', `A ∈ ℝ<sup>${r}×${dIn}</sup>, B ∈ ℝ<sup>${dOut}×${r}</sup>: ${int(r * (dIn + dOut))} numbers. `
      + `ΔW = W0 ⊙ (B·A) can reach rank r · rank(W0), far above r, but training needs the dense gradient ∂L/∂W′, like full fine-tuning.`));
  } else if (method === 'lora') {
    box.appendChild(el('p', 'eq', `W′ = W0 + (α / r) · B · A`));
    box.appendChild(el('p', '', `A ∈ ℝ<sup>${r}×${dIn}</sup>, B ∈ ℝ<sup>${dOut}×${r}</sup>, α / r = ${fmt(alpha / r)}: `
      + `${int(r * (dIn + dOut))} numbers, and ΔW has rank at most ${r}. ΔW does not depend on W0.`));
  } else {
    box.appendChild(el('p', 'eq', `W′ = W0 + ΔW, every entry trainable`));
    box.appendChild(el('p', '', `${int(full)} numbers for this matrix alone, plus two Adam moments each.`));
  }
}

// renderFacts fills the honest facts, with the run's numbers.
export function renderFacts(box, { method, r, lr, dOut, dIn }) {
  box.textContent = '';
  const f1 = el('div', 'fact');
  f1.appendChild(el('h3', '', 'Effective degrees of freedom'));
  f1.appendChild(el('p', '', `HUT stores r·(d<sub>in</sub> + d<sub>out</sub>) numbers per matrix, here ${int(r * (dIn + dOut))}, `
    + `but every column of M<sub>A</sub> receives the same gradient (∂L/∂M<sub>A</sub>[i,t] = ∂L/∂a<sub>i</sub> for every t), `
    + `so only the sums a and b matter: ${int(dIn + dOut)} numbers. Raising r adds storage, not expressiveness.`));
  const f2 = el('div', 'fact');
  f2.appendChild(el('h3', '', 'Rank acts as a learning-rate multiplier'));
  const per = r * lr;
  f2.appendChild(el('p', '', `With Adam each of the r copies moves by about one learning-rate step, so a<sub>i</sub> = Σ<sub>t</sub> M<sub>A</sub>[i,t] moves by up to r·lr per step: `
    + `here ${r} × ${fmt(lr)} ≈ <strong>${fmt(per)}</strong>. Doubling r is much like doubling the learning rate of a and b.`));
  const f3 = el('div', 'fact');
  f3.appendChild(el('h3', '', 'The update stays tied to W0'));
  f3.appendChild(el('p', '', `HUT changes a weight only by scaling it: ΔW<sub>ij</sub> = (a<sub>i</sub> b<sub>j</sub> − 1) · W0<sub>ij</sub>. `
    + `Large weights move most and zero weights stay zero, so |ΔW| tracks |W0| (the paper’s “updated transformation” claim). `
    + `LoRA adds B·A, which knows nothing of W0. Compare the scatters, or run both in section 5.`));
  const f4 = el('div', 'fact');
  f4.appendChild(el('h3', '', 'Cost per step'));
  f4.appendChild(el('p', '', `Beyond a frozen layer’s forward and input-gradient products, HUT adds element-wise work only (O(N·(d<sub>in</sub> + d<sub>out</sub>)) for N tokens); `
    + `LoRA adds about 6·N·r·(d<sub>in</sub> + d<sub>out</sub>) FLOPs; HiRA and full fine-tuning add the weight-gradient product, 2·N·d<sub>in</sub>·d<sub>out</sub>.`));
  for (const f of method === 'hut' ? [f1, f2, f3, f4] : [f3, f4, f1, f2]) box.appendChild(f);
}

export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
