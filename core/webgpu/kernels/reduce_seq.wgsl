// reduce_seq: reduce.wgsl with one barrier per block instead of a tree
// (the CPU-adapter variant). Entry "partial": workgroup w handles the block
// [w*4096, (w+1)*4096): each of its 64 invocations sums 64 consecutive
// elements in order, then invocation 0 adds the 64 partial sums in order.
// Entry "finish": one invocation adds T[0, cnt) in order. Same bindings,
// uniforms and block layout as reduce.wgsl.
override SQ: u32 = 0u;

struct P { n: u32, xoff: u32, poff: u32, doff: u32, direct: u32, cnt: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> T: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn partial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  let base = w * 4096u;
  if (base >= p.n) { return; }
  var acc = 0.0;
  let lo = base + lid * 64u;
  let hi = min(lo + 64u, p.n);
  for (var i = lo; i < hi; i++) {
    let v = X[p.xoff + i];
    if (SQ == 1u) { acc += v * v; } else { acc += v; }
  }
  red[lid] = acc;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var j = 0u; j < 64u; j++) { s += red[j]; }
    if (p.direct == 1u) { D[p.doff] = D[p.doff] + s; } else { T[p.poff + w] = s; }
  }
}

@compute @workgroup_size(64)
fn finish(@builtin(local_invocation_index) lid: u32) {
  if (lid != 0u) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.cnt; i++) { s += T[i]; }
  D[p.doff] = D[p.doff] + s;
}
