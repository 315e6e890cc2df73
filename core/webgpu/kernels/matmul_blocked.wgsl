// matmul_blocked: C = alpha·op(A)·op(B) + beta·C, every invocation owns a
// 4×4 block of C held in registers, no workgroup memory (the fastest form
// on SwiftShader and other CPU adapters). Variants (the Go side picks):
//   TA, TB  A stored [K,M] / B stored [N,K] (transposed operands)
//   VA, VB  the operand is bound as vec4 and loaded 4 floats at a time
//           along its contiguous dimension; needs its leading dimension
//           and offset to be multiples of 4.
// The k loop runs in steps of 4 (one 4×4 block of A and of B per step) and
// the last K%4 values go through bounds-checked scalar loads. Rows past M
// and columns past N are clamped on load and never stored.
struct P {
  M: u32, N: u32, K: u32, lda: u32,
  ldb: u32, ldc: u32, aoff: u32, boff: u32,
  coff: u32, alpha: f32, beta: f32, hasBeta: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
//#if VA
@group(0) @binding(2) var<storage, read> A: array<vec4<f32>>;
fn a1(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
//#else
@group(0) @binding(2) var<storage, read> A: array<f32>;
fn a1(i: u32) -> f32 { return A[i]; }
//#endif
//#if VB
@group(0) @binding(3) var<storage, read> B: array<vec4<f32>>;
fn b1(i: u32) -> f32 { return B[i >> 2u][i & 3u]; }
//#else
@group(0) @binding(3) var<storage, read> B: array<f32>;
fn b1(i: u32) -> f32 { return B[i]; }
//#endif

// aval(r, k) is op(A)[r, k], bval(k, c) is op(B)[k, c]; both return 0
// past K (used by the tail block only).
fn aval(r: u32, k: u32) -> f32 {
  if (k >= p.K) { return 0.0; }
//#if TA
  return a1(p.aoff + k * p.lda + r);
//#else
  return a1(p.aoff + r * p.lda + k);
//#endif
}

fn bval(k: u32, c: u32) -> f32 {
  if (k >= p.K) { return 0.0; }
//#if TB
  return b1(p.boff + c * p.ldb + k);
//#else
  return b1(p.boff + k * p.ldb + c);
//#endif
}

// ldA returns the block whose column i is op(A)[r0+i, k..k+3].
fn ldA(r0: u32, k: u32) -> mat4x4<f32> {
  let m1 = p.M - 1u;
  let r1 = min(r0 + 1u, m1);
  let r2 = min(r0 + 2u, m1);
  let r3 = min(r0 + 3u, m1);
//#if TA
//#if VA
  // Columns of the stored [K,M] matrix are contiguous along m.
  let s = p.aoff + k * p.lda + r0;
  let v0 = A[s >> 2u];
  let v1 = A[(s + p.lda) >> 2u];
  let v2 = A[(s + 2u * p.lda) >> 2u];
  let v3 = A[(s + 3u * p.lda) >> 2u];
  return transpose(mat4x4<f32>(v0, v1, v2, v3));
//#else
  return mat4x4<f32>(
    vec4<f32>(aval(r0, k), aval(r0, k + 1u), aval(r0, k + 2u), aval(r0, k + 3u)),
    vec4<f32>(aval(r1, k), aval(r1, k + 1u), aval(r1, k + 2u), aval(r1, k + 3u)),
    vec4<f32>(aval(r2, k), aval(r2, k + 1u), aval(r2, k + 2u), aval(r2, k + 3u)),
    vec4<f32>(aval(r3, k), aval(r3, k + 1u), aval(r3, k + 2u), aval(r3, k + 3u)));
//#endif
//#else
//#if VA
  return mat4x4<f32>(
    A[(p.aoff + r0 * p.lda + k) >> 2u], A[(p.aoff + r1 * p.lda + k) >> 2u],
    A[(p.aoff + r2 * p.lda + k) >> 2u], A[(p.aoff + r3 * p.lda + k) >> 2u]);
//#else
  let s0 = p.aoff + r0 * p.lda + k;
  let s1 = p.aoff + r1 * p.lda + k;
  let s2 = p.aoff + r2 * p.lda + k;
  let s3 = p.aoff + r3 * p.lda + k;
  return mat4x4<f32>(
    vec4<f32>(A[s0], A[s0 + 1u], A[s0 + 2u], A[s0 + 3u]),
    vec4<f32>(A[s1], A[s1 + 1u], A[s1 + 2u], A[s1 + 3u]),
    vec4<f32>(A[s2], A[s2 + 1u], A[s2 + 2u], A[s2 + 3u]),
    vec4<f32>(A[s3], A[s3 + 1u], A[s3 + 2u], A[s3 + 3u]));
//#endif
//#endif
}

// ldB returns the block whose column kk is op(B)[k+kk, c0..c0+3].
fn ldB(k: u32, c0: u32) -> mat4x4<f32> {
  let n1 = p.N - 1u;
  let c1 = min(c0 + 1u, n1);
  let c2 = min(c0 + 2u, n1);
  let c3 = min(c0 + 3u, n1);
//#if TB
//#if VB
  // Rows of the stored [N,K] matrix are contiguous along k.
  let w0 = B[(p.boff + c0 * p.ldb + k) >> 2u];
  let w1 = B[(p.boff + c1 * p.ldb + k) >> 2u];
  let w2 = B[(p.boff + c2 * p.ldb + k) >> 2u];
  let w3 = B[(p.boff + c3 * p.ldb + k) >> 2u];
  return transpose(mat4x4<f32>(w0, w1, w2, w3));
//#else
  let s0 = p.boff + c0 * p.ldb + k;
  let s1 = p.boff + c1 * p.ldb + k;
  let s2 = p.boff + c2 * p.ldb + k;
  let s3 = p.boff + c3 * p.ldb + k;
  return transpose(mat4x4<f32>(
    vec4<f32>(B[s0], B[s0 + 1u], B[s0 + 2u], B[s0 + 3u]),
    vec4<f32>(B[s1], B[s1 + 1u], B[s1 + 2u], B[s1 + 3u]),
    vec4<f32>(B[s2], B[s2 + 1u], B[s2 + 2u], B[s2 + 3u]),
    vec4<f32>(B[s3], B[s3 + 1u], B[s3 + 2u], B[s3 + 3u])));
//#endif
//#else
//#if VB
  let s = p.boff + k * p.ldb + c0;
  return mat4x4<f32>(B[s >> 2u], B[(s + p.ldb) >> 2u], B[(s + 2u * p.ldb) >> 2u], B[(s + 3u * p.ldb) >> 2u]);
//#else
  return mat4x4<f32>(
    vec4<f32>(bval(k, c0), bval(k, c1), bval(k, c2), bval(k, c3)),
    vec4<f32>(bval(k + 1u, c0), bval(k + 1u, c1), bval(k + 1u, c2), bval(k + 1u, c3)),
    vec4<f32>(bval(k + 2u, c0), bval(k + 2u, c1), bval(k + 2u, c2), bval(k + 2u, c3)),
    vec4<f32>(bval(k + 3u, c0), bval(k + 3u, c1), bval(k + 3u, c2), bval(k + 3u, c3)));
//#endif
//#endif
}

// The bounds-checked blocks for the last K%4 values.
fn ldAt(r0: u32, k: u32) -> mat4x4<f32> {
  let m1 = p.M - 1u;
  var m: mat4x4<f32>;
  for (var i = 0u; i < 4u; i++) {
    let r = min(r0 + i, m1);
    m[i] = vec4<f32>(aval(r, k), aval(r, k + 1u), aval(r, k + 2u), aval(r, k + 3u));
  }
  return m;
}

fn ldBt(k: u32, c0: u32) -> mat4x4<f32> {
  let n1 = p.N - 1u;
  let c1 = min(c0 + 1u, n1);
  let c2 = min(c0 + 2u, n1);
  let c3 = min(c0 + 3u, n1);
  var m: mat4x4<f32>;
  for (var kk = 0u; kk < 4u; kk++) {
    m[kk] = vec4<f32>(bval(k + kk, c0), bval(k + kk, c1), bval(k + kk, c2), bval(k + kk, c3));
  }
  return m;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  if (c0 >= p.N || r0 >= p.M) { return; }
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let k4 = p.K & ~3u;
  for (var k = 0u; k < k4; k += 4u) {
    let a = ldA(r0, k);
    let b = ldB(k, c0);
    acc0 += b * a[0];
    acc1 += b * a[1];
    acc2 += b * a[2];
    acc3 += b * a[3];
  }
  if (k4 < p.K) {
    let a = ldAt(r0, k4);
    let b = ldBt(k4, c0);
    acc0 += b * a[0];
    acc1 += b * a[1];
    acc2 += b * a[2];
    acc3 += b * a[3];
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c >= p.N) { break; }
      let idx = p.coff + r * p.ldc + c;
      var v = p.alpha * acc[i][j];
      if (p.hasBeta == 1u) { v += p.beta * C[idx]; }
      C[idx] = v;
    }
  }
}
