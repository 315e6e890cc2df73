// hut browser benchmark (bench.html). The same file runs twice: in the
// page, it starts a Web Worker from itself and shows the results; in the
// worker, it loads the engine (main.wasm) and calls hut.bench. Headless
// drivers call window.hutBench(options), which resolves to the JSON that
// hut.bench returns (see docs/wasm-api.md and docs/webgpu.md).
'use strict';

if (typeof window === 'undefined') {
  // ---- worker ----
  importScripts('wasm_exec.js');
  const ready = (async () => {
    const go = new Go();
    const { instance } = await WebAssembly.instantiateStreaming(fetch('main.wasm'), go.importObject);
    go.run(instance);
    await self.hutReady;
  })();
  self.onmessage = async (ev) => {
    try {
      await ready;
      const result = await self.hut.bench(ev.data.options || {});
      self.postMessage({ type: 'bench-result', result });
    } catch (e) {
      self.postMessage({ type: 'bench-result', error: e && e.message !== undefined ? e.message : String(e) });
    }
  };
} else {
  // ---- page ----
  const num = (v) => (v === undefined || v === null ? '' : Number(v).toPrecision(4));

  // hutBench runs hut.bench(options) in a fresh worker; onProgress gets the
  // engine's hut-progress events.
  window.hutBench = (options, onProgress) => new Promise((resolve, reject) => {
    const w = new Worker('bench.js');
    w.onerror = (e) => { w.terminate(); reject(new Error('bench worker: ' + e.message)); };
    w.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'bench-result') {
        w.terminate();
        if (m.error) reject(new Error(m.error)); else resolve(m.result);
      } else if (onProgress) {
        onProgress(m);
      }
    };
    w.postMessage({ options: options || {} });
  });

  const optionsFromURL = () => {
    const q = new URLSearchParams(location.search);
    const o = {};
    const int = (k) => (q.has(k) ? parseInt(q.get(k), 10) : undefined);
    if (q.has('steps')) o.steps = int('steps');
    if (q.has('reps')) o.reps = int('reps');
    if (q.has('sizes')) o.sizes = q.get('sizes').split(',').map((s) => parseInt(s, 10));
    if (q.has('backends')) o.backends = q.get('backends').split(',');
    const cfg = {};
    for (const k of ['nLayer', 'nEmbd', 'nHead', 'vocab', 'batch', 'seq', 'r']) if (q.has(k)) cfg[k] = int(k);
    if (Object.keys(cfg).length) o.config = cfg;
    return { options: o, auto: q.get('auto') === '1' };
  };

  const show = (r) => {
    const rows = [];
    for (const b of ['webgpu', 'cpu']) {
      if (r[b]) rows.push(`<tr><td>${b} training step</td><td>${num(r[b].tokensPerSec)} tokens/s</td><td>${num(r[b].msPerStep)} ms/step</td><td>${num(r[b].gflops)} GFLOP/s</td></tr>`);
      else rows.push(`<tr><td>${b} training step</td><td colspan="3">not run</td></tr>`);
    }
    for (const g of r.gemm || []) {
      rows.push(`<tr><td>GEMM ${g.n}³ (${g.kernel})</td><td>${num(g.gflops)} GFLOP/s</td><td>${num(g.ms)} ms</td><td>CPU: ${num(g.cpuGflops)} GFLOP/s</td></tr>`);
    }
    document.getElementById('table').innerHTML = '<table>' + rows.join('') + '</table>';
    document.getElementById('out').textContent = JSON.stringify(r, null, 2);
  };

  const start = async () => {
    const { options } = optionsFromURL();
    const status = document.getElementById('status');
    const button = document.getElementById('run');
    button.disabled = true;
    status.textContent = 'running…';
    try {
      const r = await window.hutBench(options, (m) => {
        if (m.type === 'hut-progress') status.textContent = `${m.what} ${m.done}/${m.total}`;
      });
      window.hutBenchResult = r;
      show(r);
      status.textContent = 'done';
    } catch (e) {
      status.textContent = 'failed: ' + e.message;
    } finally {
      button.disabled = false;
    }
  };

  window.addEventListener('DOMContentLoaded', () => {
    document.getElementById('run').addEventListener('click', start);
    if (optionsFromURL().auto) start();
  });
}
