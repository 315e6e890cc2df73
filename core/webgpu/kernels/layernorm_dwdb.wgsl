// layernorm_dwdb: dw[c] += sum_n dout*(x-mean)*rstd, db[c] += sum_n dout,
// with the segmented column sum of colsum.wgsl (T holds 2 floats per
// segment and column). HASW / HASB skip a frozen weight or bias.
override HASW: u32 = 1u;
override HASB: u32 = 1u;

struct P { N: u32, C: u32, rows: u32, nseg: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> DW: array<f32>;
@group(0) @binding(2) var<storage, read_write> DB: array<f32>;
@group(0) @binding(3) var<storage, read> DO: array<f32>;
@group(0) @binding(4) var<storage, read> X: array<f32>;
@group(0) @binding(5) var<storage, read> M: array<f32>;
@group(0) @binding(6) var<storage, read> R: array<f32>;
@group(0) @binding(7) var<storage, read_write> T: array<f32>;

fn add(c: u32, aw: f32, ab: f32) {
  if (HASW == 1u) { DW[c] = DW[c] + aw; }
  if (HASB == 1u) { DB[c] = DB[c] + ab; }
}

@compute @workgroup_size(64)
fn partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let s = gid.y;
  if (c >= p.C) { return; }
  let n0 = s * p.rows;
  let n1 = min(p.N, n0 + p.rows);
  var aw = 0.0;
  var ab = 0.0;
  for (var n = n0; n < n1; n++) {
    let i = n * p.C + c;
    let d = DO[i];
    aw += d * (X[i] - M[n]) * R[n];
    ab += d;
  }
  if (p.nseg == 1u) {
    add(c, aw, ab);
  } else {
    T[2u * (s * p.C + c)] = aw;
    T[2u * (s * p.C + c) + 1u] = ab;
  }
}

@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var aw = 0.0;
  var ab = 0.0;
  for (var s = 0u; s < p.nseg; s++) {
    aw += T[2u * (s * p.C + c)];
    ab += T[2u * (s * p.C + c) + 1u];
  }
  add(c, aw, ab);
}
