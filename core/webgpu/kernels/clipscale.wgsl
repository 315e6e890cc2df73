// clipscale: S[dst] = min(1, maxNorm/(sqrt(S[src]) + 1e-6)), 1 when
// maxNorm <= 0 or the coefficient is NaN (torch's clip_grad_norm_).
struct P { dst: u32, src: u32, maxNorm: f32, pad0: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;

@compute @workgroup_size(1)
fn main() {
  if (p.maxNorm <= 0.0) { S[p.dst] = 1.0; return; }
  let norm = sqrt(S[p.src]);
  var c = p.maxNorm / (norm + 1e-6);
  if (c > 1.0 || is_nan(c)) { c = 1.0; }
  S[p.dst] = c;
}
