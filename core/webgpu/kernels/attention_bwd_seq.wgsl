// attention_bwd_seq: attention_bwd.wgsl with one invocation per row
// ("rows": per (bh, t); "cols": per (bh, t2)) and no barriers (the
// CPU-adapter variant). Same bindings, uniforms and summation orders.
struct P {
  T: u32, C: u32, NH: u32, hs: u32,
  scale: f32, causal: u32, thr: u32, hseed: u32,
  dscale: f32, bh0: u32, rows: u32, aoff: u32,
  soff: u32, pad0: u32, pad1: u32, pad2: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> DQ: array<f32>;
@group(0) @binding(2) var<storage, read_write> S: array<f32>;
@group(0) @binding(3) var<storage, read> DO: array<f32>;
@group(0) @binding(4) var<storage, read> Q: array<f32>;
@group(0) @binding(5) var<storage, read> A: array<f32>;

fn keep(bh: u32, t: u32, t2: u32) -> f32 {
  if (p.thr == 0u) { return 1.0; }
  if (hash32(p.hseed + (bh * p.T + t) * p.T + t2) < p.thr) { return 0.0; }
  return p.dscale;
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let T = p.T;
  let bhl = r / T;
  let t = r - bhl * T;
  let bh = p.bh0 + bhl;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let C3 = 3u * p.C;
  let ar = p.aoff + (bhl * T + t) * T;
  let sr = p.soff + (bhl * T + t) * T;
  let dob = (b * T + t) * p.C + h * p.hs;
  let last = select(T, t + 1u, p.causal == 1u);

  var dot = 0.0;
  for (var t2 = 0u; t2 < last; t2++) {
    let vb = (b * T + t2) * C3 + 2u * p.C + h * p.hs;
    var d = 0.0;
    for (var i = 0u; i < p.hs; i++) { d += DO[dob + i] * Q[vb + i]; }
    let datt = d * keep(bh, t, t2);
    S[sr + t2] = datt;
    dot += A[ar + t2] * datt;
  }
  for (var t2 = 0u; t2 < T; t2++) {
    if (t2 < last) { S[sr + t2] = A[ar + t2] * (S[sr + t2] - dot) * p.scale; } else { S[sr + t2] = 0.0; }
  }
  for (var i = 0u; i < p.hs; i++) {
    var dq = 0.0;
    for (var t2 = 0u; t2 < last; t2++) {
      dq += S[sr + t2] * Q[(b * T + t2) * C3 + p.C + h * p.hs + i];
    }
    DQ[(b * T + t) * C3 + h * p.hs + i] = dq;
  }
}

@compute @workgroup_size(64)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let T = p.T;
  let bhl = r / T;
  let t2 = r - bhl * T;
  let bh = p.bh0 + bhl;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let C3 = 3u * p.C;
  let t0 = select(0u, t2, p.causal == 1u);
  for (var i = 0u; i < p.hs; i++) {
    var dk = 0.0;
    var dv = 0.0;
    for (var t = t0; t < T; t++) {
      let ai = (bhl * T + t) * T + t2;
      dk += S[p.soff + ai] * Q[(b * T + t) * C3 + h * p.hs + i];
      let pr = A[p.aoff + ai] * keep(bh, t, t2);
      dv += pr * DO[(b * T + t) * p.C + h * p.hs + i];
    }
    DQ[(b * T + t2) * C3 + p.C + h * p.hs + i] = dk;
    DQ[(b * T + t2) * C3 + 2u * p.C + h * p.hs + i] = dv;
  }
}
