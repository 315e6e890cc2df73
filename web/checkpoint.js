// Your own checkpoint: which files of a Hugging Face GPT-2 or RoBERTa
// checkpoint folder the engine needs, whether this device has the memory
// for it, and reading the files (with progress) for hut.loadModel({files}).
//
// The memory rule (docs/web.md, "Your own checkpoint"), with P the
// parameters that config.json describes, W = 4·P (the engine keeps every
// weight in fp32, whatever the file's dtype), F the files' bytes (the engine
// keeps its own copy of the weights file, to rebuild the model), S the
// training state and A the activations of one step:
//
//   CPU path:  heap = 1.2 · max(F + 3·W, F + W + S + A) + 96 MiB
//   WebGPU:    heap = 1.2 · (F + 2·W) + 96 MiB,   GPU = W + S + A
//
// The heap is the engine's WebAssembly memory, which never shrinks: loading
// peaks at the file, the decoded state dict, the model's weights and the
// temporaries of converting them (measured: F + 2.6–2.9·W for GPT-2,
// F + 2.1·W for RoBERTa on the CPU path; F + 2.1·W for GPT-2 on WebGPU).
// WebAssembly (wasm32) can address 4 GiB at most:
// above that the checkpoint is refused, above 3 GiB the page warns. The
// tab also holds the files while they are handed to the engine, so
// heap + F is compared with navigator.deviceMemory where the browser has
// it (refused above it, a warning above half of it).

export const KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

// LIMITS can be lowered by tests (?wasmLimitMiB=…) to see the messages
// without a large model.
export const LIMITS = {
  wasmHeap: 4 * GiB, // the wasm32 address space; Go's runtime cannot grow past it
  wasmWarn: 0.75, // warn above this share of it
  ramWarn: 0.5, // warn above this share of navigator.deviceMemory
  slack: 1.2, // the Go heap's garbage and fragmentation on top of the live bytes
  base: 96 * MiB, // the engine itself, the tokenizer and the data
};

// CPU_FLOPS is what the CPU path managed training GPT-2 (124 M) at batch
// 8 × 64 on a shared 2-core machine: 382 GFLOP in 113 s.
const CPU_FLOPS = 3e9;

// The file names the engine reads (docs/wasm-api.md, hut.loadModel).
export const WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'];
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json'];
const USED = new Set(['config.json', ...WEIGHT_FILES, ...TOKENIZER_FILES]);
const SHARD = /(^(model\.safetensors|pytorch_model\.bin)\.index\.json$)|(-\d{5}-of-\d{5}\.(safetensors|bin)$)/;

export function formatBytes(n) {
  if (!(n >= 0)) return '—';
  const trim = (x, d) => x.toFixed(d).replace(/\.0$/, '');
  if (n >= GiB) return trim(n / GiB, n >= 10 * GiB ? 0 : 1) + '\u00a0GiB';
  if (n >= MiB) return trim(n / MiB, n >= 100 * MiB ? 0 : 1) + '\u00a0MiB';
  if (n >= KiB) return (n / KiB).toFixed(1) + '\u00a0KiB';
  return n + '\u00a0B';
}

export function formatParams(n) {
  if (!(n >= 0)) return '—';
  if (n >= 1e9) return (n / 1e9).toFixed(2) + '\u00a0B';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + '\u00a0M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + '\u00a0k';
  return String(n);
}

// pickFiles sorts what the user chose (several files, or a folder through
// webkitdirectory) into the files the engine reads. With a folder, only
// its top level counts. Returns {name, files: {name: File}, weights,
// tokenizer, ignored: [names], shards: [names], problems: [text]}.
export function pickFiles(fileList) {
  const all = Array.from(fileList || []);
  const out = { name: '', files: {}, weights: null, tokenizer: null, ignored: [], shards: [], problems: [] };
  for (const f of all) {
    const rel = f.webkitRelativePath || '';
    const parts = rel.split('/').filter(Boolean);
    if (parts.length > 2) { out.ignored.push(parts.slice(1).join('/')); continue; } // a subfolder
    if (parts.length === 2 && !out.name) out.name = parts[0];
    if (SHARD.test(f.name)) out.shards.push(f.name);
    if (USED.has(f.name)) out.files[f.name] = f;
    else if (!SHARD.test(f.name)) out.ignored.push(f.name);
  }
  const fs = out.files;
  out.weights = WEIGHT_FILES.find((n) => fs[n]) || null;
  if (out.weights === 'model.safetensors' && fs['pytorch_model.bin']) {
    out.ignored.push('pytorch_model.bin');
    delete fs['pytorch_model.bin'];
  }
  if (fs['tokenizer.json']) {
    out.tokenizer = 'tokenizer.json';
    for (const n of ['vocab.json', 'merges.txt']) if (fs[n]) { out.ignored.push(n); delete fs[n]; }
  } else if (fs['vocab.json'] && fs['merges.txt']) {
    out.tokenizer = 'vocab.json + merges.txt';
  } else if (fs['vocab.json'] || fs['merges.txt']) {
    out.problems.push(`${fs['vocab.json'] ? 'vocab.json' : 'merges.txt'} without ${fs['vocab.json'] ? 'merges.txt' : 'vocab.json'}: the two tokenizer files go together (or give tokenizer.json)`);
  }
  if (!fs['config.json']) out.problems.push('config.json is missing: it describes the model (model_type, sizes)');
  if (!out.weights) {
    out.problems.push(out.shards.length
      ? `sharded weights (${out.shards.join(', ')}) are not supported in the browser: the engine reads one weights file. Save the model as one model.safetensors (transformers: model.save_pretrained(dir, max_shard_size="20GB")), or train it with the command line, which reads shards (hut train or hut glue --model DIR)`
      : 'no weights: want model.safetensors (F32, F16 or BF16) or pytorch_model.bin');
  }
  return out;
}

// archOf reads the architecture from config.json as the engine does:
// model_type, else the architectures' prefix.
export function archOf(cfg) {
  const t = String(cfg.model_type || '').toLowerCase();
  if (t) return t;
  for (const a of cfg.architectures || []) {
    if (/^GPT2/.test(a)) return 'gpt2';
    if (/^Roberta/.test(a)) return 'roberta';
  }
  return '';
}

const int = (v, d) => (Number.isInteger(v) && v > 0 ? v : d);

// dims returns the sizes the engine builds from config.json, its parameter
// count (as the engine counts it: GPT-2's output layer is tied to wte;
// RoBERTa with its masked-LM or classification head) and its largest
// tensor. It throws when the config is not one the engine runs.
export function dims(cfg) {
  const arch = archOf(cfg);
  if (arch === 'gpt2') {
    const C = int(cfg.n_embd, 768), L = int(cfg.n_layer, 12), V = int(cfg.vocab_size, 50257);
    const N = int(cfg.n_positions ?? cfg.n_ctx, 1024), I = int(cfg.n_inner, 4 * C), H = int(cfg.n_head, 12);
    const layer = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * I + I) + (I * C + C);
    const params = V * C + N * C + L * layer + 2 * C;
    return {
      arch, hidden: C, layers: L, vocab: V, positions: N, inner: I, heads: H, params,
      largest: V * C >= C * I ? { name: 'wte', numel: V * C } : { name: 'mlp.c_fc', numel: C * I },
      modules: { c_attn: [C, 3 * C], 'attn.c_proj': [C, C], c_fc: [C, I], 'mlp.c_proj': [I, C] },
    };
  }
  if (arch === 'roberta') {
    const C = int(cfg.hidden_size, 768), L = int(cfg.num_hidden_layers, 12), V = int(cfg.vocab_size, 50265);
    const N = int(cfg.max_position_embeddings, 514), I = int(cfg.intermediate_size, 4 * C), H = int(cfg.num_attention_heads, 12);
    const T = int(cfg.type_vocab_size, 1);
    const layer = 4 * (C * C + C) + 2 * C + (C * I + I) + (I * C + C) + 2 * C;
    const head = C * C + C + 2 * C + V; // masked-LM head (decoder tied to the embeddings); a classifier is smaller
    const params = (V + N + T) * C + 2 * C + L * layer + head;
    return {
      arch, hidden: C, layers: L, vocab: V, positions: N, inner: I, heads: H, params,
      largest: V * C >= C * I ? { name: 'word_embeddings', numel: V * C } : { name: 'intermediate.dense', numel: C * I },
      modules: {
        query: [C, C], key: [C, C], value: [C, C], 'attention.output.dense': [C, C],
        'intermediate.dense': [C, I], 'output.dense': [I, C],
      },
    };
  }
  throw new Error(`config.json has model_type ${JSON.stringify(cfg.model_type || '')}${cfg.architectures ? ' (' + cfg.architectures.join(', ') + ')' : ''}: the browser engine runs GPT-2 (gpt2) and RoBERTa (roberta) checkpoints`);
}

// safetensorsHeader reads the header of a .safetensors file (8 bytes of
// length, then JSON) without reading the tensors: dtypes, tensor count and
// the numbers they hold.
export async function safetensorsHeader(file) {
  if (file.size < 8) throw new Error(`${file.name} is ${file.size} bytes: not a safetensors file`);
  const head = new DataView(await file.slice(0, 8).arrayBuffer());
  const n = Number(head.getBigUint64(0, true));
  if (!(n > 1 && n < 100 * MiB && 8 + n <= file.size)) throw new Error(`${file.name}: not a safetensors file (header length ${n})`);
  let h;
  try {
    h = JSON.parse(await file.slice(8, 8 + n).text());
  } catch (e) {
    throw new Error(`${file.name}: the safetensors header is not JSON (${e.message})`);
  }
  const dtypes = {};
  let numel = 0, tensors = 0;
  for (const [k, v] of Object.entries(h)) {
    if (k === '__metadata__' || !v || !Array.isArray(v.shape)) continue;
    tensors++;
    dtypes[v.dtype] = (dtypes[v.dtype] || 0) + 1;
    if (/^(F|BF)\d+$/.test(v.dtype)) numel += v.shape.reduce((a, b) => a * b, 1);
  }
  return { dtypes, numel, tensors };
}

// trainableParams counts what a method trains at rank r on the given target
// modules (full: every weight). A RoBERTa classifier head (SST-2) trains in
// full alongside the adapter.
export function trainableParams(d, { method, r, targets }) {
  if (method === 'full') return d.params;
  let n = 0;
  for (const t of targets || []) {
    const shape = d.modules[t] || Object.entries(d.modules).find(([k]) => k.endsWith(t) || t.endsWith(k))?.[1];
    if (shape) n += r * (shape[0] + shape[1]) * d.layers;
  }
  if (d.arch === 'roberta') n += d.hidden * d.hidden + d.hidden + 2 * d.hidden + 2;
  return n;
}

// estimate returns the memory a checkpoint needs at the given training
// settings (bytes): W, F, S, A, the engine's WebAssembly heap and, on
// WebGPU, the GPU's share.
export function estimate(d, { fileBytes, method, r, targets, batch, seq, backend }) {
  const W = 4 * d.params;
  const F = fileBytes;
  const trainable = trainableParams(d, { method, r, targets });
  const S = 16 * trainable - (method === 'full' ? 4 * trainable : 0); // weights, gradients, Adam m and v (full: the weights are W)
  const T = Math.min(seq, d.positions);
  const tokens = batch * T;
  // logits over the vocabulary (GPT-2; a RoBERTa classifier has 2 outputs)
  // and, per layer, the activations kept for the backward pass
  // (calibrated on the CPU path with 2–12 layers, widths 256–768).
  const logits = d.arch === 'gpt2' ? 1.5 * d.vocab : 0;
  const A = 4 * tokens * (logits + d.layers * (24 * d.hidden + 8 * d.heads * T));
  const gpu = backend === 'webgpu';
  const heapCPU = LIMITS.slack * Math.max(F + 3 * W, F + W + S + A) + LIMITS.base;
  const heapGPU = LIMITS.slack * (F + 2 * W) + LIMITS.base;
  return {
    W, F, S, A, trainable, heap: gpu ? heapGPU : heapCPU, heapWebGPU: heapGPU, gpu: gpu ? W + S + A : 0,
    backend: gpu ? 'webgpu' : 'cpu', tokens, seq: T, largest: 4 * d.largest.numel,
    flops: 6 * d.params * tokens, // forward and backward, roughly (the engine's count is in the cost table once loaded)
  };
}

// check compares an estimate with what this device offers: the wasm32
// ceiling, navigator.deviceMemory (GiB) when the browser has it, and the
// WebGPU limits of hut.init (arch picks the command line to suggest).
// Returns {level: 'ok'|'warn'|'refuse', message, notes: [text]}.
export function check(est, { deviceMemory, limits, software, name, params, arch }) {
  const notes = [];
  let level = 'ok';
  const why = [];
  const what = `${name} (${formatParams(params)} parameters)`;
  const path = est.backend === 'webgpu' ? 'on WebGPU' : 'on the CPU path';
  const cap = LIMITS.wasmHeap;
  if (est.heap > cap) {
    level = 'refuse';
    why.push(`${what} needs about ${formatBytes(est.heap)} of WebAssembly memory ${path} (${formatBytes(est.W)} of weights in fp32, held ${est.backend === 'webgpu' ? 'twice' : 'three times'} over while they are converted${est.F >= 0.01 * est.W ? `, plus ${formatBytes(est.F)} of files the engine keeps` : ''}), but a WebAssembly engine can use at most ${formatBytes(cap)}`);
  } else if (est.heap > LIMITS.wasmWarn * cap) {
    level = 'warn';
    why.push(`${what} needs about ${formatBytes(est.heap)} of the ${formatBytes(cap)} a WebAssembly engine can use ${path}: close to the limit, the tab may run out of memory`);
  }
  const ram = Number(deviceMemory) > 0 ? deviceMemory * GiB : 0;
  const tab = est.heap + est.F + (software ? est.gpu : 0);
  if (ram) {
    if (tab > ram) {
      level = 'refuse';
      why.push(`this tab would need about ${formatBytes(tab)} of memory, and this device reports ${deviceMemory} GiB (navigator.deviceMemory)`);
    } else if (tab > LIMITS.ramWarn * ram && level !== 'refuse') {
      level = 'warn';
      why.push(`this tab would need about ${formatBytes(tab)}, more than half of the ${deviceMemory} GiB this device reports (navigator.deviceMemory)`);
    }
  } else {
    notes.push('this browser does not say how much memory the device has (navigator.deviceMemory): only the WebAssembly limit is checked');
  }
  if (est.backend === 'webgpu') {
    notes.push(`WebGPU does not say how much memory the GPU has: this run needs about ${formatBytes(est.gpu)} of it${software ? ' (a software adapter: in system memory, counted above)' : ''}`);
    const bind = limits && (limits.chunkBytes || limits.maxStorageBufferBindingSize);
    if (bind && est.largest > bind) {
      notes.push(`the largest tensor (${formatBytes(est.largest)}) is larger than one GPU buffer binding (${formatBytes(bind)}; maxBufferSize ${formatBytes(limits.maxBufferSize)}): the engine splits it across ${Math.ceil(est.largest / bind)} buffers`);
    }
  }
  if (est.backend === 'cpu' && est.flops / CPU_FLOPS > 10) {
    notes.push(`speed: a step at these settings is about ${Math.round(est.flops / 1e9)} GFLOP; the CPU path (one thread in WebAssembly) does about ${CPU_FLOPS / 1e9} GFLOP/s, so expect roughly ${Math.round(est.flops / CPU_FLOPS)} s per step`);
  }
  let message;
  if (level === 'refuse') {
    const tryGPU = est.backend !== 'webgpu' && est.heapWebGPU <= cap ? ', try WebGPU (it keeps the weights on the GPU: about ' + formatBytes(est.heapWebGPU) + ' here)' : '';
    const cli = arch === 'roberta' ? 'hut glue --model DIR' : 'hut train --model DIR';
    message = `Too large for this tab: ${why.join('; ')}. Choose a smaller checkpoint${tryGPU} or train it with the command line (${cli}), which has no such limit.`;
  } else if (level === 'warn') {
    message = `It may not fit: ${why.join('; ')}. You can try; close other tabs first.`;
  } else {
    message = `Fits: about ${formatBytes(est.heap)} of the ${formatBytes(cap)} a WebAssembly engine can use ${path}${ram ? `, ${formatBytes(tab)} for the tab of the ${deviceMemory} GiB this device reports` : ''}.`;
  }
  return { level, message, notes };
}

// readFile reads one file into an ArrayBuffer of its own, reporting
// progress (bytes) as it goes; the buffer can then be transferred to the
// worker without a copy.
export async function readFile(file, onProgress) {
  const total = file.size;
  if (!file.stream || total < 4 * MiB) {
    const b = await file.arrayBuffer();
    onProgress(total, total);
    return b;
  }
  const buf = new ArrayBuffer(total);
  const u8 = new Uint8Array(buf);
  const reader = file.stream().getReader();
  let off = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (off + value.byteLength > total) throw new Error(`${file.name} grew while it was read`);
    u8.set(value, off);
    off += value.byteLength;
    onProgress(off, total);
  }
  if (off !== total) throw new Error(`${file.name}: read ${off} of ${total} bytes (was it changed or removed?)`);
  return buf;
}
