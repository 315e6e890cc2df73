// bcast: row/column broadcasts over an [N, C] matrix, one pipeline per OP.
//   0 ScaleCols      O[n,c] = X[n,c] * S[c]
//   1 ScaleRows      O[n,c] = X[n,c] * S[n]
//   2 AddBias / BroadcastRows   O[n,c] += S[c]
//   3 BroadcastCols  O[n,c] += S[n]
override OP: u32 = 0u;

struct P { N: u32, C: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
// alias X -> O

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i - n * p.C;
  switch OP {
    case 0u: { O[i] = X[i] * S[c]; }
    case 1u: { O[i] = X[i] * S[n]; }
    case 2u: { O[i] = O[i] + S[c]; }
    default: { O[i] = O[i] + S[n]; }
  }
}
