// layernorm_bwd_seq: layernorm_bwd.wgsl with one invocation per row, no
// barriers (the CPU-adapter variant, see layernorm_seq.wgsl). dout may be
// aliased to dx: each invocation reads a channel before it writes it.
struct P { N: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
@group(0) @binding(2) var<storage, read> DO: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;
@group(0) @binding(5) var<storage, read> M: array<f32>;
@group(0) @binding(6) var<storage, read> R: array<f32>;
// alias DO -> DX

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let mu = M[row];
  let rs = R[row];
  var acc = vec2<f32>(0.0, 0.0);
  for (var c = 0u; c < p.C; c++) {
    let norm = (X[base + c] - mu) * rs;
    let g = DO[base + c] * W[c];
    acc += vec2<f32>(g, g * norm);
  }
  let dm = acc.x / f32(p.C);
  let dmn = acc.y / f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    let norm = (X[base + c] - mu) * rs;
    DX[base + c] = (DO[base + c] * W[c] - dm - norm * dmn) * rs;
  }
}
