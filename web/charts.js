// Small canvas charts, no dependencies: line charts for the training curves,
// heatmaps for a, b, W0 and W′, and scatter plots of W′ against W0. Every
// chart draws at the device pixel ratio and redraws when its box resizes.

const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function themeColor(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

// setupCanvas sizes the canvas backing store to its CSS box times the
// device pixel ratio and returns a 2D context in CSS pixels.
function setupCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth || canvas.width));
  const h = Math.max(1, Math.round(canvas.clientHeight || canvas.height));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

// niceTicks returns about n round numbers spanning [lo, hi].
export function niceTicks(lo, hi, n = 5) {
  if (!isFinite(lo) || !isFinite(hi)) return [];
  if (hi === lo) { hi = lo + 1; }
  const span = hi - lo;
  const raw = span / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

// tickDecimals returns the decimals that tell a list of evenly spaced
// ticks apart.
function tickDecimals(ticks) {
  if (ticks.length < 2) return 2;
  const step = Math.abs(ticks[1] - ticks[0]);
  return step > 0 ? Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9))) : 2;
}

function tickLabel(v, decimals) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(1).replace('e+', 'e');
  return v.toFixed(decimals);
}

export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!isFinite(v)) return v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(Math.max(0, digits - 1)).replace('e+', 'e');
  return Number(v.toPrecision(digits)).toString();
}

function observe(canvas, draw) {
  if (typeof ResizeObserver === 'function') {
    let last = '';
    new ResizeObserver(() => {
      const key = canvas.clientWidth + 'x' + canvas.clientHeight;
      if (key !== last) { last = key; draw(); }
    }).observe(canvas);
  }
}

// LineChart plots one or more series of (x, y) points.
export class LineChart {
  constructor(canvas, { xLabel = 'step', yLabel = '', series = [], yMin = null, integerX = true } = {}) {
    this.canvas = canvas;
    this.integerX = integerX;
    this.xLabel = xLabel;
    this.yLabel = yLabel;
    this.yMin = yMin;
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.pending = false;
    observe(canvas, () => this.draw());
  }

  setSeries(series) {
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.schedule();
  }

  add(i, x, y) {
    if (!this.series[i] || !isFinite(x) || !isFinite(y)) return;
    this.series[i].points.push([x, y]);
    this.schedule();
  }

  clear() {
    for (const s of this.series) s.points = [];
    this.schedule();
  }

  points() {
    return this.series.map((s) => s.points.slice());
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const { ctx, w, h } = setupCanvas(this.canvas);
    const fg = themeColor(this.canvas, '--fg', '#222');
    const muted = themeColor(this.canvas, '--muted', '#777');
    const grid = themeColor(this.canvas, '--grid', '#ddd');
    ctx.font = FONT;
    const all = this.series.flatMap((s) => s.points);
    let L = 52;
    const R = 12, T = 24, B = 34;
    const pw = Math.max(10, w - L - R), ph = Math.max(10, h - T - B);
    // legend
    let lx = L;
    ctx.textBaseline = 'middle';
    for (const s of this.series) {
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, 8, 14, 3);
      ctx.fillStyle = fg;
      ctx.fillText(s.name, lx + 18, 10);
      lx += 18 + ctx.measureText(s.name).width + 16;
    }
    if (all.length === 0) {
      ctx.fillStyle = muted;
      ctx.textAlign = 'center';
      ctx.fillText('no data yet', L + pw / 2, T + ph / 2);
      ctx.textAlign = 'start';
      this.drawAxes(ctx, L, T, pw, ph, [], [], muted, fg, grid);
      return;
    }
    let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
    let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
    if (this.yMin !== null) y0 = Math.min(y0, this.yMin);
    if (x1 === x0) { x1 = x0 + 1; }
    if (y1 === y0) { y1 = y0 + Math.max(1e-6, Math.abs(y0) * 0.1); y0 -= Math.max(1e-6, Math.abs(y0) * 0.1); }
    const pad = (y1 - y0) * 0.06;
    y0 -= pad; y1 += pad;
    const yt = niceTicks(y0, y1, Math.max(2, Math.floor(ph / 40)));
    // room for the widest y tick label
    const yd = tickDecimals(yt);
    const widest = Math.max(0, ...yt.map((v) => ctx.measureText(tickLabel(v, yd)).width));
    const L2 = Math.max(52, Math.ceil(widest) + 30);
    const pw2 = Math.max(10, pw - (L2 - L));
    L = L2;
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * pw2;
    const sy = (y) => T + ph - ((y - y0) / (y1 - y0)) * ph;
    let xt = niceTicks(x0, x1, Math.max(2, Math.floor(pw2 / 70)));
    if (this.integerX) {
      xt = xt.filter((v) => Number.isInteger(Math.round(v * 1e9) / 1e9));
      if (xt.length < 2) xt = [x0, x1].map(Math.round).filter((v, i, a) => a.indexOf(v) === i);
    }
    this.drawAxes(ctx, L, T, pw2, ph, xt.map((v) => [sx(v), v]), yt.map((v) => [sy(v), v]), muted, fg, grid);
    ctx.save();
    ctx.beginPath();
    ctx.rect(L, T, pw2, ph);
    ctx.clip();
    for (const s of this.series) {
      if (s.points.length === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      s.points.forEach(([x, y], k) => (k ? ctx.lineTo(sx(x), sy(y)) : ctx.moveTo(sx(x), sy(y))));
      ctx.stroke();
      ctx.setLineDash([]);
      if (s.points.length < 40 || s.markers) {
        for (const [x, y] of s.points) {
          ctx.beginPath();
          ctx.arc(sx(x), sy(y), 2.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.restore();
  }

  drawAxes(ctx, L, T, pw, ph, xt, yt, muted, fg, grid) {
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = muted;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    const xd = tickDecimals(xt.map((p) => p[1]));
    for (const [px, v] of xt) {
      ctx.beginPath(); ctx.moveTo(px, T); ctx.lineTo(px, T + ph); ctx.stroke();
      ctx.fillText(tickLabel(v, xd), px, T + ph + 4);
    }
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const yd = tickDecimals(yt.map((p) => p[1]));
    for (const [py, v] of yt) {
      ctx.beginPath(); ctx.moveTo(L, py); ctx.lineTo(L + pw, py); ctx.stroke();
      ctx.fillText(tickLabel(v, yd), L - 6, py);
    }
    ctx.strokeStyle = muted;
    ctx.strokeRect(L, T, pw, ph);
    ctx.fillStyle = fg;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(this.xLabel, L + pw / 2, T + ph + 32);
    ctx.save();
    ctx.translate(12, T + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(this.yLabel, 0, 0);
    ctx.restore();
    ctx.textAlign = 'start';
  }
}

// Diverging colour map (blue – white – red), t in [-1, 1].
const STOPS = [
  [-1, [33, 102, 172]], [-0.5, [103, 169, 207]], [0, [247, 247, 247]],
  [0.5, [239, 138, 98]], [1, [178, 24, 43]],
];
export function diverging(t) {
  t = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (t <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const u = (t - t0) / (t1 - t0);
      return c0.map((c, k) => Math.round(c + (c1[k] - c) * u));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

// toMatrix turns an array of rows, or a flat array with a row count, into
// {rows, cols, at(i, j)}.
export function toMatrix(m, rows) {
  if (Array.isArray(m) && m.length && (Array.isArray(m[0]) || ArrayBuffer.isView(m[0]))) {
    return { rows: m.length, cols: m[0].length, at: (i, j) => m[i][j] };
  }
  const n = m ? m.length : 0;
  if (n === 0) return { rows: 0, cols: 0, at: () => NaN };
  rows = rows || 1;
  const cols = Math.max(1, Math.floor(n / rows));
  return { rows, cols, at: (i, j) => m[i * cols + j] };
}

// drawHeatmap draws a matrix with the diverging map centred on `center`,
// saturating at center ± lim, and a colour bar with the limits underneath.
export function drawHeatmap(canvas, matrix, { center = 0, lim = null, title = '' } = {}) {
  const { ctx, w, h } = setupCanvas(canvas);
  const fg = themeColor(canvas, '--fg', '#222');
  const muted = themeColor(canvas, '--muted', '#777');
  ctx.font = FONT;
  const M = toMatrix(matrix);
  if (!M.rows || !M.cols) {
    ctx.fillStyle = muted;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('no data yet', w / 2, h / 2);
    ctx.textAlign = 'start';
    return { lim: 0 };
  }
  if (lim === null) {
    lim = 0;
    for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) lim = Math.max(lim, Math.abs(M.at(i, j) - center));
    if (!(lim > 0)) lim = 1e-6;
  }
  const img = new ImageData(M.cols, M.rows);
  for (let i = 0; i < M.rows; i++) {
    for (let j = 0; j < M.cols; j++) {
      const [r, g, b] = diverging((M.at(i, j) - center) / lim);
      const k = 4 * (i * M.cols + j);
      img.data[k] = r; img.data[k + 1] = g; img.data[k + 2] = b; img.data[k + 3] = 255;
    }
  }
  const off = document.createElement('canvas');
  off.width = M.cols; off.height = M.rows;
  off.getContext('2d').putImageData(img, 0, 0);
  const top = title ? 18 : 2, bar = 26;
  const availW = w - 4, availH = Math.max(8, h - top - bar);
  // keep cells square-ish, but fill thin strips (a vector) across the box
  let cw = availW / M.cols, chh = availH / M.rows;
  if (M.rows > 1 && M.cols > 1) { const c = Math.min(cw, chh); cw = c; chh = c; }
  const dw = cw * M.cols, dh = chh * M.rows;
  const x0 = (w - dw) / 2, y0 = top;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x0, y0, dw, dh);
  ctx.strokeStyle = muted;
  ctx.strokeRect(x0 - 0.5, y0 - 0.5, dw + 1, dh + 1);
  if (title) {
    ctx.fillStyle = fg;
    ctx.textBaseline = 'top';
    ctx.fillText(title, 2, 1);
  }
  // colour bar
  const by = y0 + dh + 6, bw = Math.min(160, w - 100), bx = (w - bw) / 2;
  for (let k = 0; k < bw; k++) {
    const [r, g, b] = diverging((k / (bw - 1)) * 2 - 1);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(bx + k, by, 1, 8);
  }
  ctx.fillStyle = muted;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'right';
  ctx.fillText(fmt(center - lim), bx - 4, by - 2);
  ctx.textAlign = 'left';
  ctx.fillText(fmt(center + lim), bx + bw + 4, by - 2);
  ctx.textAlign = 'start';
  return { lim };
}

// drawScatter plots ys against xs; diag draws y = x.
export function drawScatter(canvas, xs, ys, { xLabel = '', yLabel = '', color = '#b2182b', diag = true, title = '' } = {}) {
  const { ctx, w, h } = setupCanvas(canvas);
  const fg = themeColor(canvas, '--fg', '#222');
  const muted = themeColor(canvas, '--muted', '#777');
  const grid = themeColor(canvas, '--grid', '#ddd');
  ctx.font = FONT;
  const L = 52, R = 10, T = title ? 22 : 10, B = 34;
  const pw = Math.max(10, w - L - R), ph = Math.max(10, h - T - B);
  if (title) { ctx.fillStyle = fg; ctx.textBaseline = 'top'; ctx.fillText(title, 4, 2); }
  const n = Math.min(xs.length, ys.length);
  if (n === 0) {
    ctx.fillStyle = muted;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('no data yet', w / 2, h / 2);
    ctx.textAlign = 'start';
    return;
  }
  // With diag, both axes share one scale so that y = x is the diagonal;
  // without, each axis fits its own data (an update can be 100× smaller
  // than the weights and still show its shape).
  const range = (arrs) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      if (!isFinite(xs[i]) || !isFinite(ys[i])) continue;
      for (const a of arrs) { lo = Math.min(lo, a[i]); hi = Math.max(hi, a[i]); }
    }
    if (!(hi > lo)) { const c = isFinite(lo) ? lo : 0; const d = Math.max(Math.abs(c) * 0.1, 1e-6); lo = c - d; hi = c + d; }
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  };
  const [xlo, xhi] = diag ? range([xs, ys]) : range([xs]);
  const [ylo, yhi] = diag ? [xlo, xhi] : range([ys]);
  const s = Math.min(pw, ph);
  const ox = L + (pw - s) / 2, oy = T + (ph - s) / 2;
  const sx = (v) => ox + ((v - xlo) / (xhi - xlo)) * s;
  const sy = (v) => oy + s - ((v - ylo) / (yhi - ylo)) * s;
  const xt = niceTicks(xlo, xhi, Math.max(2, Math.floor(s / 60)));
  const yt = diag ? xt : niceTicks(ylo, yhi, Math.max(2, Math.floor(s / 50)));
  ctx.strokeStyle = grid;
  ctx.fillStyle = muted;
  ctx.lineWidth = 1;
  const xd = tickDecimals(xt), yd = tickDecimals(yt);
  ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  for (const v of xt) {
    ctx.beginPath(); ctx.moveTo(sx(v), oy); ctx.lineTo(sx(v), oy + s); ctx.stroke();
    ctx.fillText(tickLabel(v, xd), sx(v), oy + s + 4);
  }
  ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
  for (const v of yt) {
    ctx.beginPath(); ctx.moveTo(ox, sy(v)); ctx.lineTo(ox + s, sy(v)); ctx.stroke();
    ctx.fillText(tickLabel(v, yd), ox - 5, sy(v));
  }
  ctx.strokeStyle = muted;
  ctx.strokeRect(ox, oy, s, s);
  if (diag) {
    ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(sx(xlo), sy(xlo)); ctx.lineTo(sx(xhi), sy(xhi)); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.fillStyle = color;
  ctx.globalAlpha = n > 600 ? 0.45 : 0.7;
  for (let i = 0; i < n; i++) {
    if (!isFinite(xs[i]) || !isFinite(ys[i])) continue;
    ctx.fillRect(sx(xs[i]) - 1.5, sy(ys[i]) - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = fg;
  ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
  ctx.fillText(xLabel, ox + s / 2, oy + s + 32);
  ctx.save();
  ctx.translate(12, oy + s / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  ctx.textAlign = 'start';
}

// inkFraction reports the share of a canvas's pixels that are drawn
// (non-transparent): a cheap "is it rendered" check for tests and status.
export function inkFraction(canvas) {
  if (!canvas.width || !canvas.height) return 0;
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++;
  return n / (d.length / 4);
}
