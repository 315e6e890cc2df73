// attention_seq: attention.wgsl with one invocation per (batch·head,
// query) row and no barriers (the CPU-adapter variant). Same bindings,
// uniforms, score storage, dropout mask and summation order over keys.
struct P {
  T: u32, C: u32, NH: u32, hs: u32,
  scale: f32, causal: u32, hasMask: u32, thr: u32,
  hseed: u32, dscale: f32, bh0: u32, rows: u32,
  aoff: u32, pad0: u32, pad1: u32, pad2: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> A: array<f32>;
@group(0) @binding(3) var<storage, read> Q: array<f32>;
@group(0) @binding(4) var<storage, read> K: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let T = p.T;
  let bhl = r / T;
  let t = r - bhl * T;
  let bh = p.bh0 + bhl;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let C3 = 3u * p.C;
  let qb = (b * T + t) * C3 + h * p.hs;
  let ar = p.aoff + (bhl * T + t) * T;
  let last = select(T, t + 1u, p.causal == 1u);

  var mx = -3.0e38;
  for (var t2 = 0u; t2 < last; t2++) {
    if (p.hasMask == 1u && K[b * T + t2] == 0) { continue; }
    let kb = (b * T + t2) * C3 + p.C + h * p.hs;
    var d = 0.0;
    for (var i = 0u; i < p.hs; i++) { d += Q[qb + i] * Q[kb + i]; }
    d *= p.scale;
    A[ar + t2] = d;
    mx = max(mx, d);
  }
  var s = 0.0;
  for (var t2 = 0u; t2 < last; t2++) {
    if (p.hasMask == 1u && K[b * T + t2] == 0) { A[ar + t2] = 0.0; continue; }
    let e = exp(A[ar + t2] - mx);
    A[ar + t2] = e;
    s += e;
  }
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var t2 = 0u; t2 < T; t2++) {
    if (t2 < last) { A[ar + t2] = A[ar + t2] * inv; } else { A[ar + t2] = 0.0; }
  }
  for (var i = 0u; i < p.hs; i++) {
    var o = 0.0;
    for (var t2 = 0u; t2 < last; t2++) {
      var pr = A[ar + t2];
      if (p.thr != 0u) {
        if (hash32(p.hseed + (bh * T + t) * T + t2) < p.thr) { continue; }
        pr *= p.dscale;
      }
      o += pr * Q[(b * T + t2) * C3 + 2u * p.C + h * p.hs + i];
    }
    O[(b * T + t) * p.C + h * p.hs + i] = o;
  }
}
