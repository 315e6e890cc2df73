// ew: the element-wise family, one pipeline per OP (an override constant).
//   0 add         O = A + B
//   1 add-in-place O = O + A
//   2 mul         O = A * B
//   3 scale       O = alpha * A
//   4 axpy        O = O + alpha * A
//   5 gelu (tanh) 6 gelu (erf)        O = gelu(A)
//   7 gelu' (tanh) 8 gelu' (erf)      O = A * gelu'(B)
//   9 tanh        O = tanh(A)
//  10 tanh'       O = A * (1 - B*B)
//  11 dropout     O = keep(base + i) ? A * alpha : 0
// Every invocation reads and writes index i only, so in-place calls (A or B
// aliased to O) are safe.
override OP: u32 = 0u;

struct P {
  n: u32, ooff: u32, aoff: u32, boff: u32,
  alpha: f32, hseed: u32, thr: u32, base: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
// alias A -> O
// alias B -> O

const K0: f32 = 0.7978845608028654;     // sqrt(2/pi)
const K1: f32 = 0.044715;
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT2PI: f32 = 0.3989422804014327;

// erf_s: |error| < 2e-7 for all x. Below 0.5 the Maclaurin series of erf;
// above, erfc(z) = t·exp(-z² + P(t)), t = 1/(1 + z/2), with the Chebyshev
// fitted coefficients of Press et al., Numerical Recipes §6.2 (fractional
// error < 1.2e-7 on erfc).
fn erf_s(x: f32) -> f32 {
  let z = abs(x);
  var r: f32;
  if (z < 0.5) {
    let z2 = z * z;
    r = z * (1.1283791670955126 + z2 * (-0.37612638903183754 + z2 * (0.11283791670955126
        + z2 * (-0.026866170645131252 + z2 * (0.005223977625442188 + z2 * (-0.0008548327023450853
        + z2 * 0.00012055332981789664))))));
  } else {
    let t = 1.0 / (1.0 + 0.5 * z);
    let q = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    r = 1.0 - t * exp(q);
  }
  return select(r, -r, x < 0.0);
}

fn gelu_t(x: f32) -> f32 {
  return 0.5 * x * (1.0 + tanh_s(K0 * (x + K1 * x * x * x)));
}

fn gelu_t_grad(x: f32) -> f32 {
  let t = tanh_s(K0 * (x + K1 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * K0 * (1.0 + 3.0 * K1 * x * x);
}

fn gelu_e(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_s(x * INV_SQRT2));
}

fn gelu_e_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_s(x * INV_SQRT2)) + x * exp(-0.5 * x * x) * INV_SQRT2PI;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let oi = p.ooff + i;
  let a = A[p.aoff + i];
  var r: f32;
  switch OP {
    case 0u: { r = a + B[p.boff + i]; }
    case 1u: { r = O[oi] + a; }
    case 2u: { r = a * B[p.boff + i]; }
    case 3u: { r = p.alpha * a; }
    case 4u: { r = O[oi] + p.alpha * a; }
    case 5u: { r = gelu_t(a); }
    case 6u: { r = gelu_e(a); }
    case 7u: { r = a * gelu_t_grad(B[p.boff + i]); }
    case 8u: { r = a * gelu_e_grad(B[p.boff + i]); }
    case 9u: { r = tanh_s(a); }
    case 10u: { let y = B[p.boff + i]; r = a * (1.0 - y * y); }
    default: {
      if (hash32(p.hseed + p.base + i) >= p.thr) { r = a * p.alpha; } else { r = 0.0; }
    }
  }
  O[oi] = r;
}
