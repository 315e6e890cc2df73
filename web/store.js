// Adapter persistence: IndexedDB in this browser, and the two PEFT files
// (adapter_config.json + adapter_model.safetensors) as downloads and uploads.

const DB = 'hut-demo';
const STORE = 'adapters';

export const CONFIG_FILE = 'adapter_config.json';
export const WEIGHTS_FILE = 'adapter_model.safetensors';

function openDB() {
  return new Promise((resolve, reject) => {
    if (!('indexedDB' in self)) {
      reject(new Error('this browser has no IndexedDB (private mode?)'));
      return;
    }
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error || new Error('IndexedDB cannot be opened'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page'));
  });
}

function tx(mode, fn) {
  return openDB().then((db) => new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const store = t.objectStore(STORE);
    let result;
    Promise.resolve(fn(store)).then((r) => { result = r; }, reject);
    t.oncomplete = () => { db.close(); resolve(result); };
    t.onerror = () => { db.close(); reject(t.error || new Error('IndexedDB transaction failed')); };
    t.onabort = () => { db.close(); reject(t.error || new Error('IndexedDB transaction aborted (storage full?)')); };
  }));
}

function reqP(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

// normalizeFiles turns an exportAdapter answer's files into {config:
// string, weights: Uint8Array, names: [configName, weightsName]}: an
// adapter (adapter_config.json + adapter_model.safetensors), or for full
// fine-tuning a whole checkpoint (config.json + model.safetensors).
export function normalizeFiles(files) {
  if (!files) throw new Error('the engine returned no adapter files');
  const names = files[CONFIG_FILE] !== undefined ? [CONFIG_FILE, WEIGHTS_FILE]
    : files['config.json'] !== undefined ? ['config.json', 'model.safetensors'] : null;
  if (!names || files[names[1]] === undefined) {
    throw new Error(`the engine returned ${Object.keys(files).join(', ') || 'no files'}, not ${CONFIG_FILE} and ${WEIGHTS_FILE}`);
  }
  let config = files[names[0]];
  let weights = files[names[1]];
  if (typeof config !== 'string') config = new TextDecoder().decode(config);
  if (weights instanceof ArrayBuffer) weights = new Uint8Array(weights);
  else if (ArrayBuffer.isView(weights)) weights = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  else throw new Error(`${names[1]} is not binary data`);
  return { config, weights, names };
}

// saveAdapter stores an adapter with its description; returns its id.
export function saveAdapter(meta, files) {
  const { config, weights } = normalizeFiles(files);
  const rec = { ...meta, saved: Date.now(), config, weights: weights.slice(), size: weights.byteLength + config.length };
  return tx('readwrite', (s) => reqP(s.add(rec)));
}

// listAdapters returns the saved adapters' descriptions (without weights),
// newest first.
export async function listAdapters() {
  const all = await tx('readonly', (s) => reqP(s.getAll()));
  return all.map(({ weights, config, ...meta }) => meta).sort((a, b) => b.saved - a.saved);
}

export function getAdapter(id) {
  return tx('readonly', (s) => reqP(s.get(id))).then((rec) => {
    if (!rec) throw new Error('this saved adapter no longer exists');
    return rec;
  });
}

export function deleteAdapter(id) {
  return tx('readwrite', (s) => reqP(s.delete(id)));
}

// filesForEngine makes the {files} argument of hut.importAdapter.
export function filesForEngine(config, weights) {
  return { [CONFIG_FILE]: config, [WEIGHTS_FILE]: weights };
}

// blobURLs returns object URLs of the two files, for download links.
export function blobURLs(config, weights) {
  return {
    config: URL.createObjectURL(new Blob([config], { type: 'application/json' })),
    weights: URL.createObjectURL(new Blob([weights], { type: 'application/octet-stream' })),
  };
}

// download saves one file through a temporary link.
export function download(url, name) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// readUploads reads the two adapter files from a file input's FileList.
export async function readUploads(fileList) {
  const files = Array.from(fileList || []);
  const cfg = files.find((f) => f.name.endsWith('.json'));
  const wts = files.find((f) => f.name.endsWith('.safetensors'));
  if (!cfg || !wts) {
    throw new Error(`choose both files at once: ${CONFIG_FILE} and ${WEIGHTS_FILE} (got ${files.map((f) => f.name).join(', ') || 'none'})`);
  }
  if (wts.size > 2 * 1024 * 1024 * 1024) throw new Error(`${wts.name} is too large for this page`);
  const config = await cfg.text();
  try {
    JSON.parse(config);
  } catch (e) {
    throw new Error(`${cfg.name} is not valid JSON: ${e.message}`);
  }
  const weights = new Uint8Array(await wts.arrayBuffer());
  return { config, weights };
}

export function formatBytes(n) {
  if (!(n >= 0)) return '—';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}
