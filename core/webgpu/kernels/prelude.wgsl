// Shared helpers, prepended to every kernel module.

// hash32 is tensor.Hash32: PCG's RXS-M-XS output function applied to one
// LCG step, in wrapping u32 arithmetic, bit-exact with the Go version.
fn hash32(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// tanh_s is tanh through exp(-2|x|): it never overflows and is accurate to
// about 1e-7 absolute for every x (builtin tanh may overflow for large |x|
// on some implementations).
fn tanh_s(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, x < 0.0);
}

// is_nan tests the bits, since WGSL lets compilers assume finite math.
fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
