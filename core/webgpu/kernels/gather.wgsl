// gather: O[ooff + i*C + c] (=|+=) W[(I[i] - r0)*C + c] for the rows i < n
// whose index I[i] lies in [r0, r1), the rows held by the bound chunk of W.
// ADD = 0 overwrites, ADD = 1 accumulates. Other rows are left untouched.
override ADD: u32 = 0u;

struct P { n: u32, C: u32, r0: u32, r1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n * p.C) { return; }
  let row = i / p.C;
  let c = i - row * p.C;
  let t = u32(I[row]);
  if (t < p.r0 || t >= p.r1) { return; }
  let v = W[(t - p.r0) * p.C + c];
  if (ADD == 1u) { O[i] = O[i] + v; } else { O[i] = v; }
}
