// adamw: one AdamW update per element (torch.optim.AdamW), with the
// gradient scaled by the clip coefficient S[soff] read on the device.
// The bias corrections are folded on the host: stepSize = lr/bc1,
// sbc2 = sqrt(bc2), decay = 1 - lr*wd.
struct P {
  n: u32, poff: u32, goff: u32, moff: u32,
  voff: u32, soff: u32, b1: f32, b2: f32,
  stepSize: f32, sbc2: f32, eps: f32, decay: f32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> PW: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
@group(0) @binding(5) var<storage, read> S: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let gi = G[p.goff + i] * S[p.soff];
  let mi = p.b1 * M[p.moff + i] + (1.0 - p.b1) * gi;
  let vi = p.b2 * V[p.voff + i] + (1.0 - p.b2) * gi * gi;
  M[p.moff + i] = mi;
  V[p.voff + i] = vi;
  let pi = p.poff + i;
  PW[pi] = PW[pi] * p.decay - p.stepSize * mi / (sqrt(vi) / p.sbc2 + p.eps);
}
