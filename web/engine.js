// Engine: the page's handle on one training worker (worker.js), one engine
// instance. Every call returns a Promise; progress and error events from the
// engine reach the onProgress / onError callbacks.

export class Engine {
  constructor(name, { onProgress, onError } = {}) {
    this.name = name;
    this.worker = new Worker('/worker.js', { name: 'hut-' + name });
    this.nextId = 1;
    this.pending = new Map();
    this.queue = Promise.resolve();
    this.onProgress = onProgress || (() => {});
    this.onError = onError || (() => {});
    this.dead = null;
    this.worker.onmessage = (ev) => this.receive(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.fail(new Error('the worker failed: ' + (ev.message || 'script error (is /worker.js served?)')));
    };
    this.worker.onmessageerror = () => this.fail(new Error('a message from the worker could not be read'));
  }

  receive(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'answer') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    } else if (msg.type === 'hut-progress') {
      this.onProgress(msg);
    } else if (msg.type === 'hut-error') {
      this.onError(new Error(msg.message));
    }
  }

  fail(err) {
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.onError(err);
  }

  // call runs one engine operation. Calls are queued: the engine runs one
  // at a time (a "try" during training waits for the current step).
  call(op, args = {}, transfer = []) {
    const run = () => {
      if (this.dead) return Promise.reject(this.dead);
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.worker.postMessage({ id, op, args }, transfer);
      });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  // loadModelFiles is hut.loadModel({files, name}) for a checkpoint the
  // page has read from the user's files (name → ArrayBuffer). The buffers
  // are transferred to the worker, not copied: after the call they are
  // detached here (byteLength 0), so a 500 MB file is not held twice.
  loadModelFiles(files, name) {
    const transfer = [];
    for (const v of Object.values(files)) {
      if (v instanceof ArrayBuffer && !transfer.includes(v)) transfer.push(v);
    }
    return this.call('loadModel', { files, name }, transfer);
  }

  // stop asks a running hut.step to return after its current step. It
  // bypasses the queue (that is the point) and never rejects.
  stop() {
    if (this.dead) return Promise.resolve(null);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, reject: () => resolve(null) });
      this.worker.postMessage({ id, op: 'stop', args: {} });
    });
  }

  terminate() {
    this.worker.terminate();
    this.fail(new Error('stopped'));
  }
}

// Tasks by model architecture: the tiny GPT-2 learns E2E data-to-text, the
// tiny RoBERTa SST-2 sentiment.
export const TASKS = {
  gpt2: {
    task: 'e2e', title: 'E2E data-to-text (restaurant descriptions)',
    trainUrl: '/data/e2e/train.csv', devUrl: '/data/e2e/dev.csv',
    metricName: 'validation loss', lowerIsBetter: true,
    modules: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'],
    defaults: { hut: ['c_attn', 'attn.c_proj', 'c_fc', 'mlp.c_proj'], hira: ['c_attn'], lora: ['c_attn'], full: [] },
  },
  roberta: {
    task: 'sst2', title: 'SST-2 sentiment (movie review sentences)',
    trainUrl: '/data/glue/sst2/train.tsv', devUrl: '/data/glue/sst2/dev.tsv',
    metricName: 'validation accuracy', lowerIsBetter: false,
    modules: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
    defaults: {
      hut: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'],
      hira: ['query', 'value'], lora: ['query', 'value'], full: [],
    },
  },
};

export const METHODS = [
  { id: 'hut', name: 'HUT', blurb: "W′ = diag(a)·W0·diag(b): scales W0's rows and columns" },
  { id: 'hira', name: 'HiRA', blurb: 'W′ = W0 ⊙ (1 + B·A): a low-rank Hadamard update' },
  { id: 'lora', name: 'LoRA', blurb: 'W′ = W0 + (α/r)·B·A: an additive low-rank update' },
  { id: 'full', name: 'Full', blurb: 'every weight trains: the reference ceiling' },
];
