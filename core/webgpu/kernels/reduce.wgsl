// reduce: D[doff] += sum x (SQ = 0) or sum x*x (SQ = 1) over X[xoff, xoff+n).
// Entry "partial": workgroup w reduces the block [w*4096, (w+1)*4096) in a
// fixed tree and writes T[poff + w] (or, when direct = 1 and there is a
// single block, adds into D[doff]). Entry "finish": one workgroup adds
// T[0, cnt) into D[doff]. No atomics; the result is deterministic.
override SQ: u32 = 0u;

struct P { n: u32, xoff: u32, poff: u32, doff: u32, direct: u32, cnt: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> T: array<f32>;

var<workgroup> red: array<f32, 256>;

fn tree(lid: u32) {
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn partial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  let base = w * 4096u;
  if (base >= p.n) { return; }
  var acc = 0.0;
  for (var j = 0u; j < 16u; j++) {
    let i = base + j * 256u + lid;
    if (i < p.n) {
      let v = X[p.xoff + i];
      if (SQ == 1u) { acc += v * v; } else { acc += v; }
    }
  }
  red[lid] = acc;
  tree(lid);
  if (lid == 0u) {
    if (p.direct == 1u) { D[p.doff] = D[p.doff] + red[0]; } else { T[p.poff + w] = red[0]; }
  }
}

@compute @workgroup_size(256)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < p.cnt; i += 256u) { acc += T[i]; }
  red[lid] = acc;
  tree(lid);
  if (lid == 0u) { D[p.doff] = D[p.doff] + red[0]; }
}
