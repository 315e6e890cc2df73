// crossentropy_seq: crossentropy.wgsl with one invocation per row and no
// barriers (the CPU-adapter variant). The invocation reads every logit of
// its row, and the target's, before it writes the row of D, so D may alias
// L. Same bindings and uniforms as crossentropy.wgsl.
override DLOG: u32 = 1u;

struct P {
  V: u32, rows: u32, row0: u32, loff: u32,
  eps: f32, ome: f32, off: f32, pad0: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> L: array<f32>;
@group(0) @binding(3) var<storage, read> T: array<i32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;
@group(0) @binding(5) var<storage, read_write> LS: array<f32>;
// alias L -> D

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let n = p.row0 + r;
  let lb = p.loff + r * p.V;
  let w = W[n];
  if (w == 0.0) {
    if (DLOG == 1u) {
      for (var v = 0u; v < p.V; v++) { D[lb + v] = 0.0; }
    }
    LS[n] = 0.0;
    return;
  }
  var mx = -3.0e38;
  for (var v = 0u; v < p.V; v++) { mx = max(mx, L[lb + v]); }
  var se = 0.0;
  var sz = 0.0;
  for (var v = 0u; v < p.V; v++) {
    let z = L[lb + v];
    se += exp(z - mx);
    sz += z;
  }
  let lse = mx + log(se);
  let t = u32(T[n]);
  let nll = lse - L[lb + t];
  LS[n] = w * (p.ome * nll + p.eps * (lse - sz / f32(p.V)));
  if (DLOG == 1u) {
    let inv = 1.0 / se;
    for (var v = 0u; v < p.V; v++) {
      var d = w * (exp(L[lb + v] - mx) * inv - p.off);
      if (v == t) { d -= w * p.ome; }
      D[lb + v] = d;
    }
  }
}
