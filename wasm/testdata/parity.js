'use strict';
window.hutLoad = (async () => {
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch('parity.wasm'), go.importObject);
  go.run(instance);
  while (!window.__hutReady) await new Promise((r) => setTimeout(r, 5));
  return true;
})();
