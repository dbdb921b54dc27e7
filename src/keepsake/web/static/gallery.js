/* A read-only gallery of shared photos: justified rows of thumbnails (grid.js's layout) and
   a photo view in a dialog, with the keyboard throughout (arrows between photos, Esc to
   close). The link page, a shared album and the partners' photos use it; each page says
   where a photo's files are and what may be told about it. */
(function () {
  'use strict';

  const G = KS.grid;
  const moment = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC',
  });

  /** When the photo was taken, in its own wall-clock time. */
  function taken(item) {
    return moment.format(G.localDate(item));
  }

  function clickDownload(url) {
    const a = document.createElement('a');
    a.href = url;
    a.download = '';
    document.body.append(a);
    a.click();
    a.remove();
  }

  /** One photo at a time in the page's #photo-view dialog (_photo_view.html), read-only,
      over a list of items: arrows between them, Esc to close, focus back where it was.
      `opts` as for Gallery, and optionally remove(item) -> a label ("Remove from album")
      when the photo may be taken out, with onRemove(item) doing it (true when done). */
  class PhotoView {
    constructor(opts) {
      this.opts = opts;
      this.items = [];
      this.current = -1;
      this.returnFocus = null;
      this.view = document.getElementById('photo-view');
      if (this.view) this.bind();
    }

    bind() {
      const v = this.view;
      v.querySelector('[data-view="prev"]').addEventListener('click', () => this.step(-1));
      v.querySelector('[data-view="next"]').addEventListener('click', () => this.step(1));
      v.querySelector('[data-view="close"]').addEventListener('click', () => v.close());
      if (this.opts.remove) {
        this.removeButton = document.createElement('button');
        this.removeButton.type = 'button';
        this.removeButton.className = 'button small ghost danger-text';
        this.removeButton.id = 'photo-view-remove';
        this.removeButton.hidden = true;
        this.removeButton.addEventListener('click', () => this.removeCurrent());
        v.querySelector('.photo-view-tools').prepend(this.removeButton);
      }
      v.addEventListener('keydown', (event) => {
        if (event.target instanceof HTMLElement && event.target.matches('input, select, textarea')) return;
        if (event.key === 'ArrowLeft') {
          event.preventDefault();
          this.step(-1);
        } else if (event.key === 'ArrowRight') {
          event.preventDefault();
          this.step(1);
        }
      });
      v.addEventListener('close', () => {
        const index = this.current;
        this.current = -1;
        const target = this.returnFocus ? this.returnFocus(index) : null;
        if (target) target.focus();
      });
    }

    /** Show items[index]; `returnFocus(index)` says what gets the focus after closing. */
    open(items, index, returnFocus) {
      if (!this.view || index < 0 || index >= items.length) return;
      this.items = items;
      this.returnFocus = returnFocus || null;
      this.show(index);
      if (!this.view.open) this.view.showModal();
      this.view.querySelector('[data-view="close"]').focus();
    }

    step(delta) {
      const next = this.current + delta;
      if (next >= 0 && next < this.items.length) this.show(next);
    }

    async removeCurrent() {
      const item = this.items[this.current];
      if (!item || !(await this.opts.onRemove(item))) return;
      // The list lost the photo: show the one that took its place, or close.
      if (!this.items.length) this.view.close();
      else this.show(Math.min(this.current, this.items.length - 1));
    }

    show(index) {
      const v = this.view;
      const item = this.items[index];
      const n = this.items.length;
      this.current = index;
      const files = this.opts.files(item);
      const words = this.opts.label(item, index, n);
      v.querySelector('#photo-view-title').textContent = this.opts.title ? this.opts.title(item, index, n) : words;
      v.querySelector('#photo-view-position').textContent = `${index + 1} of ${n}`;
      const img = v.querySelector('#photo-view-img');
      img.alt = words;
      img.src = files.preview;
      const download = v.querySelector('#photo-view-download');
      download.hidden = !files.original;
      if (files.original) download.href = files.original;
      else download.removeAttribute('href');
      if (this.removeButton) {
        const label = this.opts.remove(item);
        this.removeButton.hidden = !label;
        this.removeButton.textContent = label || '';
      }
      v.querySelector('[data-view="prev"]').disabled = index === 0;
      v.querySelector('[data-view="next"]').disabled = index === n - 1;
      const facts = v.querySelector('#photo-view-facts');
      facts.replaceChildren(
        ...this.opts.facts(item).map(([label, value]) => {
          const row = document.createElement('div');
          const dt = document.createElement('dt');
          dt.textContent = label;
          const dd = document.createElement('dd');
          dd.textContent = value;
          row.append(dt, dd);
          return row;
        }),
      );
    }
  }

  /** `opts`: files(item) -> {thumbnail, preview, original (or null)}; label(item, i, n) ->
      the photo in words; facts(item) -> [[label, value]]; badge(item) -> text or null;
      and PhotoView's remove/onRemove where photos may be taken out. */
  class Gallery {
    constructor(root, opts) {
      this.root = root;
      this.opts = opts;
      this.items = [];
      this.tiles = document.createElement('div');
      this.tiles.className = 'tiles';
      this.tiles.setAttribute('role', 'list');
      this.tiles.setAttribute('aria-label', root.dataset.label || 'Photos');
      root.append(this.tiles);
      this.width = 0;
      new ResizeObserver(() => {
        if (root.clientWidth !== this.width) this.layout();
      }).observe(root);
      this.photoView = new PhotoView(opts);
    }

    set(items) {
      this.items = [];
      this.tiles.replaceChildren();
      this.append(items);
    }

    append(items) {
      this.items.push(...items);
      this.tiles.append(...items.map((item) => this.tile(item)));
      this.relabel();
      this.layout();
    }

    /** Take photos out of the gallery (its photo view follows: they share the list). */
    remove(ids) {
      const gone = new Set(ids);
      for (let i = this.items.length - 1; i >= 0; i--) {
        if (gone.has(this.items[i].id)) {
          this.items.splice(i, 1);
          this.tiles.children[i].remove();
        }
      }
      this.relabel();
      this.layout();
    }

    relabel() {
      const n = this.items.length;
      [...this.tiles.children].forEach((el, i) => {
        el.querySelector('.tile-link').setAttribute('aria-label', this.opts.label(this.items[i], i, n));
      });
    }

    tile(item) {
      const el = document.createElement('div');
      el.className = 'tile';
      el.setAttribute('role', 'listitem');
      el.dataset.id = item.id;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'tile-link';
      const img = document.createElement('img');
      img.alt = '';
      img.decoding = 'async';
      img.loading = 'lazy';
      img.draggable = false;
      img.addEventListener('error', () => el.classList.add('tile-missing'));
      img.src = this.opts.files(item).thumbnail;
      button.append(img);
      button.addEventListener('click', () => this.open(this.items.indexOf(item), button));
      el.append(button);
      const badge = this.opts.badge ? this.opts.badge(item) : null;
      if (badge) el.append(ownerBadge(badge));
      return el;
    }

    layout() {
      this.width = this.root.clientWidth;
      G.layout(this.tiles, this.items, this.width);
    }

    /** Original files of all photos, one click each (a browser may ask once). */
    downloadAll() {
      const urls = this.items.map((item) => this.opts.files(item).original).filter(Boolean);
      urls.forEach((url, i) => setTimeout(() => clickDownload(url), i * 400));
      return urls.length;
    }

    open(index, opener) {
      this.photoView.open(this.items, index, (at) => {
        const tile = this.tiles.children[Math.min(at, this.tiles.children.length - 1)];
        return tile ? tile.querySelector('.tile-link') : opener;
      });
    }
  }

  /** Whose photo a tile shows, in a corner (the tile's label says it in words). */
  function ownerBadge(text) {
    const span = document.createElement('span');
    span.className = 'tile-owner';
    span.textContent = text;
    span.setAttribute('aria-hidden', 'true');
    return span;
  }

  /** Camera, lens and place, where the server gave them. */
  function metadataFacts(item) {
    const facts = [];
    if (item.original_filename) facts.push(['File', item.original_filename]);
    const camera = [item.make, item.model].filter(Boolean).join(' ');
    if (camera) facts.push(['Camera', camera]);
    if (item.lens) facts.push(['Lens', item.lens]);
    if (item.latitude != null && item.longitude != null) {
      facts.push(['Place', `${item.latitude.toFixed(5)}, ${item.longitude.toFixed(5)}`]);
    }
    if (item.width && item.height) facts.push(['Size', `${item.width} × ${item.height} pixels`]);
    return facts;
  }

  KS.gallery = { Gallery, PhotoView, ownerBadge, taken, metadataFacts, clickDownload };
})();
