// attention_bwd: two passes, no float atomics.
//   "rows" (one workgroup per (bh, t)): datt = (dout·v)·keep, the softmax
//     backward dpre = p·(datt - Σ p·datt)·scale stored in the scratch S, and
//     dq[t] = Σ_t2 dpre[t,t2]·k[t2] (in t2 order).
//   "cols" (one workgroup per (bh, t2)): dk[t2] = Σ_t dpre[t,t2]·q[t] and
//     dv[t2] = Σ_t p[t,t2]·keep·dout[t], in t order like the CPU reference.
// Both overwrite their slices of dqkv. att rows start at aoff and scratch
// rows at soff in the bound chunks (bh in [bh0, bh0 + rows/T)).
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

var<workgroup> red: array<f32, 64>;

fn keep(bh: u32, t: u32, t2: u32) -> f32 {
  if (p.thr == 0u) { return 1.0; }
  if (hash32(p.hseed + (bh * p.T + t) * p.T + t2) < p.thr) { return 0.0; }
  return p.dscale;
}

@compute @workgroup_size(64)
fn rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
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
  for (var t2 = lid; t2 < last; t2 += 64u) {
    let vb = (b * T + t2) * C3 + 2u * p.C + h * p.hs;
    var d = 0.0;
    for (var i = 0u; i < p.hs; i++) { d += DO[dob + i] * Q[vb + i]; }
    let datt = d * keep(bh, t, t2);
    S[sr + t2] = datt;
    dot += A[ar + t2] * datt;
  }
  red[lid] = dot;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  dot = red[0];
  for (var t2 = lid; t2 < T; t2 += 64u) {
    if (t2 < last) { S[sr + t2] = A[ar + t2] * (S[sr + t2] - dot) * p.scale; } else { S[sr + t2] = 0.0; }
  }
  storageBarrier();

  for (var i = lid; i < p.hs; i += 64u) {
    var dq = 0.0;
    for (var t2 = 0u; t2 < last; t2++) {
      dq += S[sr + t2] * Q[(b * T + t2) * C3 + p.C + h * p.hs + i];
    }
    DQ[(b * T + t) * C3 + h * p.hs + i] = dq;
  }
}

@compute @workgroup_size(64)
fn cols(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let T = p.T;
  let bhl = r / T;
  let t2 = r - bhl * T;
  let bh = p.bh0 + bhl;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let C3 = 3u * p.C;
  let t0 = select(0u, t2, p.causal == 1u);
  for (var i = lid; i < p.hs; i += 64u) {
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
