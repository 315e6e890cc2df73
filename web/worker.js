// The training worker: one instance of the hut engine (Go compiled to
// WebAssembly, heavy work on WebGPU or on the CPU path inside wasm) per
// worker, so the page never freezes. It speaks a small request/answer
// protocol with the page (engine.js):
//
//   page → worker  {id, op, args}
//   worker → page  {type: "answer", id, ok: true, result} or {type: "answer", id, ok: false, error}
//   worker → page  {type: "hut-progress", what, done, total} and {type: "hut-error", message}
//                  (posted by the engine itself, see docs/wasm-api.md)
//
// ops: "boot" {backend} loads /wasm_exec.js and /main.wasm and calls hut.init;
// "loadTask" {task, trainUrl, devUrl, maxTrain, maxDev} fetches the data files
// from the server (/data/...) and hands their text to hut.loadTask; "heap"
// answers {wasmBytes}, the size of the engine's WebAssembly memory (it only
// grows: its peak); "loadModel" with {files} gets the checkpoint's
// ArrayBuffers transferred from the page (engine.js, loadModelFiles); every
// other op is passed as is to the engine's method of the same name ("stop"
// too: the page sends it without waiting for the running call, and the
// engine answers it at once).
'use strict';

let booted = null; // Promise of hut.init's answer
let wasmMemory = null; // the engine's WebAssembly.Memory

const ENGINE_OPS = new Set([
  'init', 'loadModel', 'setup', 'estimate', 'step', 'evaluate', 'generate', 'classify',
  'inspect', 'merge', 'unmerge', 'exportAdapter', 'importAdapter', 'bench', 'info', 'stop',
]);

function progress(what, done, total) {
  self.postMessage({ type: 'hut-progress', what, done, total });
}

// fetchText fetches a same-origin file, reporting download progress, and
// turns an HTTP error into an Error carrying the server's explanation.
async function fetchText(url, what) {
  const res = await fetch(url);
  if (!res.ok) {
    const body = (await res.text()).trim();
    throw new Error(`${what}: ${url} answered ${res.status}${body ? ': ' + body : ''}`);
  }
  return res.text();
}

async function boot(args) {
  if (typeof WebAssembly !== 'object') {
    throw new Error('this browser has no WebAssembly, which the engine needs');
  }
  progress('engine', 0, 1);
  try {
    importScripts('/wasm_exec.js');
  } catch (e) {
    throw new Error('cannot load /wasm_exec.js (Go\'s WebAssembly glue): ' + e.message);
  }
  const res = await fetch('/main.wasm');
  if (!res.ok) {
    const body = (await res.text()).trim();
    throw new Error(`the engine /main.wasm is not available (${res.status}): ${body}`);
  }
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(res, go.importObject);
  wasmMemory = instance.exports.mem || null;
  const exited = go.run(instance); // not awaited: resolves only when Go main returns
  exited.then(() => self.postMessage({ type: 'hut-error', message: 'the engine stopped (Go main returned)' }));
  await Promise.race([
    waitForHut(),
    exited.then(() => { throw new Error('the engine exited during start-up'); }),
  ]);
  progress('engine', 1, 1);
  return self.hut.init({ backend: (args && args.backend) || 'auto' });
}

// waitForHut resolves once the engine has set self.hut (and resolved
// self.hutReady, when it uses it).
async function waitForHut() {
  const deadline = Date.now() + 60000;
  for (;;) {
    if (self.hut && typeof self.hut.init === 'function') {
      if (self.hutReady && typeof self.hutReady.then === 'function') {
        await Promise.race([self.hutReady, new Promise((r) => setTimeout(r, 5000))]);
      }
      return;
    }
    if (Date.now() > deadline) throw new Error('the engine did not start within 60 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function loadTask(args) {
  const { task, trainUrl, devUrl, maxTrain, maxDev } = args;
  progress('data', 0, 2);
  const train = await fetchText(trainUrl, 'training data');
  progress('data', 1, 2);
  const dev = await fetchText(devUrl, 'validation data');
  progress('data', 2, 2);
  return self.hut.loadTask({ task, train, dev, maxTrain, maxDev });
}

// transferables lists the ArrayBuffers of an answer that can be moved to
// the page instead of copied (the exported adapter's weights).
function transferables(result) {
  const out = [];
  if (result && result.files) {
    for (const v of Object.values(result.files)) {
      if (v && v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength) out.push(v.buffer);
    }
  }
  return out;
}

async function handle(op, args) {
  if (op === 'boot') {
    if (!booted) booted = boot(args);
    return booted;
  }
  if (!booted) throw new Error('the engine is not started');
  await booted;
  if (op === 'loadTask') return loadTask(args);
  if (op === 'heap') return { wasmBytes: wasmMemory ? wasmMemory.buffer.byteLength : null };

  if (!ENGINE_OPS.has(op)) throw new Error('unknown operation ' + op);
  if (typeof self.hut[op] !== 'function') throw new Error(`this engine has no hut.${op}`);
  return self.hut[op](args || {});
}

self.onmessage = async (ev) => {
  const { id, op, args } = ev.data || {};
  try {
    const result = await handle(op, args);
    let tr = [];
    try { tr = transferables(result); } catch (_) { tr = []; }
    self.postMessage({ type: 'answer', id, ok: true, result }, tr);
  } catch (e) {
    const msg = e && e.message ? e.message : String(e);
    self.postMessage({ type: 'answer', id, ok: false, error: msg });
  }
};
