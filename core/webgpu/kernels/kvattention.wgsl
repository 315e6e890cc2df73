// kvattention: cached inference attention.
//   "store": the k and v of the Tn new tokens go to kc, vc [B,NH,Tmax,hs]
//     at positions pos..pos+Tn-1.
//   "attend" (one workgroup per (bh, i)): query i attends to cache
//     positions 0..pos+i, skipping keys with mask 0; scores go through the
//     scratch S (rows of L = pos+Tn floats).
struct P {
  Tn: u32, C: u32, NH: u32, hs: u32,
  pos: u32, Tmax: u32, L: u32, scale: f32,
  hasMask: u32, rows: u32, n: u32, pad0: u32,
};
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> KC: array<f32>;
@group(0) @binding(3) var<storage, read_write> VC: array<f32>;
@group(0) @binding(4) var<storage, read> Q: array<f32>;
@group(0) @binding(5) var<storage, read> K: array<i32>;
@group(0) @binding(6) var<storage, read_write> S: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(256)
fn store(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let bi = i / p.C;
  let c = i - bi * p.C;
  let b = bi / p.Tn;
  let ii = bi - b * p.Tn;
  let h = c / p.hs;
  let j = c - h * p.hs;
  let dst = ((b * p.NH + h) * p.Tmax + p.pos + ii) * p.hs + j;
  KC[dst] = Q[bi * 3u * p.C + p.C + c];
  VC[dst] = Q[bi * 3u * p.C + 2u * p.C + c];
}

fn tree(lid: u32, v: f32, domax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) {
      if (domax) { red[lid] = max(red[lid], red[lid + s]); } else { red[lid] += red[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn attend(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let bh = r / p.Tn;
  let i = r - bh * p.Tn;
  let b = bh / p.NH;
  let h = bh - b * p.NH;
  let last = p.pos + i + 1u;
  let sr = r * p.L;
  let qb = (b * p.Tn + i) * 3u * p.C + h * p.hs;

  var mx = -3.0e38;
  for (var t2 = lid; t2 < last; t2 += 64u) {
    if (p.hasMask == 1u && K[b * p.Tmax + t2] == 0) { continue; }
    let kb = (bh * p.Tmax + t2) * p.hs;
    var d = 0.0;
    for (var j = 0u; j < p.hs; j++) { d += Q[qb + j] * KC[kb + j]; }
    d *= p.scale;
    S[sr + t2] = d;
    mx = max(mx, d);
  }
  mx = tree(lid, mx, true);
  var s = 0.0;
  for (var t2 = lid; t2 < last; t2 += 64u) {
    if (p.hasMask == 1u && K[b * p.Tmax + t2] == 0) { S[sr + t2] = 0.0; continue; }
    let e = exp(S[sr + t2] - mx);
    S[sr + t2] = e;
    s += e;
  }
  let sum = tree(lid, s, false);
  storageBarrier();
  for (var j = lid; j < p.hs; j += 64u) {
    var o = 0.0;
    if (sum != 0.0) {
      let inv = 1.0 / sum;
      for (var t2 = 0u; t2 < last; t2++) {
        o += S[sr + t2] * inv * VC[(bh * p.Tmax + t2) * p.hs + j];
      }
    }
    O[(b * p.Tn + i) * p.C + h * p.hs + j] = o;
  }
}
