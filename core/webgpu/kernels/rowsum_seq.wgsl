// rowsum_seq: D[n] += sum_c X[n,c] with one invocation per row, in channel
// order (the CPU-adapter variant of rowsum.wgsl).
struct P { N: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= p.N) { return; }
  var acc = 0.0;
  for (var c = 0u; c < p.C; c++) { acc += X[row * p.C + c]; }
  D[row] = D[row] + acc;
}
