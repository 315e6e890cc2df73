// crossentropy: fused softmax + label-smoothed cross-entropy, one workgroup
// per row of logits. LS[n] receives weight·loss (summed into the stats
// afterwards by reduce.wgsl); with DLOG = 1 the row of D receives
// weight·(p - (1-eps)·onehot - eps/V). Every read of a row happens before
// the barrier that precedes the writes, so D may alias L (in place).
// The dispatch covers rows [row0, row0 + rows), whose logits start at loff
// in the bound chunk.
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

var<workgroup> red: array<vec2<f32>, 256>;
var<workgroup> sw: f32;

fn tree(lid: u32, domax: bool) -> vec2<f32> {
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) {
      if (domax) { red[lid].x = max(red[lid].x, red[lid + s].x); } else { red[lid] += red[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let n = p.row0 + r;
  let lb = p.loff + r * p.V;
  if (lid == 0u) { sw = W[n]; }
  let w = workgroupUniformLoad(&sw);
  if (w == 0.0) {
    if (DLOG == 1u) {
      for (var v = lid; v < p.V; v += 256u) { D[lb + v] = 0.0; }
    }
    if (lid == 0u) { LS[n] = 0.0; }
    return;
  }
  var mx = -3.0e38;
  for (var v = lid; v < p.V; v += 256u) { mx = max(mx, L[lb + v]); }
  red[lid] = vec2<f32>(mx, 0.0);
  mx = tree(lid, true).x;
  var acc = vec2<f32>(0.0, 0.0);
  for (var v = lid; v < p.V; v += 256u) {
    let z = L[lb + v];
    acc += vec2<f32>(exp(z - mx), z);
  }
  red[lid] = acc;
  let sums = tree(lid, false);
  let lse = mx + log(sums.x);
  let t = u32(T[n]);
  if (lid == 0u) {
    let nll = lse - L[lb + t];
    LS[n] = w * (p.ome * nll + p.eps * (lse - sums.y / f32(p.V)));
  }
  storageBarrier(); // the read of L[lb + t] above precedes every write of D
  if (DLOG == 1u) {
    let inv = 1.0 / sums.x;
    for (var v = lid; v < p.V; v += 256u) {
      var d = w * (exp(L[lb + v] - mx) * inv - p.off);
      if (v == t) { d -= w * p.ome; }
      D[lb + v] = d;
    }
  }
}
