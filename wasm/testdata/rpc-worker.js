// The engine in a Web Worker, as the web app runs it. ?nogpu=1 hides
// navigator.gpu (a browser without WebGPU); ?direct=1 passes events
// through self.hutOnEvent instead of postMessage; ?plain=1 lets Go main
// create self.hutReady.
'use strict';
const params = new URLSearchParams(self.location.search);
if (params.get('nogpu') === '1') {
  Object.defineProperty(self.navigator, 'gpu', { value: undefined, configurable: true });
}
importScripts('wasm_exec.js');
if (params.get('direct') === '1') {
  self.hutOnEvent = (m) => self.postMessage(Object.assign({ direct: true }, m));
}
if (params.get('plain') !== '1') {
  // The loader's own promise, resolved by Go main through hutReadyResolve
  // (with ?plain=1 Go main creates self.hutReady itself).
  let resolve;
  self.hutReady = new Promise((r) => { resolve = r; });
  self.hutReadyResolve = resolve;
}
const ready = (async () => {
  const go = new Go();
  const t0 = performance.now();
  const { instance } = await WebAssembly.instantiateStreaming(fetch('main.wasm'), go.importObject);
  go.run(instance);
  await self.hutReady;
  return { loadMs: performance.now() - t0, version: self.hut.version };
})();
ready.then((r) => self.postMessage(Object.assign({ type: 'ready' }, r)),
  (e) => self.postMessage({ type: 'ready', error: String(e) }));
self.onmessage = async (ev) => {
  const { id, method, args } = ev.data;
  try {
    await ready;
    if (typeof self.hut[method] !== 'function') throw new Error('no method hut.' + method);
    const result = await self.hut[method](args);
    self.postMessage({ type: 'result', id, result });
  } catch (e) {
    self.postMessage({ type: 'result', id, error: e && e.message !== undefined ? e.message : String(e) });
  }
};
