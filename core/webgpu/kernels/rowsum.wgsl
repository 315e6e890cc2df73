// rowsum: D[n] += sum_c X[n,c], one workgroup per row, tree reduction.
struct P { N: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;

var<workgroup> red: array<f32, 128>;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }
  var acc = 0.0;
  for (var c = lid; c < p.C; c += 128u) { acc += X[row * p.C + c]; }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = 64u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { D[row] = D[row] + red[0]; }
}
