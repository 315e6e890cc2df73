// The hut browser demo: the page's controller. All heavy work happens in
// Web Workers (worker.js), one engine each; this module only keeps the
// state, drives the training loop one step (or a few) at a time, and draws.
import { Engine, TASKS, METHODS } from './engine.js';
import { LineChart, drawHeatmap, drawScatter, fmt, inkFraction } from './charts.js';
import { sliceStats, deltaMatrix, renderFormula, renderFacts, escapeHTML } from './teach.js';
import * as store from './store.js';
import * as ckpt from './checkpoint.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const numParam = (k, d) => (params.has(k) && Number.isFinite(Number(params.get(k))) ? Number(params.get(k)) : d);

// Limits on the data handed to the engine: enough to learn from, quick to
// tokenise in the tab. ?maxTrain=…&maxDev=… override them.
const MAX_TRAIN = numParam('maxTrain', 4000);
const MAX_DEV = numParam('maxDev', 200);
const INSPECT_ROWS = 24, INSPECT_COLS = 48;
const MAX_NEW = numParam('maxNew', 40); // tokens generated in "Try it"
// The model menu's entry for a checkpoint from the user's own files.
const LOCAL = '__local__';
// ?wasmLimitMiB=… lowers the WebAssembly memory limit of the checkpoint
// check (to see its messages without a large model).
if (params.has('wasmLimitMiB')) ckpt.LIMITS.wasmHeap = numParam('wasmLimitMiB', 4096) * ckpt.MiB;


const state = {
  phase: 'loading', // loading | ready | running | paused | done | error
  boot: null, // hut.init's answer
  models: [],
  model: null, // entry of /api/models
  arch: null,
  task: null, // TASKS entry
  loadedKey: '', // model url + task, once loaded in the main engine
  setup: null, // hut.setup's answer of the current run
  setupSettings: null,
  dirty: false,
  step: 0,
  totalSteps: 0,
  history: { loss: [], metric: [] }, // [step, value]
  tokensPerSec: NaN,
  before: new Map(), // input key → step-0 answer
  lastTry: null,
  inspect: null,
  inspectStats: null,
  estimates: {},
  errors: [],
  compare: { phase: 'idle', history: { hut: { loss: [], metric: [] }, lora: { loss: [], metric: [] } }, corr: {} },
  downloads: 0,
  stepOffset: 0, // steps the adapter had before this run (null: unknown, an uploaded adapter)
  local: null, // the user's own checkpoint: files, config, sizes, memory check (see inspectLocal)
};
let engine = null;

const charts = {
  loss: new LineChart($('loss-chart'), { yLabel: 'loss', series: [{ name: 'training loss', color: cssVar('--hut', '#b2182b') }] }),
  metric: new LineChart($('metric-chart'), { yLabel: 'validation', series: [{ name: 'validation', color: cssVar('--lora', '#2166ac'), markers: true }] }),
  cmpLoss: new LineChart($('cmp-loss'), { yLabel: 'loss', series: [
    { name: 'HUT', color: cssVar('--hut', '#b2182b') }, { name: 'LoRA', color: cssVar('--lora', '#2166ac'), dash: [6, 3] }] }),
  cmpMetric: new LineChart($('cmp-metric'), { yLabel: 'validation', series: [
    { name: 'HUT', color: cssVar('--hut', '#b2182b'), markers: true }, { name: 'LoRA', color: cssVar('--lora', '#2166ac'), dash: [6, 3], markers: true }] }),
};

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

// ---- status, progress, errors ----

function setStatus(text, level = '') {
  const s = $('status');
  s.textContent = text;
  if (level) s.dataset.level = level; else delete s.dataset.level;
}

function showError(err, where) {
  const msg = (where ? where + ': ' : '') + (err && err.message ? err.message : String(err));
  state.errors.push(msg);
  console.error(msg);
  setStatus(msg, 'bad');
}

function onProgress(p) {
  const wrap = $('progress-wrap');
  if (!p || !(p.total > 0)) return;
  wrap.hidden = p.done >= p.total;
  $('progress').max = p.total;
  $('progress').value = p.done;
  const what = { engine: 'starting the engine', model: 'downloading the model', data: 'fetching the data', tokenize: 'tokenising' }[p.what] || p.what;
  const unit = p.total > 1e5 ? ` (${(p.done / 1e6).toFixed(1)} / ${(p.total / 1e6).toFixed(1)} MB)` : ` (${p.done} / ${p.total})`;
  $('progress-label').textContent = what + unit;
}

function setPhase(phase) {
  state.phase = phase;
  document.body.dataset.phase = phase;
  const btn = $('train-btn');
  const haveModel = state.loadedKey !== '';
  btn.disabled = !haveModel || phase === 'loading' || phase === 'error';
  btn.textContent = phase === 'running' ? 'Pause' : phase === 'paused' ? 'Resume' : phase === 'done' ? 'Train more (new adapter)' : 'Start training';
  btn.setAttribute('aria-pressed', phase === 'running' ? 'true' : 'false');
  $('reset-btn').disabled = !haveModel || phase === 'running' || !state.setup;
  const idle = haveModel && phase !== 'running' && phase !== 'loading';
  $('try-btn').disabled = !haveModel || phase === 'loading';
  $('inspect-btn').disabled = !state.setup || phase === 'loading';
  $('save-btn').disabled = !state.setup || !idle;
  $('download-btn').disabled = !state.setup || !idle;
  $('upload').disabled = !haveModel || !idle;
  $('cmp-btn').disabled = !haveModel || state.compare.phase === 'running';
  $('model').disabled = phase === 'running' || phase === 'loading';
  $('backend').disabled = phase === 'running' || phase === 'loading';
  const busy = phase === 'running' || phase === 'loading';
  const L = state.local;
  $('local-files').disabled = busy;
  $('local-dir').disabled = busy;
  $('local-load').disabled = busy || !L || L.problems.length > 0 || !L.check || L.check.level === 'refuse';
}

// ---- the engine ----

async function startEngine() {
  if (engine) engine.terminate();
  state.loadedKey = '';
  state.setup = null;
  setPhase('loading');
  const backend = $('backend').value;
  engine = new Engine('main', { onProgress, onError: (e) => { if (e.message !== 'stopped') showError(e, 'engine'); } });
  setBadge('backend-badge', 'engine: starting…', 'pending');
  setStatus('Starting the engine (WebAssembly)…');
  try {
    state.boot = await engine.call('boot', { backend });
  } catch (e) {
    setBadge('backend-badge', 'engine: failed', 'bad');
    showError(e, 'The engine did not start');
    setPhase('error');
    return false;
  }
  showBackend(state.boot);
  return true;
}

function setBadge(id, text, st) {
  const b = $(id);
  b.textContent = text;
  b.dataset.state = st;
}

function isSoftware(info) {
  const a = (info && info.adapter) || {};
  return !!a.isFallback || /swiftshader|llvmpipe|lavapipe|software/i.test(`${a.architecture} ${a.description} ${a.vendor}`);
}

function backendLabel(info) {
  if (!info) return '—';
  if (info.backend === 'webgpu') {
    const a = info.adapter || {};
    const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.description || 'GPU';
    return `WebGPU (${name}${isSoftware(info) ? ', software' : ''})`;
  }
  return 'CPU (WebAssembly, one thread)';
}

function showBackend(info) {
  const soft = isSoftware(info);
  setBadge('backend-badge', 'engine: ' + backendLabel(info), info.backend === 'webgpu' && !soft ? 'ok' : 'warn');
  $('st-backend').textContent = info.backend === 'webgpu' ? (soft ? 'WebGPU (software)' : 'WebGPU') : 'CPU (wasm)';
  const banner = $('gpu-banner');
  banner.textContent = '';
  const lines = [];
  let level = 'warn';
  if (info.backend !== 'webgpu') {
    const chosen = $('backend').value === 'cpu';
    let why;
    if (!('gpu' in navigator)) why = 'This browser has no WebGPU (navigator.gpu is missing).';
    else if (chosen) why = 'You chose the CPU engine (Engine menu in Setup).';
    else why = 'WebGPU is present but could not be used.';
    lines.push(`<strong>WebGPU is not in use: training runs on the CPU path</strong>, the same Go engine compiled to WebAssembly, on one thread. It is real training, just slower.`);
    lines.push(escapeHTML(why + (info.note ? ' The engine says: ' + info.note : '')));
    if (!chosen) {
      level = 'bad';
      lines.push('WebGPU needs Chrome or Edge 113+ (Android: 121+; on Linux often behind chrome://flags/#enable-unsafe-webgpu), Safari 26+, or Firefox 141+ on Windows, and a page served from https or localhost.');
    }
  } else if (soft) {
    lines.push('<strong>WebGPU runs on a software adapter</strong> (SwiftShader, a CPU emulation of a GPU). Results are correct, but speed is far below a real GPU and says nothing about one. Small batches and short sequences keep it bearable; the CPU engine (Engine menu) may even be faster.');
  }
  if (lines.length) {
    for (const l of lines) { const p = document.createElement('p'); p.innerHTML = l; banner.appendChild(p); }
    banner.dataset.level = level;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

// ---- models and settings ----

async function loadModelList() {
  let list;
  try {
    const res = await fetch('/api/models');
    if (!res.ok) throw new Error(`/api/models answered ${res.status}`);
    list = (await res.json()).models || [];
  } catch (e) {
    showError(e, 'The model list could not be read');
    list = [];
  }
  state.models = list.filter((m) => TASKS[archOf(m)]);
  const sel = $('model');
  sel.textContent = '';
  for (const m of state.models) {
    const size = m.total_size ? ` · ${(m.total_size / 1e6).toFixed(1)} MB` : '';
    sel.appendChild(new Option(`${m.name} (${archOf(m) === 'gpt2' ? 'GPT-2 → E2E' : 'RoBERTa → SST-2'}${size})`, m.name));
  }
  sel.appendChild(new Option('Your own checkpoint (files on this device)…', LOCAL));
  const want = params.get('model');
  if (state.models.length === 0 || want === 'local') {
    sel.value = LOCAL;
    if (state.models.length === 0) {
      setStatus('The server lists no GPT-2 or RoBERTa checkpoint: choose your own below (Setup → Model), put one in models/ (e.g. models/tiny-gpt2 with config.json and model.safetensors), or start hut serve with --models DIR.', 'bad');
    }
    return;
  }
  const pick = state.models.find((m) => m.name === want) || state.models.find((m) => m.name === 'tiny-gpt2') || state.models[0];
  sel.value = pick.name;
}

function archOf(m) {
  const t = (m.model_type || '').toLowerCase();
  if (t === 'gpt2' || (m.architectures || []).some((a) => /^GPT2/.test(a))) return 'gpt2';
  if (t === 'roberta' || (m.architectures || []).some((a) => /^Roberta/.test(a))) return 'roberta';
  return t;
}

function method() {
  return document.querySelector('input[name="method"]:checked').value;
}

function renderTargets() {
  const box = $('targets');
  box.querySelectorAll('label, p').forEach((e) => e.remove());
  if (!state.task) {
    const p = document.createElement('p'); p.className = 'hint'; p.textContent = 'Pick a model first.'; box.appendChild(p);
    return;
  }
  const m = method();
  const defaults = new Set(state.task.defaults[m]);
  const fromURL = params.get('targets');
  const chosen = fromURL ? new Set(fromURL.split(',')) : defaults;
  for (const mod of state.task.modules) {
    const l = document.createElement('label');
    const cb = document.createElement('input');
    cb.type = 'checkbox'; cb.name = 'target'; cb.value = mod;
    cb.checked = m === 'full' || chosen.has(mod);
    cb.disabled = m === 'full';
    l.append(cb, ' ' + mod);
    box.appendChild(l);
  }
  const p = document.createElement('p');
  p.className = 'hint';
  p.textContent = m === 'full' ? 'Full fine-tuning trains every weight of the model.'
    : `Default for ${METHODS.find((x) => x.id === m).name}: ${state.task.defaults[m].join(', ')}.`;
  box.appendChild(p);
}

function targets() {
  if (method() === 'full') return [];
  return Array.from(document.querySelectorAll('input[name="target"]:checked')).map((c) => c.value);
}

function settings() {
  const n = (id) => Number($(id).value);
  return {
    method: method(), r: n('rank'), alpha: n('alpha'), lr: n('lr'), targets: targets(),
    batch: n('batch'), seq: n('seq'), steps: n('steps'), warmup: n('warmup'), seed: n('seed'), dropout: 0,
  };
}

function validate(s) {
  const bad = [];
  if (!(s.r >= 1 && Number.isInteger(s.r))) bad.push('rank must be a whole number ≥ 1');
  if (!(s.lr > 0 && s.lr <= 1)) bad.push('learning rate must be in (0, 1]');
  if (!(s.steps >= 1)) bad.push('steps must be ≥ 1');
  if (!(s.batch >= 1)) bad.push('batch must be ≥ 1');
  if (!(s.seq >= 8)) bad.push('sequence length must be ≥ 8');
  if (s.method !== 'full' && s.targets.length === 0) bad.push('pick at least one target module');
  if (bad.length) throw new Error(bad.join('; '));
}

function prefillFromURL() {
  for (const [k, id] of [['r', 'rank'], ['alpha', 'alpha'], ['lr', 'lr'], ['steps', 'steps'], ['batch', 'batch'], ['seq', 'seq'],
    ['warmup', 'warmup'], ['evalEvery', 'eval-every'], ['seed', 'seed'], ['backend', 'backend'], ['cmpSteps', 'cmp-steps']]) {
    if (params.has(k)) $(id).value = params.get(k);
  }
  const m = params.get('method');
  if (m) {
    const r = document.querySelector(`input[name="method"][value="${CSS.escape(m.toLowerCase())}"]`);
    if (r) r.checked = true;
  }
}

function evalExamples() {
  return numParam('evalExamples', 32);
}

// loadSelectedModel loads the chosen checkpoint and its task into the
// main engine; "your own checkpoint" shows the file picker, and loads the
// files again when they were loaded before (a new engine).
async function loadSelectedModel() {
  const name = $('model').value;
  $('local-panel').hidden = name !== LOCAL;
  if (name === LOCAL) {
    if (state.local && state.local.loaded) return loadLocalModel(state.local);
    // a new engine: load the checkpoint that was loaded, even when other
    // files have been chosen since
    if (!state.loadedKey && state.model && state.model.local) return loadLocalModel(state.model.ckpt);
    renderLocal();
    if (state.models.length) {
      setStatus(state.loadedKey ? `Choose your checkpoint’s files below; ${state.model.name} stays loaded until you load yours.`
        : 'Choose your checkpoint’s files below (Setup → Model).');
    }
    if (!state.loadedKey && state.phase === 'loading') setPhase('ready');
    return;
  }
  const m = state.models.find((x) => x.name === name);
  if (!m) return;
  await loadModel(m, () => engine.call('loadModel', { url: m.url }));
}

// loadModel loads a checkpoint with load() (which resolves to
// hut.loadModel's answer), then its task, into the main engine.
async function loadModel(m, load) {
  state.model = m;
  state.arch = archOf(m);
  state.task = TASKS[state.arch];
  state.setup = null;
  state.loadedKey = '';
  $('task-line').textContent = 'Task: ' + state.task.title;
  $('try-e2e').hidden = state.task.task !== 'e2e';
  $('try-sst2').hidden = state.task.task !== 'sst2';
  $('try-btn').textContent = state.task.task === 'e2e' ? 'Generate' : 'Classify';
  $('decoding-label').hidden = state.task.task !== 'e2e';
  $('try-note').textContent = state.task.task === 'e2e'
    ? 'The “before” column shows what the untouched base model answered for the same input, recorded at step 0 (an adapter starts as the identity: HUT with a = b = 1, LoRA with B = 0).'
    : 'The “before” column is the answer at step 0 for the same input. RoBERTa has no sentiment head of its own: a new classification head is attached (randomly initialised, and trained in full alongside the adapter, as PEFT’s modules_to_save), so “before” is close to a coin toss.';
  $('st-metric-name').textContent = state.task.metricName;
  renderTargets();
  setPhase('loading');
  setBadge('model-badge', 'model: loading ' + m.name, 'pending');
  try {
    setStatus(`Loading ${m.name}…`);
    const info = await load();
    state.modelInfo = info;
    setStatus(`Reading the ${state.task.task === 'e2e' ? 'E2E' : 'SST-2'} data…`);
    state.taskInfo = await engine.call('loadTask', {
      task: state.task.task, trainUrl: state.task.trainUrl, devUrl: state.task.devUrl, maxTrain: MAX_TRAIN, maxDev: MAX_DEV,
    });
    state.loadedKey = (m.local ? 'local:' + m.name : m.url) + '|' + state.task.task;
    const pcount = info && info.params ? `${(info.params / 1e6).toFixed(2)} M parameters` : '';
    setBadge('model-badge', `model: ${m.name}${pcount ? ' · ' + pcount : ''}`, 'ok');
    setStatus(`Ready: ${m.name} with ${state.taskInfo.train} training and ${state.taskInfo.dev} validation examples. Press “Start training”.`);
    state.before.clear();
    resetRun();
    await refreshEstimates();
    if (m.local) await localLoaded(m.ckpt, info);
    setPhase('ready');
  } catch (e) {
    setBadge('model-badge', 'model: failed', 'bad');
    showError(e, `Loading ${m.name} failed`);
    setPhase('error');
  }
}

// ---- your own checkpoint ----

// inspectLocal sorts the chosen files, reads config.json and the
// safetensors header (not the weights), and checks the memory.
async function inspectLocal(fileList) {
  const pick = ckpt.pickFiles(fileList);
  const L = { pick, name: '', config: null, dims: null, header: null, tokenizerFrom: null, problems: [...pick.problems], notes: [], loaded: false };
  L.fileBytes = Object.values(pick.files).reduce((a, f) => a + f.size, 0);
  if (pick.files['config.json']) {
    try {
      L.config = JSON.parse(await pick.files['config.json'].text());
      L.dims = ckpt.dims(L.config);
    } catch (e) {
      L.problems.push(e instanceof SyntaxError ? 'config.json is not valid JSON: ' + e.message : e.message);
    }
  }
  if (pick.weights === 'model.safetensors') {
    try {
      L.header = await ckpt.safetensorsHeader(pick.files['model.safetensors']);
    } catch (e) {
      L.problems.push(e.message);
    }
  }
  if (L.dims && L.header && L.header.numel > 0 && (L.header.numel < 0.5 * L.dims.params || L.header.numel > 2 * L.dims.params)) {
    L.notes.push(`model.safetensors holds ${ckpt.formatParams(L.header.numel)} numbers but config.json describes ${ckpt.formatParams(L.dims.params)} parameters: they may not belong together (the engine checks every tensor as it loads)`);
  }
  if (L.dims && !pick.tokenizer && !pick.files['vocab.json'] && !pick.files['merges.txt']) {
    // the engine has no tokenizer of its own: borrow the files of a
    // served model of the same architecture and vocabulary
    const donor = state.models.find((m) => archOf(m) === L.dims.arch && m.config && m.config.vocab_size === L.dims.vocab
      && (m.files || []).some((f) => f.name === 'tokenizer.json' || f.name === 'vocab.json'));
    if (donor) L.tokenizerFrom = donor;
    else L.problems.push(`no tokenizer files (vocab.json + merges.txt, or tokenizer.json), and this server lists no ${L.dims.arch === 'gpt2' ? 'GPT-2' : 'RoBERTa'} model with the same ${L.dims.vocab.toLocaleString('en-US')}-token vocabulary to borrow them from: add them (the engine has no built-in tokenizer)`);
  }
  const base = (p) => String(p || '').split(/[\\/]/).filter(Boolean).pop() || '';
  L.name = (pick.name || base(L.config && L.config._name_or_path) || 'my-checkpoint').replace(/[^\w.+-]+/g, '-').slice(0, 64);
  state.local = L;
  renderLocal();
}

// localEstimate is the memory estimate of the user's checkpoint at the
// form's settings, on the engine's backend.
function localEstimate(L, s = settings()) {
  // the ticked targets when they are this architecture's, else the method's default
  let targets = s.targets.filter((t) => t in L.dims.modules);
  if (!targets.length) targets = TASKS[L.dims.arch].defaults[s.method] || [];
  return ckpt.estimate(L.dims, {
    fileBytes: L.fileBytes, method: s.method, r: s.r, targets, batch: s.batch, seq: s.seq,
    backend: state.boot && state.boot.backend === 'webgpu' ? 'webgpu' : 'cpu',
  });
}

function localCheck(L, est) {
  return ckpt.check(est, {
    deviceMemory: navigator.deviceMemory, limits: state.boot && state.boot.limits, software: state.boot && state.boot.backend === 'webgpu' && isSoftware(state.boot),
    name: L.name, params: L.dims.params, arch: L.dims.arch,
  });
}

// renderLocal shows the chosen files, the memory estimate at the current
// settings and the verdict, and enables "Load" when the checkpoint fits.
function renderLocal() {
  const box = $('local-check');
  const verdict = $('local-verdict');
  const btn = $('local-load');
  const L = state.local;
  box.textContent = '';
  btn.disabled = true;
  btn.textContent = 'Load this checkpoint';
  if (!L) {
    box.innerHTML = '<p class="hint">No files chosen yet.</p>';
    verdict.hidden = true;
    return;
  }
  const li = (html, level = '') => { const e = document.createElement('li'); e.innerHTML = html; if (level) e.dataset.level = level; return e; };
  const ul = document.createElement('ul');
  const f = L.pick.files;
  const d = L.dims;
  if (f['config.json']) {
    ul.appendChild(li(d ? `<code>config.json</code>: ${d.arch === 'gpt2' ? 'GPT-2' : 'RoBERTa'}, ${d.layers} layers, width ${d.hidden}, vocabulary ${d.vocab.toLocaleString('en-US')}: `
      + `<strong>${ckpt.formatParams(d.params)} parameters</strong> (task: ${TASKS[d.arch].title})` : '<code>config.json</code>'));
  }
  if (L.pick.weights) {
    const wf = f[L.pick.weights];
    const dt = L.header ? Object.keys(L.header.dtypes).join(', ') : '';
    const conv = L.header && Object.keys(L.header.dtypes).some((t) => t !== 'F32') ? ', converted to fp32 on load' : '';
    ul.appendChild(li(`<code>${escapeHTML(L.pick.weights)}</code>: ${ckpt.formatBytes(wf.size)}`
      + (L.header ? ` (${dt}, ${L.header.tensors} tensor${L.header.tensors === 1 ? '' : 's'}${conv})` : L.pick.weights === 'pytorch_model.bin' ? ' (PyTorch; read without running its pickle)' : '')));
  }
  if (L.pick.tokenizer) ul.appendChild(li(`tokenizer: <code>${escapeHTML(L.pick.tokenizer)}</code>${f['tokenizer_config.json'] ? ' + <code>tokenizer_config.json</code>' : ''}`));
  else if (L.tokenizerFrom) ul.appendChild(li(`tokenizer: none in your files; the engine has no built-in one, so the page borrows <code>${escapeHTML(L.tokenizerFrom.name)}</code>’s from this server (the same ${d.vocab.toLocaleString('en-US')}-token vocabulary)`, 'warn'));
  if (L.pick.ignored.length) {
    const n = L.pick.ignored.length;
    ul.appendChild(li(`not used: ${L.pick.ignored.slice(0, 6).map((x) => `<code>${escapeHTML(x)}</code>`).join(', ')}${n > 6 ? ` and ${n - 6} more` : ''}`));
  }
  for (const p of L.problems) ul.appendChild(li(escapeHTML(p), 'bad'));
  for (const n of L.notes) ul.appendChild(li(escapeHTML(n), 'warn'));
  box.appendChild(ul);
  let level = 'refuse', message;
  if (L.problems.length) {
    message = `These files cannot be loaded: ${L.problems[0]}.`;
  } else {
    const s = settings();
    const est = localEstimate(L, s);
    const chk = localCheck(L, est);
    L.est = est;
    L.check = chk;
    level = chk.level;
    message = chk.message;
    const path = est.backend === 'webgpu' ? 'WebGPU' : 'the CPU path (WebAssembly)';
    const rows = [
      ['weights in fp32, as the engine keeps them (4 bytes × parameters)', est.W, ''],
      ['files, of which the engine keeps a copy', est.F, ''],
      [`training state: ${METHODS.find((x) => x.id === s.method).name}, ${ckpt.formatParams(est.trainable)} trainable numbers with gradients and Adam moments`, est.S, ''],
      [`activations of one step: batch ${s.batch} × ${est.seq} tokens`, est.A, ''],
      [`<strong>engine memory (WebAssembly heap), at its peak</strong>, on ${path}`, est.heap, `limit ${ckpt.formatBytes(ckpt.LIMITS.wasmHeap)} (wasm32)`],
    ];
    if (est.backend === 'webgpu') rows.push(['GPU memory: weights, training state, activations', est.gpu, 'not reported by WebGPU']);
    rows.push(['this tab in all: engine + the files while they are handed over', est.heap + est.F + (isSoftware(state.boot) ? est.gpu : 0),
      navigator.deviceMemory ? `device: ${navigator.deviceMemory} GiB (navigator.deviceMemory)` : 'device memory not reported']);
    const t = document.createElement('table');
    t.className = 'cost';
    t.id = 'local-memory';
    t.innerHTML = '<caption>Memory this checkpoint needs at the current settings (an estimate; docs/web.md gives the rule)</caption>'
      + '<thead><tr><th scope="col">what</th><th scope="col">needs</th><th scope="col">available</th></tr></thead>';
    const tb = document.createElement('tbody');
    for (const [what, bytes, avail] of rows) {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td>${what}</td><td class="num">${ckpt.formatBytes(bytes)}</td><td>${escapeHTML(avail)}</td>`;
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    wrap.appendChild(t);
    box.appendChild(wrap);
    if (chk.notes.length) {
      const nu = document.createElement('ul');
      for (const n of chk.notes) nu.appendChild(li(escapeHTML(n)));
      box.appendChild(nu);
    }
    if (L.measured) {
      const p = document.createElement('p');
      p.className = 'hint';
      p.id = 'local-measured';
      p.textContent = `Loaded: the engine counts ${ckpt.formatParams(L.measured.params)} parameters; its WebAssembly memory is ${ckpt.formatBytes(L.measured.heap)} now (it never shrinks: this is its peak so far).`;
      box.appendChild(p);
    }
  }
  verdict.hidden = false;
  verdict.textContent = message;
  verdict.dataset.level = level;
  verdict.setAttribute('role', level === 'refuse' ? 'alert' : 'status');
  const busy = state.phase === 'running' || state.phase === 'loading';
  btn.disabled = level === 'refuse' || busy;
  btn.textContent = level === 'warn' ? 'Load anyway' : L.loaded ? 'Load again' : 'Load this checkpoint';
}

// readLocalFiles reads the checkpoint's files into ArrayBuffers (progress
// per file), plus the borrowed tokenizer files.
async function readLocalFiles(L) {
  const out = {};
  for (const [name, file] of Object.entries(L.pick.files)) {
    out[name] = await ckpt.readFile(file, (done, total) => onProgress({ what: 'reading ' + name, done, total }));
  }
  if (L.tokenizerFrom) {
    const have = new Set((L.tokenizerFrom.files || []).map((f) => f.name));
    const names = have.has('tokenizer.json') ? ['tokenizer.json'] : ['vocab.json', 'merges.txt'];
    if (have.has('tokenizer_config.json')) names.push('tokenizer_config.json');
    for (const n of names) {
      const res = await fetch(L.tokenizerFrom.url + n);
      if (!res.ok) throw new Error(`borrowing the tokenizer: ${L.tokenizerFrom.url + n} answered ${res.status}`);
      out[n] = await res.arrayBuffer();
    }
  }
  return out;
}

// loadLocalModel loads a checked checkpoint (default: the chosen files)
// into the main engine: the files are read here and their buffers moved to
// the worker.
async function loadLocalModel(L = state.local) {
  if (!L || !L.dims || L.problems.length) return;
  renderLocal();
  const chk = localCheck(L, localEstimate(L));
  if (chk.level === 'refuse') {
    setStatus(chk.message, 'bad');
    return;
  }
  const m = {
    name: L.name, url: null, local: true, model_type: L.dims.arch, architectures: L.config.architectures || [],
    config: L.config, total_size: L.fileBytes, ckpt: L,
  };
  const opt = $('model').querySelector(`option[value="${LOCAL}"]`);
  opt.textContent = `${L.name} (your files · ${L.dims.arch === 'gpt2' ? 'GPT-2 → E2E' : 'RoBERTa → SST-2'} · ${(L.fileBytes / 1e6).toFixed(1)} MB)`;
  $('model').value = LOCAL;
  await loadModel(m, async () => {
    setStatus(`Reading ${L.name} from your files…`);
    const files = await readLocalFiles(L);
    setStatus(`The engine is loading ${L.name} (decoding the weights to fp32)…`);
    return engine.loadModelFiles(files, L.name);
  });
  // a new engine (another backend) loads the files again
  L.loaded = state.loadedKey.startsWith('local:');
  renderLocal();
}

// localLoaded records what the engine reports after loading the user's
// checkpoint L: its parameter count and its WebAssembly memory.
async function localLoaded(L, info) {
  let heap = NaN;
  try { heap = (await engine.call('heap')).wasmBytes; } catch (_) { /* an old worker */ }
  L.measured = { params: info && info.params, heap };
  const notes = (info && info.notes) || [];
  if (notes.length) L.notes = [...new Set([...L.notes, ...notes])];
}

// loadModelInto loads the current model into another engine (the
// side-by-side comparison).
async function loadModelInto(e, m) {
  if (!m.local) return e.call('loadModel', { url: m.url });
  const files = await readLocalFiles(m.ckpt);
  return e.loadModelFiles(files, m.name);
}

// compareMemory refuses the side-by-side run of a user's checkpoint when
// two more engines, each with its own copy, would not fit.
function compareMemory() {
  if (!state.model || !state.model.local) return;
  const L = state.model.ckpt;
  const s = settings();
  let total = L.measured && L.measured.heap > 0 ? L.measured.heap : localEstimate(L, s).heap;
  for (const id of ['hut', 'lora']) {
    const est = localEstimate(L, { ...s, method: id, targets: state.task.defaults[id] });
    const chk = localCheck(L, est);
    if (chk.level === 'refuse') throw new Error(chk.message);
    total += est.heap;
  }
  const ram = Number(navigator.deviceMemory);
  if (ram > 0 && total > ram * ckpt.GiB) {
    throw new Error(`the side by side run starts two more engines, each with its own copy of ${L.name}: about ${ckpt.formatBytes(total)} in all, and this device reports ${ram} GiB (navigator.deviceMemory)`);
  }
}

// refreshEstimates fills the cost table with every method at the current
// settings (hut.estimate attaches nothing).
async function refreshEstimates() {
  if (!state.loadedKey) return;
  const s = settings();
  const tbody = $('cost-table').tBodies[0];
  const rows = [];
  for (const m of METHODS) {
    const tg = m.id === 'full' ? [] : (m.id === s.method ? s.targets : state.task.defaults[m.id]);
    try {
      const e = await engine.call('estimate', { method: m.id, r: s.r, targets: tg, batch: s.batch, seq: s.seq });
      state.estimates[m.id] = e;
      rows.push([m, tg, e]);
    } catch (err) {
      rows.push([m, tg, { error: err.message }]);
    }
  }
  tbody.textContent = '';
  for (const [m, tg, e] of rows) {
    const tr = document.createElement('tr');
    if (m.id === s.method) tr.className = 'current';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = m.name + (m.id === s.method ? ' (chosen)' : '');
    tr.appendChild(th);
    const cells = e.error ? [tg.join(', ') || 'all', e.error, '', '']
      : [m.id === 'full' ? 'every weight' : tg.join(', '), fmtCount(e.trainable), e.all ? (100 * e.trainable / e.all).toFixed(3) + ' %' : '—', fmtFlops(e.flopsPerStep)];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i > 0) td.className = 'num';
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  }
}

function fmtCount(n) {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + ' M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + ' k';
  return String(n);
}

function fmtFlops(f) {
  if (!Number.isFinite(f)) return '—';
  if (f >= 1e12) return (f / 1e12).toFixed(2) + ' TFLOP';
  if (f >= 1e9) return (f / 1e9).toFixed(2) + ' GFLOP';
  return (f / 1e6).toFixed(1) + ' MFLOP';
}

// ---- training ----

function resetRun() {
  state.step = 0;
  state.history = { loss: [], metric: [] };
  state.tokensPerSec = NaN;
  charts.loss.clear();
  charts.metric.clear();
  for (const id of ['st-loss', 'st-metric', 'st-lr', 'st-gnorm', 'st-tps', 'st-gflops']) $(id).textContent = '—';
  $('st-step').textContent = '0';
  $('out-after').textContent = '—';
  $('out-now-step').textContent = '';
}

async function setupRun() {
  const s = settings();
  validate(s);
  if (state.model && state.model.local) {
    const chk = localCheck(state.model.ckpt, localEstimate(state.model.ckpt, s));
    if (chk.level === 'refuse') throw new Error(chk.message);
  }
  setStatus(`Attaching a fresh ${s.method.toUpperCase()} adapter…`);
  state.setup = await engine.call('setup', s);
  state.setupSettings = s;
  state.totalSteps = s.steps;
  state.stepOffset = 0;
  state.dirty = false;
  $('dirty-note').hidden = true;
  resetRun();
  fillInspectChoices();
  // Step 0: the adapter is the identity, so this is the base model's answer.
  await tryModel({ quiet: true });
  await evaluateNow();
  await inspectNow();
}

async function toggleTraining() {
  if (state.phase === 'running') {
    setPhase('paused');
    engine.stop(); // a call running several steps returns after the current one
    setStatus(`Pausing after the current step…`);
    return;
  }
  try {
    if (state.phase === 'done' || !state.setup || state.dirty) {
      setPhase('loading');
      await setupRun();
    }
    setPhase('running');
    // A loop still finishing its last call before a pause picks up again
    // by itself; start one only when none is active.
    if (!loopActive) trainLoop();
  } catch (e) {
    showError(e, 'Could not start');
    setPhase(state.setup ? 'paused' : 'ready');
  }
}

let loopActive = false;

async function trainLoop() {
  loopActive = true;
  try {
    await trainSteps();
  } finally {
    loopActive = false;
  }
}

async function trainSteps() {
  const evalEvery = Math.max(1, Number($('eval-every').value) || 20);
  const inspectEvery = Math.max(1, Math.round(evalEvery / 2));
  let chunk = 1;
  setStatus('Training…');
  while (state.phase === 'running' && state.step < state.totalSteps) {
    const n = Math.min(chunk, state.totalSteps - state.step);
    let r;
    try {
      r = await engine.call('step', { n });
    } catch (e) {
      showError(e, `Step ${state.step + 1} failed`);
      setPhase('paused');
      return;
    }
    state.step = r.step;
    // every step's loss when the engine ran several in one call
    const ls = Array.isArray(r.losses) && r.losses.length ? r.losses : [r.loss];
    ls.forEach((l, i) => {
      const st = r.step - ls.length + 1 + i;
      state.history.loss.push([st, l]);
      charts.loss.add(0, st, l);
    });
    state.tokensPerSec = r.tokensPerSec;
    $('st-step').textContent = `${r.step} / ${state.totalSteps}`;
    $('st-loss').textContent = fmt(r.loss, 4);
    $('st-lr').textContent = fmt(r.lr, 3);
    $('st-gnorm').textContent = fmt(r.gradNorm, 3);
    $('st-tps').textContent = Number.isFinite(r.tokensPerSec) ? Math.round(r.tokensPerSec).toLocaleString('en-US') : '—';
    const est = state.setup && state.setup.flopsPerStep;
    if (est && r.elapsedMs > 0) $('st-gflops').textContent = fmt((est * n) / (r.elapsedMs / 1000) / 1e9, 3);
    summarizeLoss();
    // a few steps per call when steps are fast, so messages do not dominate
    if (r.elapsedMs > 0 && r.elapsedMs / n < 60) chunk = Math.min(16, chunk * 2);
    else if (r.elapsedMs / n > 250) chunk = 1;
    const crossed = (every) => Math.floor(r.step / every) > Math.floor((r.step - n) / every);
    if (crossed(evalEvery) || r.step >= state.totalSteps) await evaluateNow();
    if (crossed(inspectEvery) || r.step >= state.totalSteps) await inspectNow();
  }
  if (state.phase === 'paused') setStatus(`Paused at step ${state.step}. Press “Resume” to go on.`);
  if (state.step >= state.totalSteps && state.phase === 'running') {
    setStatus(`Done: ${state.step} steps. Trying the model once more…`);
    await tryModel({ quiet: true });
    setPhase('done');
    setStatus(`Done: ${state.step} steps. Try the model below, look at the update, or save the adapter.`);
    if (state.model && state.model.local && state.model.ckpt.measured) {
      try { state.model.ckpt.measured.heap = (await engine.call('heap')).wasmBytes; renderLocal(); } catch (_) { /* shown at load */ }
    }
  }
}

function summarizeLoss() {
  const h = state.history.loss;
  if (h.length) $('loss-summary').textContent = `Loss went from ${fmt(h[0][1], 4)} at step ${h[0][0]} to ${fmt(h[h.length - 1][1], 4)} at step ${h[h.length - 1][0]}.`;
}

function metricName(r) {
  const n = (r && r.metric && r.metric.name) || 'loss';
  return /^(loss|eval_loss)$/.test(n) ? 'validation loss' : 'validation ' + n;
}

async function evaluateNow() {
  let r;
  try {
    r = await engine.call('evaluate', { maxExamples: evalExamples() });
  } catch (e) {
    showError(e, 'Validation failed');
    return;
  }
  const v = r.metric && Number.isFinite(r.metric.value) ? r.metric.value : r.evalLoss;
  const name = metricName(r);
  state.history.metric.push([state.step, v]);
  charts.metric.yLabel = name;
  charts.metric.series[0].name = name;
  charts.metric.add(0, state.step, v);
  $('st-metric-name').textContent = name;
  $('st-metric').textContent = fmt(v, 4);
  const m = state.history.metric;
  $('metric-summary').textContent = `${name} ${fmt(m[0][1], 4)} at step ${m[0][0]}, ${fmt(v, 4)} at step ${state.step}.`;
}

// ---- try it ----

function tryInput() {
  if (state.task.task === 'e2e') {
    const dec = $('decoding').value;
    return { key: `e2e|${dec}|${$('mr').value.trim()}`, op: 'generate', args: { mr: $('mr').value.trim(), maxNew: MAX_NEW, ...(dec === 'greedy' ? { greedy: true } : { beams: 4 }) } };
  }
  return { key: `sst2|${$('sentence').value.trim()}`, op: 'classify', args: { text: $('sentence').value.trim() } };
}

function showAnswer(out, ans) {
  out.textContent = '';
  if (!ans) { out.textContent = '—'; return; }
  if (ans.error) { out.textContent = 'error: ' + ans.error; return; }
  if (typeof ans.text === 'string') {
    out.textContent = ans.text.trim() || '(the model ended the sentence at once)';
    return;
  }
  const labels = ans.labels || ans.probs.map((_, i) => String(i));
  const names = labels.map((l) => (state.task && state.task.task === 'sst2' ? ({ 0: 'negative', 1: 'positive' }[l] || l) : l));
  const best = names[labels.indexOf(String(ans.label))] || String(ans.label);
  const head = document.createElement('strong');
  head.textContent = best;
  out.appendChild(head);
  const grid = document.createElement('div');
  grid.className = 'probs';
  ans.probs.forEach((p, i) => {
    const l = document.createElement('span'); l.textContent = names[i];
    const m = document.createElement('meter'); m.min = 0; m.max = 1; m.value = p; m.setAttribute('aria-label', `${names[i]} probability`);
    const v = document.createElement('span'); v.textContent = (100 * p).toFixed(1) + ' %';
    grid.append(l, m, v);
  });
  out.appendChild(grid);
}

async function tryModel({ quiet = false } = {}) {
  if (!state.loadedKey || !state.task) return;
  const inp = tryInput();
  if (!inp.args.mr && !inp.args.text) { if (!quiet) setStatus('Type something to try first.', 'bad'); return; }
  // "before" is the base model: no adapter yet, or a fresh one (the
  // identity) at step 0; an imported adapter is not
  const atZero = !state.setup || (state.step === 0 && state.stepOffset === 0);
  $('try-btn').disabled = true;
  let ans;
  try {
    if (!state.setup) {
      // no adapter yet: the base model answers, which is also "before"
      ans = await engine.call(inp.op, inp.args);
    } else {
      ans = await engine.call(inp.op, inp.args);
    }
  } catch (e) {
    ans = { error: e.message };
  } finally {
    $('try-btn').disabled = false;
  }
  state.lastTry = { key: inp.key, step: state.step, input: inp.args, answer: ans };
  if (atZero) state.before.set(inp.key, ans);
  showAnswer($('out-before'), state.before.get(inp.key) || null);
  if (!state.before.has(inp.key)) {
    $('out-before').textContent = 'not recorded: only inputs tried before training started have a “before”. Start a new adapter to compare this one.';
  }
  showAnswer($('out-after'), ans);
  $('out-now-step').textContent = `(step ${state.step}${state.setup ? ', ' + state.setupSettings.method.toUpperCase() : ''})`;
  $('try-btn').dataset.done = String(Number($('try-btn').dataset.done || 0) + 1);
}

// ---- teaching view ----

function parseTarget(t) {
  const m = /^(?:.*\.)?(?:h|layer)\.(\d+)\.(.+)$/.exec(t);
  return m ? { layer: Number(m[1]), module: m[2] } : null;
}

function fillInspectChoices() {
  const layers = new Set();
  const modules = new Set();
  const tg = (state.setup && state.setup.targets) || [];
  for (const t of tg) {
    const p = parseTarget(typeof t === 'string' ? t : t.name || '');
    if (p) { layers.add(p.layer); modules.add(p.module); }
  }
  if (layers.size === 0) {
    const cfg = (state.model && state.model.config) || {};
    const nl = cfg.n_layer || cfg.num_hidden_layers || 1;
    for (let i = 0; i < nl; i++) layers.add(i);
    const s = state.setupSettings;
    for (const m of (s && s.targets.length ? s.targets : state.task.modules)) modules.add(m);
  }
  const ls = $('inspect-layer'), ms = $('inspect-module');
  const keepL = ls.value, keepM = ms.value;
  ls.textContent = ''; ms.textContent = '';
  for (const l of [...layers].sort((a, b) => a - b)) ls.appendChild(new Option(String(l), String(l)));
  for (const m of modules) ms.appendChild(new Option(m, m));
  if ([...layers].map(String).includes(keepL)) ls.value = keepL;
  if ([...modules].includes(keepM)) ms.value = keepM;
}

async function inspectNow() {
  if (!state.setup) return;
  const layer = Number($('inspect-layer').value || 0);
  const module = $('inspect-module').value;
  let ins;
  try {
    ins = await engine.call('inspect', { layer, module, rows: INSPECT_ROWS, cols: INSPECT_COLS });
  } catch (e) {
    $('formula').textContent = 'The engine could not inspect this layer: ' + e.message;
    return;
  }
  state.inspect = ins;
  drawInspect(ins, layer, module);
}

function drawInspect(ins, layer, module) {
  const s = state.setupSettings;
  const [dOut, dIn] = ins.shape || [NaN, NaN];
  renderFormula($('formula'), { method: s.method, dOut, dIn, r: ins.r || s.r, alpha: s.alpha, module, layer });
  renderFacts($('facts'), { method: s.method, r: ins.r || s.r, lr: s.lr, dOut, dIn });
  const hasAB = Array.isArray(ins.a) || ArrayBuffer.isView(ins.a);
  $('fig-a').hidden = !hasAB;
  $('fig-b').hidden = !hasAB;
  if (hasAB) {
    const la = Math.max(1e-4, ...Array.from(ins.a, (v) => Math.abs(v - 1)));
    const lb = Math.max(1e-4, ...Array.from(ins.b, (v) => Math.abs(v - 1)));
    drawHeatmap($('hm-a'), [Array.from(ins.a)], { center: 1, lim: la, title: `a (${ins.a.length} values)` });
    drawHeatmap($('hm-b'), [Array.from(ins.b)], { center: 1, lim: lb, title: `b (${ins.b.length} values)` });
  }
  const { lim } = drawHeatmap($('hm-w0'), ins.w0, { title: `W0[0:${ins.w0.length}, 0:${(ins.w0[0] || []).length}]` });
  drawHeatmap($('hm-wp'), ins.wPrime, { lim, title: 'W′, same slice' });
  drawHeatmap($('hm-dw'), deltaMatrix(ins), { title: 'ΔW = W′ − W0' });
  const st = sliceStats(ins);
  state.inspectStats = st;
  const color = s.method === 'lora' ? cssVar('--lora', '#2166ac') : cssVar('--hut', '#b2182b');
  drawScatter($('sc-main'), st.w0, st.wp, { xLabel: 'W0', yLabel: 'W′', color, diag: true });
  drawScatter($('sc-delta'), st.w0, st.dw, { xLabel: 'W0', yLabel: 'ΔW', color, diag: false });
  $('tc-corr').textContent = fmt(Number.isFinite(ins.corr) ? ins.corr : st.corr, 4);
  $('tc-dcorr').textContent = fmt(st.dcorr, 3);
  $('tc-acorr').textContent = fmt(st.acorr, 3);
  $('tc-rel').textContent = fmt(st.rel, 3);
}

// ---- side by side ----

const cmp = { engines: {}, stop: false };

async function startCompare() {
  if (!state.loadedKey) return;
  const base = settings();
  const steps = Math.max(1, Number($('cmp-steps').value) || 60);
  const lrs = { hut: Number($('cmp-hut-lr').value), lora: Number($('cmp-lora-lr').value) };
  const evalEvery = Math.max(1, Number($('eval-every').value) || 20);
  stopCompare();
  cmp.stop = false;
  state.compare = { phase: 'running', history: { hut: { loss: [], metric: [] }, lora: { loss: [], metric: [] } }, corr: {} };
  setPhase(state.phase);
  $('cmp-stop').disabled = false;
  charts.cmpLoss.clear();
  charts.cmpMetric.clear();
  const status = (t) => { $('cmp-status').textContent = t; };
  const ids = ['hut', 'lora'];
  try {
    compareMemory();
    status('Starting two engines…');
    for (const id of ids) {
      const e = new Engine('compare-' + id, { onError: (err) => { if (err.message !== 'stopped') status(`${id.toUpperCase()}: ${err.message}`); } });
      cmp.engines[id] = e;
    }
    await Promise.all(ids.map((id) => cmp.engines[id].call('boot', { backend: $('backend').value })));
    status('Loading the model and data in both…');
    for (const id of ids) {
      const e = cmp.engines[id];
      await loadModelInto(e, state.model);
      await e.call('loadTask', { task: state.task.task, trainUrl: state.task.trainUrl, devUrl: state.task.devUrl, maxTrain: MAX_TRAIN, maxDev: MAX_DEV });
      const r = await e.call('setup', { ...base, method: id, lr: lrs[id], steps, targets: state.task.defaults[id] });
      cmpCell(id, 1, fmtCount(r.trainable));
      cmpCell(id, 2, fmtFlops(r.flopsPerStep));
    }
    for (const id of ids) await cmpEval(id, 0);
    for (let s = 1; s <= steps && !cmp.stop; s++) {
      for (const [k, id] of ids.entries()) {
        if (cmp.stop) break;
        const r = await cmp.engines[id].call('step', { n: 1 });
        state.compare.history[id].loss.push([r.step, r.loss]);
        charts.cmpLoss.add(k, r.step, r.loss);
        cmpCell(id, 3, String(r.step));
        cmpCell(id, 4, fmt(r.loss, 4));
        cmpCell(id, 6, Number.isFinite(r.tokensPerSec) ? Math.round(r.tokensPerSec).toLocaleString('en-US') : '—');
      }
      status(`Step ${s} of ${steps}, taking turns.`);
      if (s % evalEvery === 0 || s === steps) for (const id of ids) if (!cmp.stop) await cmpEval(id, s);
    }
    if (!cmp.stop) {
      for (const id of ids) await cmpInspect(id);
      const h = state.compare.history;
      const last = (a) => (a.length ? a[a.length - 1][1] : NaN);
      status(`Done: after ${steps} steps, HUT loss ${fmt(last(h.hut.loss), 4)}, LoRA loss ${fmt(last(h.lora.loss), 4)}. The engines stay loaded until you stop them.`);
      $('cmp-loss-summary').textContent = `HUT ${fmt(last(h.hut.loss), 4)}, LoRA ${fmt(last(h.lora.loss), 4)} at step ${steps}.`;
    }
    state.compare.phase = cmp.stop ? 'stopped' : 'done';
  } catch (e) {
    status('The comparison failed: ' + e.message);
    state.compare.phase = 'error';
  }
  setPhase(state.phase);
}

function cmpCell(id, col, text) {
  const row = $('cmp-row-' + id);
  if (row && row.cells[col]) row.cells[col].textContent = text;
}

async function cmpEval(id, step) {
  const r = await cmp.engines[id].call('evaluate', { maxExamples: evalExamples() });
  const v = r.metric && Number.isFinite(r.metric.value) ? r.metric.value : r.evalLoss;
  state.compare.history[id].metric.push([step, v]);
  charts.cmpMetric.yLabel = metricName(r);
  charts.cmpMetric.add(id === 'hut' ? 0 : 1, step, v);
  cmpCell(id, 5, fmt(v, 4));
}

async function cmpInspect(id) {
  const module = state.task.defaults.lora[0];
  const ins = await cmp.engines[id].call('inspect', { layer: 0, module, rows: INSPECT_ROWS, cols: INSPECT_COLS });
  const st = sliceStats(ins);
  state.compare.corr[id] = st.acorr;
  cmpCell(id, 7, fmt(Number.isFinite(ins.corr) ? ins.corr : st.corr, 4));
  cmpCell(id, 8, fmt(st.acorr, 3));
  drawScatter($('cmp-sc-' + id), st.w0, st.dw, {
    xLabel: 'W0', yLabel: 'ΔW', diag: false, color: cssVar(id === 'hut' ? '--hut' : '--lora', '#b2182b'),
    title: `${id === 'hut' ? 'HUT' : 'LoRA'}: corr(|ΔW|, |W0|) = ${fmt(st.acorr, 3)}`,
  });
}

function stopCompare() {
  cmp.stop = true;
  for (const e of Object.values(cmp.engines)) e.terminate();
  cmp.engines = {};
  if (state.compare.phase === 'running') state.compare.phase = 'stopped';
  $('cmp-stop').disabled = true;
  setPhase(state.phase);
}

// ---- adapters ----

function adapterStatus(t, bad = false) {
  const s = $('adapter-status');
  s.textContent = t;
  s.dataset.level = bad ? 'bad' : '';
}

async function exportFiles() {
  const r = await engine.call('exportAdapter', {});
  return store.normalizeFiles(r.files);
}

async function saveInBrowser() {
  try {
    if (state.setupSettings && state.setupSettings.method === 'full') {
      throw new Error('a fully fine-tuned model is a whole checkpoint, not an adapter: download it instead');
    }
    const f = await exportFiles();
    const s = state.setupSettings;
    const step = state.stepOffset === null ? null : state.stepOffset + state.step;
    const name = `${state.model.name} · ${s.method.toUpperCase()} r=${s.r} · ` + (step === null ? `uploaded + ${state.step} steps` : `step ${step}`);
    await store.saveAdapter({ name, model: state.model.name, method: s.method, step, settings: s },
      store.filesForEngine(f.config, f.weights));
    adapterStatus(`Saved “${name}” in this browser.`);
    await renderSaved();
  } catch (e) {
    adapterStatus('Saving failed: ' + e.message, true);
  }
}

let lastURLs = null;

async function downloadFiles() {
  try {
    const f = await exportFiles();
    if (lastURLs) { URL.revokeObjectURL(lastURLs.config); URL.revokeObjectURL(lastURLs.weights); }
    lastURLs = store.blobURLs(f.config, f.weights);
    const [cn, wn] = f.names;
    $('dl-config').href = lastURLs.config;
    $('dl-config').download = cn;
    $('dl-config').textContent = cn;
    $('dl-weights').href = lastURLs.weights;
    $('dl-weights').download = wn;
    $('dl-weights').textContent = wn;
    $('download-links').hidden = false;
    store.download(lastURLs.config, cn);
    // a short pause: some browsers drop a second download started in the same task
    await new Promise((r) => setTimeout(r, 300));
    store.download(lastURLs.weights, wn);
    state.downloads++;
    const full = cn === 'config.json';
    adapterStatus(`Downloaded ${cn} and ${wn} (${store.formatBytes(f.weights.byteLength)}). ` + (full
      ? 'Full fine-tuning changes every weight, so this is a whole checkpoint: put the two files in a folder with the model’s vocab.json and merges.txt and pass it as --model.'
      : 'Keep them in one folder and pass it as --adapter.'));
  } catch (e) {
    adapterStatus('Download failed: ' + e.message, true);
  }
}

async function importFiles(config, weights, label, step = null) {
  const res = await engine.call('importAdapter', { files: store.filesForEngine(config, weights) });
  state.stepOffset = step;
  state.setup = res;
  const cfg = JSON.parse(config);
  const m = String(res.method || cfg.peft_type || 'hut').toLowerCase();
  const r = document.querySelector(`input[name="method"][value="${CSS.escape(m)}"]`);
  if (r) r.checked = true;
  if (cfg.r) $('rank').value = cfg.r;
  state.setupSettings = { ...settings(), method: m, r: Number(cfg.r) || Number($('rank').value) };
  // the engine trains an imported adapter on the schedule of its last setup
  state.totalSteps = Number(res.steps) || state.setupSettings.steps;
  if (Number(res.lr) > 0) state.setupSettings.lr = Number(res.lr);
  resetRun();
  state.stepOffset = step;
  renderTargets();
  fillInspectChoices();
  setPhase('paused');
  adapterStatus(`Loaded ${label}. “Try the model” and the teaching view now use it; “Resume” trains it further.`);
  await inspectNow();
  await tryModel({ quiet: true });
}

async function uploadFiles(ev) {
  try {
    const { config, weights } = await store.readUploads(ev.target.files);
    await importFiles(config, weights, 'the uploaded adapter');
  } catch (e) {
    adapterStatus('Loading failed: ' + e.message, true);
  } finally {
    ev.target.value = '';
  }
}

async function renderSaved() {
  const tbody = $('saved-table').tBodies[0];
  let list;
  try {
    list = await store.listAdapters();
  } catch (e) {
    tbody.innerHTML = `<tr><td colspan="7">${escapeHTML(e.message)}</td></tr>`;
    return;
  }
  tbody.textContent = '';
  if (!list.length) {
    tbody.innerHTML = '<tr><td colspan="7">None yet.</td></tr>';
    return;
  }
  for (const a of list) {
    const tr = document.createElement('tr');
    for (const c of [a.name, a.model, String(a.method).toUpperCase(), Number.isFinite(a.step) ? String(a.step) : '—', new Date(a.saved).toLocaleString(), store.formatBytes(a.size)]) {
      const td = document.createElement('td'); td.textContent = c; tr.appendChild(td);
    }
    const td = document.createElement('td');
    const load = document.createElement('button');
    load.type = 'button'; load.textContent = 'Load'; load.dataset.id = a.id;
    load.setAttribute('aria-label', `Load ${a.name}`);
    load.disabled = !state.model || a.model !== state.model.name || state.phase === 'running';
    load.title = load.disabled ? 'Pick the same model first, and pause training' : '';
    load.addEventListener('click', async () => {
      try {
        const rec = await store.getAdapter(a.id);
        await importFiles(rec.config, rec.weights, `“${a.name}” from this browser`, Number.isFinite(rec.step) ? rec.step : null);
      } catch (e) { adapterStatus('Loading failed: ' + e.message, true); }
    });
    const del = document.createElement('button');
    del.type = 'button'; del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete ${a.name}`);
    del.addEventListener('click', async () => { await store.deleteAdapter(a.id); renderSaved(); });
    td.append(load, ' ', del);
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
}

// ---- wiring ----

function markDirty() {
  const blurb = METHODS.find((m) => m.id === method());
  $('method-blurb').textContent = blurb ? blurb.blurb : '';
  if (state.setup && state.phase !== 'done') {
    state.dirty = true;
    $('dirty-note').hidden = false;
  }
  clearTimeout(markDirty.t);
  markDirty.t = setTimeout(() => {
    if (state.local && !$('local-panel').hidden) renderLocal();
    if (state.phase !== 'running' && state.phase !== 'loading') refreshEstimates();
  }, 250);
}

function wire() {
  $('setup-form').addEventListener('submit', (e) => e.preventDefault());
  $('compare-form').addEventListener('submit', (e) => e.preventDefault());
  for (const r of document.querySelectorAll('input[name="method"]')) {
    r.addEventListener('change', () => { renderTargets(); markDirty(); });
  }
  $('setup-form').addEventListener('change', (e) => {
    if (e.target.id === 'model' || e.target.closest('#local-panel')) return;
    if (e.target.id === 'backend') { restart(); return; }
    if (e.target.name !== 'method') markDirty();
  });
  $('model').addEventListener('change', () => { loadSelectedModel(); });
  $('train-btn').addEventListener('click', toggleTraining);
  $('reset-btn').addEventListener('click', async () => {
    try { setPhase('loading'); await setupRun(); setPhase('paused'); setStatus('A fresh adapter is attached. Press “Resume” to train it.'); } catch (e) { showError(e, 'Restart failed'); setPhase('ready'); }
  });
  $('try-btn').addEventListener('click', () => tryModel());
  $('mr-sample').addEventListener('change', () => { $('mr').value = $('mr-sample').value; });
  $('inspect-btn').addEventListener('click', inspectNow);
  $('inspect-layer').addEventListener('change', inspectNow);
  $('inspect-module').addEventListener('change', inspectNow);
  $('cmp-btn').addEventListener('click', startCompare);
  $('cmp-stop').addEventListener('click', () => { stopCompare(); $('cmp-status').textContent = 'Stopped; the two engines are freed.'; });
  $('save-btn').addEventListener('click', saveInBrowser);
  $('download-btn').addEventListener('click', downloadFiles);
  $('upload').addEventListener('change', uploadFiles);
  for (const id of ['local-files', 'local-dir']) {
    $(id).addEventListener('change', async (ev) => {
      try {
        await inspectLocal(ev.target.files);
      } catch (e) {
        showError(e, 'Reading your files failed');
      } finally {
        ev.target.value = '';
      }
    });
  }
  if (!('webkitdirectory' in HTMLInputElement.prototype)) $('local-dir-label').hidden = true;
  $('local-load').addEventListener('click', () => { loadLocalModel(); });
}

async function restart() {
  if (await startEngine()) await loadSelectedModel();
}

// A read-only window for tests and the curious (the console): the state and
// a way to check that the canvases are drawn.
window.hutDemo = {
  state,
  training: () => loopActive,
  ink: (id) => inkFraction($(id)),
  settings,
  heap: () => engine.call('heap'),
};

function drawPlaceholders() {
  for (const id of ['hm-a', 'hm-b', 'hm-w0', 'hm-wp', 'hm-dw']) drawHeatmap($(id), []);
  for (const id of ['sc-main', 'sc-delta', 'cmp-sc-hut', 'cmp-sc-lora']) drawScatter($(id), [], []);
}

async function main() {
  prefillFromURL();
  drawPlaceholders();
  wire();
  setPhase('loading');
  const blurb = METHODS.find((m) => m.id === method());
  $('method-blurb').textContent = blurb ? blurb.blurb : '';
  renderSaved();
  await loadModelList();
  const ok = await startEngine();
  if (!ok) return;
  await loadSelectedModel();
  renderSaved();
}

main().catch((e) => { showError(e, 'The page failed to start'); setPhase('error'); });
