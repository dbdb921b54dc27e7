/* Uploads: files or whole folders, dropped or chosen, sent over the resumable tus 1.0
   endpoint at /api/uploads by a small client written for it. An upload's URL is kept in
   localStorage until it finishes, so after a dropped connection, a closed tab or a
   reload, the same file continues from the last byte the server has. */
(function () {
  'use strict';

  const zone = document.getElementById('drop-zone');
  if (!zone) return;
  const TUS = '1.0.0';
  const CHUNK = 16 * 1024 * 1024;
  const PARALLEL = 3;
  const RETRY_DELAYS = [1000, 3000, 8000];
  // Answers after which the same request may work: the connection, the server, a busy
  // moment, a chunk damaged on the way (460), an offset out of step (409).
  const RETRYABLE = new Set([0, 409, 423, 429, 460, 500, 502, 503, 504]);

  const list = document.getElementById('upload-list');
  const summary = document.getElementById('upload-summary');
  const overall = document.getElementById('overall-progress');
  const overallText = document.getElementById('overall-text');
  const doneBox = document.getElementById('upload-done');
  const template = document.getElementById('upload-item');

  const uploads = [];
  const queue = [];
  // Resume key -> the upload in this page that holds it until it has finished: a second
  // file that happens to share the key (the same folder dropped twice, two cards' DCIM
  // folders) uploads on its own instead of writing into the first file's upload.
  const claimed = new Map();
  let running = 0;

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function b64(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary);
  }

  class TransferError extends Error {
    constructor(message, retry, status) {
      super(message);
      this.retry = retry;
      this.status = status;
    }
  }

  /** One HTTP request with upload progress (fetch has none). */
  function send(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (onProgress && xhr.upload) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
      xhr.addEventListener('load', () => resolve(xhr));
      xhr.addEventListener('error', () => reject(new TransferError('The connection dropped.', true, 0)));
      xhr.addEventListener('abort', () => reject(new TransferError('The upload was stopped.', true, 0)));
      xhr.send(body === undefined ? null : body);
    });
  }

  function failure(xhr) {
    let detail = `The server answered ${xhr.status}.`;
    try {
      const problem = JSON.parse(xhr.responseText);
      detail = problem.detail || problem.title || detail;
    } catch (_) {
      /* not a problem document */
    }
    if (xhr.status === 401) detail = 'You were logged out. Log in again and drop the files once more; they continue where they stopped.';
    return new TransferError(detail, RETRYABLE.has(xhr.status), xhr.status);
  }

  class Upload {
    constructor(file, path) {
      this.file = file;
      this.path = path || file.name;
      this.sent = 0;
      this.state = 'queued';
      this.el = template.content.firstElementChild.cloneNode(true);
      this.el.querySelector('.name').textContent = this.path;
      this.el.querySelector('.size').textContent = KS.formatBytes(file.size);
      this.bar = this.el.querySelector('progress');
      this.bar.setAttribute('aria-label', `Upload of ${this.path}`);
      this.status = this.el.querySelector('.upload-status');
      this.retryButton = this.el.querySelector('.retry');
      this.retryButton.setAttribute('aria-label', `Try ${this.path} again`);
      this.retryButton.addEventListener('click', () => {
        this.retryButton.hidden = true;
        this.set('queued', 'Waiting');
        enqueue(this);
      });
      // Where the file sat in what was dropped or chosen is part of the key: two folders
      // can each hold an IMG_0001.jpg of the same size and time.
      this.fingerprint = `ks-tus:${this.path}:${file.size}:${file.lastModified}`;
      this.remembers = false;
    }

    set(state, text) {
      this.state = state;
      this.el.dataset.state = state;
      this.status.textContent = text;
    }

    progress(bytes) {
      this.sent = Math.min(bytes, this.file.size);
      this.bar.value = this.file.size ? (100 * this.sent) / this.file.size : 100;
      updateOverall();
    }

    async run() {
      this.set('uploading', 'Uploading');
      // Only the first of the files sharing a key may resume from it or remember itself;
      // it keeps the key through a failure, so that its retry can resume.
      if (!claimed.has(this.fingerprint)) claimed.set(this.fingerprint, this);
      this.remembers = claimed.get(this.fingerprint) === this;
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await this.transfer();
          this.finish(result);
          return;
        } catch (err) {
          if (err instanceof TransferError && err.retry && attempt < RETRY_DELAYS.length) {
            this.set('uploading', `${err.message} Trying again (${attempt + 1} of ${RETRY_DELAYS.length})…`);
            await sleep(RETRY_DELAYS[attempt]);
            continue;
          }
          this.fail(err);
          return;
        }
      }
    }

    /** The address of this file's unfinished upload, when this file may use it. */
    remembered() {
      return this.remembers ? localStorage.getItem(this.fingerprint) : null;
    }

    remember(url) {
      if (this.remembers) localStorage.setItem(this.fingerprint, url);
    }

    forget() {
      if (this.remembers) localStorage.removeItem(this.fingerprint);
    }

    /** Where the server's copy ends, or null when it has none (finished or expired). */
    async offsetAt(url) {
      const xhr = await send('HEAD', url, { 'Tus-Resumable': TUS });
      if (xhr.status === 200) return Number(xhr.getResponseHeader('Upload-Offset'));
      if (xhr.status === 404 || xhr.status === 410) return null;
      throw failure(xhr);
    }

    async create() {
      const meta = [`filename ${b64(this.file.name)}`];
      if (this.file.lastModified) meta.push(`mtime ${b64(new Date(this.file.lastModified).toISOString())}`);
      const xhr = await send('POST', '/api/uploads', {
        'Tus-Resumable': TUS,
        'Upload-Length': String(this.file.size),
        'Upload-Metadata': meta.join(','),
        'X-CSRF-Token': KS.csrfToken(),
      });
      if (xhr.status !== 201) throw failure(xhr);
      return xhr.getResponseHeader('Location');
    }

    async transfer() {
      let url = this.remembered();
      let offset = url ? await this.offsetAt(url) : null;
      if (offset === null) {
        url = await this.create();
        offset = 0;
        this.remember(url);
      } else if (offset > 0) {
        this.set('uploading', `Resuming at ${KS.formatBytes(offset)}`);
      }
      this.progress(offset);
      for (;;) {
        const end = Math.min(this.file.size, offset + CHUNK);
        const start = offset;
        const xhr = await send(
          'PATCH',
          url,
          {
            'Tus-Resumable': TUS,
            'Upload-Offset': String(start),
            'Content-Type': 'application/offset+octet-stream',
            'X-CSRF-Token': KS.csrfToken(),
          },
          this.file.slice(start, end),
          (loaded) => this.progress(start + loaded),
        );
        if (xhr.status === 404) {
          // Expired on the server: start again from the first byte.
          this.forget();
          throw new TransferError('The server forgot this upload.', true, 404);
        }
        if (xhr.status !== 204) {
          if (!RETRYABLE.has(xhr.status)) this.forget();
          throw failure(xhr);
        }
        offset = Number(xhr.getResponseHeader('Upload-Offset'));
        this.progress(offset);
        const assetId = xhr.getResponseHeader('Keepsake-Asset-Id');
        if (assetId) {
          this.forget();
          return { assetId, duplicate: xhr.getResponseHeader('Keepsake-Duplicate') === 'true' };
        }
        if (offset >= this.file.size) throw new TransferError('The server did not confirm the upload.', true, 0);
      }
    }

    link(text, assetId) {
      const a = document.createElement('a');
      a.href = `/photos/${assetId}`;
      a.textContent = text;
      a.setAttribute('aria-label', `${text}: ${this.path}`);
      return a;
    }

    finish(result) {
      if (this.remembers) claimed.delete(this.fingerprint);
      this.remembers = false;
      this.progress(this.file.size);
      if (result.duplicate) {
        this.set('duplicate', 'Already in your library. ');
      } else {
        this.set('done', 'Uploaded. ');
      }
      this.status.append(this.link('View', result.assetId));
      updateOverall();
    }

    fail(err) {
      const text = err instanceof TransferError ? err.message : KS.describe(err);
      this.set('error', `Not uploaded: ${text}`);
      this.retryButton.hidden = !(err instanceof TransferError && (err.retry || err.status === 404));
      this.sent = 0;
      updateOverall();
    }
  }

  function updateOverall() {
    const total = uploads.reduce((n, u) => n + u.file.size, 0);
    const sent = uploads.reduce((n, u) => n + (u.state === 'error' ? u.file.size : u.sent), 0);
    const count = (state) => uploads.filter((u) => u.state === state).length;
    const finished = count('done') + count('duplicate') + count('error');
    overall.value = total ? (100 * sent) / total : (finished === uploads.length ? 100 : 0);
    const parts = [`${finished} of ${KS.plural(uploads.length, 'file')} finished`];
    if (total) parts.push(`${KS.formatBytes(Math.min(sent, total))} of ${KS.formatBytes(total)}`);
    const counts = [];
    if (count('done')) counts.push(`${count('done')} uploaded`);
    if (count('duplicate')) counts.push(`${count('duplicate')} already in your library`);
    if (count('error')) counts.push(`${count('error')} failed`);
    overallText.textContent = parts.join(' · ') + (counts.length ? ` — ${counts.join(', ')}` : '');
    const allDone = finished === uploads.length && uploads.length > 0;
    doneBox.hidden = !(allDone && count('done') + count('duplicate') > 0);
    summary.dataset.state = allDone ? 'finished' : 'running';
  }

  function beforeUnload(event) {
    event.preventDefault();
    event.returnValue = '';
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const upload = queue.shift();
      running += 1;
      if (running === 1) window.addEventListener('beforeunload', beforeUnload);
      upload.run().finally(() => {
        running -= 1;
        if (running === 0 && !queue.length) window.removeEventListener('beforeunload', beforeUnload);
        pump();
      });
    }
  }

  function enqueue(upload) {
    queue.push(upload);
    pump();
  }

  function add(entries) {
    if (!entries.length) return;
    summary.hidden = false;
    for (const { file, path, error } of entries) {
      const upload = new Upload(file || new File([], path.split('/').pop()), path);
      uploads.push(upload);
      list.append(upload.el);
      if (error) upload.fail(new Error(error));
      else enqueue(upload);
    }
    updateOverall();
  }

  // --- choosing and dropping ----------------------------------------------------------

  function readAll(reader) {
    return new Promise((resolve, reject) => {
      const all = [];
      const next = () => reader.readEntries((batch) => {
        if (!batch.length) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
      next();
    });
  }

  /** Files under `entry`; one that cannot be read (moved, no permission) is listed with
      its error, and the rest of its folder is still read. */
  async function walk(entry, prefix, out) {
    const path = prefix + entry.name;
    if (entry.isFile) {
      if (prefix && entry.name.startsWith('.')) return; // .DS_Store and friends in folders
      try {
        out.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path });
      } catch (err) {
        out.push({ file: null, path, error: `the file could not be read (${KS.describe(err)})` });
      }
    } else if (entry.isDirectory) {
      let children;
      try {
        children = await readAll(entry.createReader());
      } catch (err) {
        out.push({ file: null, path: `${path}/`, error: `the folder could not be read (${KS.describe(err)})` });
        return;
      }
      for (const child of children) await walk(child, `${path}/`, out);
    }
  }

  async function fromDrop(dataTransfer) {
    // Entries must be taken while the drop event runs; the folders are read afterwards.
    const items = [...(dataTransfer.items || [])].filter((item) => item.kind === 'file');
    const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    const files = [...dataTransfer.files];
    if (!entries.length || entries.some((e) => !e)) return files.map((file) => ({ file, path: file.name }));
    const out = [];
    for (const entry of entries) {
      try {
        await walk(entry, '', out);
      } catch (err) {
        KS.toast(`${entry.name} could not be read: ${KS.describe(err)}`, { error: true });
      }
    }
    return out;
  }

  let depth = 0;
  document.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth += 1;
    zone.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', async (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    if (event.dataTransfer) add(await fromDrop(event.dataTransfer));
  });

  for (const id of ['file-input', 'folder-input']) {
    const input = document.getElementById(id);
    input.addEventListener('change', () => {
      add([...input.files].filter((f) => !(id === 'folder-input' && f.name.startsWith('.')))
        .map((file) => ({ file, path: file.webkitRelativePath || file.name })));
      input.value = '';
    });
  }
})();
