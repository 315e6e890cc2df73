// layernorm: one workgroup per row. mean and variance by two passes over
// the row (like the CPU reference), each reduced in a fixed tree.
struct P { N: u32, C: u32, eps: f32, pad0: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> R: array<f32>;
@group(0) @binding(4) var<storage, read> X: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;
@group(0) @binding(6) var<storage, read> B: array<f32>;
// alias X -> O

var<workgroup> red: array<f32, 128>;

fn tree(lid: u32) -> f32 {
  workgroupBarrier();
  for (var s = 64u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var s = 0.0;
  for (var c = lid; c < p.C; c += 128u) { s += X[base + c]; }
  red[lid] = s;
  let mu = tree(lid) / f32(p.C);
  var v2 = 0.0;
  for (var c = lid; c < p.C; c += 128u) { let d = X[base + c] - mu; v2 += d * d; }
  red[lid] = v2;
  let rs = 1.0 / sqrt(tree(lid) / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += 128u) {
    O[base + c] = (X[base + c] - mu) * rs * W[c] + B[c];
  }
  if (lid == 0u) { M[row] = mu; R[row] = rs; }
}
