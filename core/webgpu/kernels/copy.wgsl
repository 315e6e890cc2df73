// copy: D[doff + i] = S[soff + i] for i < n. With S aliased to D the ranges
// must not overlap (the Go side copies through a temporary when they do).
struct P { n: u32, doff: u32, soff: u32, pad: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
// alias S -> D

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  D[p.doff + i] = S[p.soff + i];
}
