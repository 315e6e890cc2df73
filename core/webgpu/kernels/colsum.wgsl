// colsum: D[c] += sum_n X[n,c] (MUL = 0) or sum_n X[n,c]*Y[n,c] (MUL = 1).
// Deterministic two-level sum without atomics: entry "partial" gives each
// invocation one column and one segment of `rows` rows, summed in order;
// with one segment it adds straight into D, otherwise it writes T[s*C + c]
// and entry "finish" adds the segments in order.
override MUL: u32 = 0u;

struct P { N: u32, C: u32, rows: u32, nseg: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> Y: array<f32>;
@group(0) @binding(4) var<storage, read_write> T: array<f32>;

@compute @workgroup_size(64)
fn partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let s = gid.y;
  if (c >= p.C) { return; }
  let n0 = s * p.rows;
  let n1 = min(p.N, n0 + p.rows);
  var acc = 0.0;
  for (var n = n0; n < n1; n++) {
    let i = n * p.C + c;
    if (MUL == 1u) { acc += X[i] * Y[i]; } else { acc += X[i]; }
  }
  if (p.nseg == 1u) { D[c] = D[c] + acc; } else { T[s * p.C + c] = acc; }
}

@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var acc = 0.0;
  for (var s = 0u; s < p.nseg; s++) { acc += T[s * p.C + c]; }
  D[c] = D[c] + acc;
}
