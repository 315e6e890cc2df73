// kvattention_seq: the "attend" entry of kvattention.wgsl with one
// invocation per (bh, i) row and no barriers (the CPU-adapter variant).
// Same bindings and uniforms; "store" stays in kvattention.wgsl.
struct P {
  Tn: u32, C: u32, NH: u32, hs: u32,
  pos: u32, Tmax: u32, L: u32, scale: f32,
  hasMask: u32, rows: u32, n: u32, pad0: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> KC: array<f32>;
@group(0) @binding(3) var<storage, read_write> VC: array<f32>;
@group(0) @binding(4) var<storage, read> Q: array<f32>;
@group(0) @binding(5) var<storage, read> K: array<i32>;
@group(0) @binding(6) var<storage, read_write> S: array<f32>;

@compute @workgroup_size(64)
fn attend(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let bh = r / p.Tn;
  let i = r - bh * p.Tn;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let last = p.pos + i + 1u;
  let sr = r * p.L;
  let qb = (b * p.Tn + i) * 3u * p.C + h * p.hs;

  var mx = -3.0e38;
  for (var t2 = 0u; t2 < last; t2++) {
    if (p.hasMask == 1u && K[b * p.Tmax + t2] == 0) { continue; }
    let kb = (bh * p.Tmax + t2) * p.hs;
    var d = 0.0;
    for (var j = 0u; j < p.hs; j++) { d += Q[qb + j] * KC[kb + j]; }
    d *= p.scale;
    S[sr + t2] = d;
    mx = max(mx, d);
  }
  var s = 0.0;
  for (var t2 = 0u; t2 < last; t2++) {
    if (p.hasMask == 1u && K[b * p.Tmax + t2] == 0) { S[sr + t2] = 0.0; continue; }
    let e = exp(S[sr + t2] - mx);
    S[sr + t2] = e;
    s += e;
  }
  for (var j = 0u; j < p.hs; j++) {
    var o = 0.0;
    if (s != 0.0) {
      let inv = 1.0 / s;
      for (var t2 = 0u; t2 < last; t2++) {
        o += S[sr + t2] * inv * VC[(bh * p.Tmax + t2) * p.hs + j];
      }
    }
    O[(b * p.Tn + i) * p.C + h * p.hs + j] = o;
  }
}
