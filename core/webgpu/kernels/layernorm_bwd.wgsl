// layernorm_bwd: dx for one row per workgroup:
//   dx = (dout*w - mean(dout*w) - norm*mean(dout*w*norm)) * rstd
// Each invocation reads and writes its own channels only, so dout may be
// aliased to dx.
struct P { N: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
@group(0) @binding(2) var<storage, read> DO: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;
@group(0) @binding(5) var<storage, read> M: array<f32>;
@group(0) @binding(6) var<storage, read> R: array<f32>;
// alias DO -> DX

var<workgroup> red: array<vec2<f32>, 128>;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let mu = M[row];
  let rs = R[row];
  var acc = vec2<f32>(0.0, 0.0);
  for (var c = lid; c < p.C; c += 128u) {
    let norm = (X[base + c] - mu) * rs;
    let g = DO[base + c] * W[c];
    acc += vec2<f32>(g, g * norm);
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = 64u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let dm = red[0].x / f32(p.C);
  let dmn = red[0].y / f32(p.C);
  for (var c = lid; c < p.C; c += 128u) {
    let norm = (X[base + c] - mu) * rs;
    DX[base + c] = (DO[base + c] * W[c] - dm - norm * dmn) * rs;
  }
}
