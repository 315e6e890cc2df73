// Test page side: starts rpc-worker.js (the engine in a Web Worker, loaded
// the way the web app loads it) and relays calls. Events the engine posts
// (hut-progress, hut-error) are collected in window.hutEvents.
'use strict';
window.hutEvents = [];
let worker = null, nextId = 0;
const pending = new Map();
window.startWorker = (query) => new Promise((resolve, reject) => {
  if (worker) worker.terminate();
  window.hutEvents = [];
  worker = new Worker('rpc-worker.js' + (query || ''));
  worker.onerror = (e) => reject(new Error('worker error: ' + e.message));
  worker.onmessage = (ev) => {
    const m = ev.data;
    if (m.type === 'ready') {
      if (m.error) reject(new Error(m.error)); else resolve(m);
    } else if (m.type === 'result') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (p) p(m);
    } else {
      window.hutEvents.push(m);
    }
  };
});
// rpc resolves to {result} or {error}; it never rejects.
window.rpc = (method, args) => new Promise((resolve) => {
  const id = ++nextId;
  pending.set(id, resolve);
  worker.postMessage({ id, method, args });
});
// Shorthand for tests: the result, or throw the error message.
window.call = async (method, args) => {
  const r = await window.rpc(method, args);
  if ('error' in r) throw new Error(r.error);
  return r.result;
};
