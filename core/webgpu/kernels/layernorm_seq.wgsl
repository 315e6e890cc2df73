// layernorm_seq: layernorm.wgsl with one invocation per row and no
// workgroup memory or barriers. On CPU adapters (SwiftShader) a barrier
// costs far more than the arithmetic of a short row, so this variant is
// used there (see WithRowKernels). The sums run in channel order, as on
// the CPU. Same bindings and uniforms as layernorm.wgsl.
struct P { N: u32, C: u32, eps: f32, pad0: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> R: array<f32>;
@group(0) @binding(4) var<storage, read> X: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;
@group(0) @binding(6) var<storage, read> B: array<f32>;
// alias X -> O

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += X[base + c]; }
  let mu = s / f32(p.C);
  var v2 = 0.0;
  for (var c = 0u; c < p.C; c++) { let d = X[base + c] - mu; v2 += d * d; }
  let rs = 1.0 / sqrt(v2 / f32(p.C) + p.eps);
  for (var c = 0u; c < p.C; c++) {
    O[base + c] = (X[base + c] - mu) * rs * W[c] + B[c];
  }
  M[row] = mu;
  R[row] = rs;
}
