// scatter: D[(I[i] - r0)*C + c] += G[i*C + c] for i < n in order, for the
// rows I[i] in [r0, r1) held by the bound chunk of D. Deterministic without
// float atomics: invocation (c, g) owns the destination rows t with
// t % groups == g of channel c and walks the source rows in order, so every
// destination element is summed by one invocation in the CPU's order.
struct P { n: u32, C: u32, r0: u32, r1: u32, groups: u32, pad0: u32, pad1: u32, pad2: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let g = gid.y;
  if (c >= p.C || g >= p.groups) { return; }
  for (var i = 0u; i < p.n; i++) {
    let t = u32(I[i]);
    if (t < p.r0 || t >= p.r1 || (t % p.groups) != g) { continue; }
    let d = (t - p.r0) * p.C + c;
    D[d] = D[d] + G[i * p.C + c];
  }
}
