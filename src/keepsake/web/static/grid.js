/* The photo grid shared by the timeline, albums and the trash: justified rows of
   thumbnails, selection of many, and what can be done to a selection. */
(function () {
  'use strict';

  const GAP = 4;
  // Layout clamps very wide or tall images; the thumbnail is cropped to fit (object-fit).
  const MIN_ASPECT = 0.5;
  const MAX_ASPECT = 2.6;
  // Average aspect of a library of mostly 4:3 landscape with some portraits, for the height
  // of months not loaded yet.
  const TYPICAL_ASPECT = 1.3;
  const DAY_GAP = 16; // between two days that share a row
  const DAY_LABEL = 28; // the strip above a row where days begin

  const dayFormat = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
  const momentFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });

  /** The capture's wall-clock time, as a Date whose UTC fields read that local time. */
  function localDate(item) {
    return new Date(Date.parse(item.taken_at) + (item.taken_at_offset_minutes || 0) * 60000);
  }

  function dayKey(item) {
    return localDate(item).toISOString().slice(0, 10);
  }

  function monthKey(item) {
    return localDate(item).toISOString().slice(0, 7);
  }

  function dayLabel(item) {
    return dayFormat.format(localDate(item));
  }

  function aspect(item) {
    const a = item.width && item.height ? item.width / item.height : TYPICAL_ASPECT;
    return Math.min(MAX_ASPECT, Math.max(MIN_ASPECT, a));
  }

  function rowTarget(width) {
    if (width < 520) return 112;
    if (width < 960) return 150;
    return 190;
  }

  /** Justified rows: each full row exactly `width` wide, as close to `target` high as the
      photos allow; the last row keeps the target height. `gaps[i]` is the space before
      photo i when it is not first in its row (wider between days). Returns the boxes and
      the rows as [start, end, height]. */
  function justify(aspects, width, target, gaps) {
    const boxes = new Array(aspects.length);
    const rows = [];
    let start = 0;
    let sum = 0;
    let spacing = 0;
    const gapBefore = (i) => (gaps ? gaps[i] : GAP);
    const place = (end, h, full) => {
      let x = 0;
      for (let i = start; i < end; i++) {
        if (i > start) x += gapBefore(i);
        let w = Math.floor(aspects[i] * h);
        if (full && i === end - 1) w = width - x;
        boxes[i] = { x, w, h: Math.round(h) };
        x += w;
      }
      rows.push([start, end, Math.round(h)]);
      start = end;
      sum = 0;
      spacing = 0;
    };
    for (let i = 0; i < aspects.length; i++) {
      if (i > start) spacing += gapBefore(i);
      sum += aspects[i];
      const h = (width - spacing) / sum;
      if (h <= target) place(i + 1, h, true);
    }
    if (start < aspects.length) place(aspects.length, target, false);
    return { boxes, rows };
  }

  function position(el, x, y, w, h) {
    const s = el.style;
    s.left = `${x}px`;
    s.top = `${y}px`;
    s.width = `${w}px`;
    s.height = `${h}px`;
  }

  /** Height a month of `count` photos will roughly take, before they are loaded. */
  function estimateHeight(count, width) {
    if (count <= 0) return 0;
    const target = rowTarget(width);
    const perRow = Math.max(1, (width + GAP) / (target * TYPICAL_ASPECT + DAY_GAP));
    const rows = Math.ceil(count / perRow);
    return rows * (target + GAP + DAY_LABEL);
  }

  /** Photos of several days in one justified flow (days share rows, as in a photo
      album); each day's label sits above its first photo. `entries` are in order:
      {item, el, label} with `label` set on the first photo of a day. */
  function layoutDays(container, entries, width) {
    const gaps = entries.map((e) => (e.label ? DAY_GAP : GAP));
    const { boxes, rows } = justify(entries.map((e) => aspect(e.item)), width, rowTarget(width), gaps);
    let y = 0;
    for (const [start, end, h] of rows) {
      const labelled = entries.slice(start, end).some((e) => e.label);
      const top = y + (labelled ? DAY_LABEL : 0);
      for (let i = start; i < end; i++) {
        const b = boxes[i];
        position(entries[i].el, b.x, top, b.w, b.h);
        if (entries[i].label) {
          let j = i + 1;
          while (j < end && !entries[j].label) j++;
          const right = boxes[j - 1].x + boxes[j - 1].w;
          position(entries[i].label, b.x, y, right - b.x, DAY_LABEL);
        }
      }
      y = top + h + GAP;
    }
    container.style.height = `${Math.max(0, y - GAP)}px`;
  }

  function describeItem(item) {
    return `${item.original_filename}, ${momentFormat.format(localDate(item))}`;
  }

  function thumbnail(item) {
    const img = document.createElement('img');
    img.alt = '';
    img.decoding = 'async';
    img.loading = 'lazy';
    img.draggable = false;
    let tries = 0;
    img.addEventListener('error', () => {
      // The thumbnail is made in the background right after an upload; look again soon.
      const tile = img.closest('.tile');
      if (tile) tile.classList.add('tile-missing');
      if (tries < 3) {
        tries += 1;
        setTimeout(() => {
          img.src = `/api/assets/${item.id}/thumbnail?try=${tries}`;
        }, 3000 * tries);
      }
    });
    img.addEventListener('load', () => {
      const tile = img.closest('.tile');
      if (tile) tile.classList.remove('tile-missing');
    });
    img.src = `/api/assets/${item.id}/thumbnail`;
    return img;
  }

  function tile(item, collection, selection) {
    const el = document.createElement('div');
    el.className = 'tile';
    el.dataset.id = item.id;
    const link = document.createElement('a');
    link.className = 'tile-link';
    link.href = `/photos/${item.id}?in=${encodeURIComponent(collection)}`;
    link.setAttribute('aria-label', describeItem(item));
    link.append(thumbnail(item));
    const name = document.createElement('span');
    name.className = 'tile-name';
    name.textContent = item.original_filename;
    link.append(name);
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.className = 'tile-check';
    check.setAttribute('aria-label', `Select ${item.original_filename}`);
    el.append(link, check);
    if (item.is_favorite) el.append(KS.icon('star', 'tile-star'));
    if (selection) selection.bindTile(el, item);
    return el;
  }

  function setFavoriteBadge(el, on) {
    const star = el.querySelector('.tile-star');
    if (on && !star) el.append(KS.icon('star', 'tile-star'));
    if (!on && star) star.remove();
  }

  /** Position the tiles of one list (an album, the trash) in justified rows. */
  function layout(tilesEl, items, width) {
    const { boxes, rows } = justify(items.map(aspect), width, rowTarget(width));
    const children = tilesEl.children;
    let y = 0;
    for (const [start, end, h] of rows) {
      for (let i = start; i < end && i < children.length; i++) {
        position(children[i], boxes[i].x, y, boxes[i].w, boxes[i].h);
      }
      y += h + GAP;
    }
    tilesEl.style.height = `${Math.max(0, y - GAP)}px`;
  }

  /** What is selected, the bar that shows it, and the actions on it. */
  class Selection {
    constructor(bar, orderedIds) {
      this.bar = bar;
      this.ids = new Set();
      this.items = new Map();
      this.orderedIds = orderedIds;
      this.last = null;
      this.count = bar.querySelector('#selection-count');
      bar.querySelector('[data-action="clear"]').addEventListener('click', () => this.clear());
      document.addEventListener('keydown', (event) => {
        if (event.key === 'Escape' && this.ids.size && !document.querySelector('dialog[open]')) {
          this.clear();
        }
      });
    }

    bindTile(el, item) {
      this.items.set(item.id, item);
      const check = el.querySelector('.tile-check');
      const link = el.querySelector('.tile-link');
      if (this.ids.has(item.id)) {
        check.checked = true;
        el.classList.add('selected');
      }
      check.addEventListener('click', (event) => {
        this.toggle(item.id, check.checked, event.shiftKey);
      });
      link.addEventListener('click', (event) => {
        if (this.ids.size || event.shiftKey) {
          event.preventDefault();
          this.toggle(item.id, !this.ids.has(item.id), event.shiftKey);
          return;
        }
        // The viewer's Esc comes back here with the browser's Back (and scroll position).
        sessionStorage.setItem('ks-return', location.pathname + location.search);
      });
      link.addEventListener('keydown', (event) => {
        if (event.key === 'x' || event.key === 'X') {
          event.preventDefault();
          this.toggle(item.id, !this.ids.has(item.id), event.shiftKey);
        }
      });
    }

    toggle(id, on, range) {
      const ids = [id];
      if (range && this.last && this.orderedIds) {
        const order = this.orderedIds();
        const a = order.indexOf(this.last);
        const b = order.indexOf(id);
        if (a >= 0 && b >= 0) ids.push(...order.slice(Math.min(a, b), Math.max(a, b) + 1));
      }
      for (const x of ids) {
        if (on) this.ids.add(x);
        else this.ids.delete(x);
      }
      this.last = id;
      this.render();
    }

    clear() {
      this.ids.clear();
      this.last = null;
      this.render();
    }

    forget(ids) {
      for (const id of ids) {
        this.ids.delete(id);
        this.items.delete(id);
      }
      this.render();
    }

    selected() {
      return [...this.ids];
    }

    render() {
      const n = this.ids.size;
      this.bar.hidden = n === 0;
      document.body.classList.toggle('selecting', n > 0);
      this.count.textContent = `${KS.plural(n, 'photo')} selected`;
      for (const el of document.querySelectorAll('.tile')) {
        const on = this.ids.has(el.dataset.id);
        el.classList.toggle('selected', on);
        const check = el.querySelector('.tile-check');
        if (check) check.checked = on;
      }
      const favorite = this.bar.querySelector('[data-action="favorite"] span');
      if (favorite) {
        const all = n > 0 && this.selected().every((id) => (this.items.get(id) || {}).is_favorite);
        favorite.textContent = all ? 'Unfavourite' : 'Favourite';
      }
      const cover = this.bar.querySelector('[data-action="cover"]');
      if (cover) cover.disabled = n !== 1;
    }

    on(action, handler) {
      const button = this.bar.querySelector(`[data-action="${action}"]`);
      if (button) button.addEventListener('click', () => handler(this.selected()));
    }
  }

  /** Run `work` over `items`, a few at a time. */
  async function pool(items, limit, work) {
    const queue = [...items];
    const runners = Array.from({ length: Math.min(limit, queue.length) }, async () => {
      while (queue.length) await work(queue.shift());
    });
    await Promise.all(runners);
  }

  // --- actions on a selection -------------------------------------------------------

  async function favorite(selection, ids) {
    const on = !ids.every((id) => (selection.items.get(id) || {}).is_favorite);
    let failed = 0;
    await pool(ids, 4, async (id) => {
      try {
        await KS.api('PATCH', `/api/assets/${id}`, { is_favorite: on });
        const item = selection.items.get(id);
        if (item) item.is_favorite = on;
        for (const el of document.querySelectorAll(`.tile[data-id="${id}"]`)) setFavoriteBadge(el, on);
      } catch (err) {
        failed += 1;
      }
    });
    selection.render();
    if (failed) KS.toast(`${KS.plural(failed, 'photo')} could not be changed. Try again.`, { error: true });
    else KS.toast(on ? `Added ${KS.plural(ids.length, 'photo')} to favourites` : `Removed ${KS.plural(ids.length, 'photo')} from favourites`);
  }

  function download(ids) {
    // One original per click: the browser may ask once whether this site may download
    // several files.
    ids.forEach((id, i) => {
      setTimeout(() => {
        const a = document.createElement('a');
        a.href = `/api/assets/${id}/original`;
        a.download = '';
        document.body.append(a);
        a.click();
        a.remove();
      }, i * 400);
    });
    KS.toast(`Downloading ${KS.plural(ids.length, 'original')}`);
  }

  async function trash(ids) {
    // How long the trash keeps photos is the server's setting, given by the page.
    const holder = document.querySelector('[data-retention-days]');
    const days = holder ? Number(holder.dataset.retentionDays) : 0;
    const ok = await KS.confirm(
      `Delete ${KS.plural(ids.length, 'photo')}?`,
      days
        ? `They go to the trash, where you can restore them for the next ${KS.plural(days, 'day')}.`
        : 'They go to the trash, where you can restore them for a while.',
      'Move to trash',
    );
    if (!ok) return false;
    await KS.api('POST', '/api/assets/trash', { ids });
    KS.toast(`Moved ${KS.plural(ids.length, 'photo')} to the trash`, {
      action: {
        label: 'Undo',
        run: async () => {
          try {
            await KS.api('POST', '/api/trash/restore', { ids });
            location.reload();
          } catch (err) {
            KS.toast(KS.describe(err), { error: true });
          }
        },
      },
    });
    return true;
  }

  /** A grid of one list loaded at once (an album, the trash). */
  class ListGrid {
    constructor(root, selection) {
      this.root = root;
      this.selection = selection;
      this.items = [];
      this.collection = root.dataset.collection;
      this.tiles = document.createElement('div');
      this.tiles.className = 'tiles';
      this.tiles.setAttribute('role', 'list');
      this.tiles.setAttribute('aria-label', 'Photos');
      root.append(this.tiles);
      this.width = 0;
      new ResizeObserver(() => {
        if (root.clientWidth !== this.width) this.layout();
      }).observe(root);
    }

    async load(extract) {
      this.root.setAttribute('aria-busy', 'true');
      try {
        const data = await KS.api('GET', this.root.dataset.source);
        this.set(extract ? extract(data) : data);
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      } finally {
        this.root.setAttribute('aria-busy', 'false');
      }
    }

    set(items) {
      this.items = items;
      this.tiles.replaceChildren(
        ...items.map((item) => {
          const el = tile(item, this.collection, this.selection);
          el.setAttribute('role', 'listitem');
          return el;
        }),
      );
      this.layout();
    }

    remove(ids) {
      const gone = new Set(ids);
      this.items = this.items.filter((item) => !gone.has(item.id));
      for (const el of [...this.tiles.children]) if (gone.has(el.dataset.id)) el.remove();
      if (this.selection) this.selection.forget(ids);
      this.layout();
    }

    orderedIds() {
      return this.items.map((item) => item.id);
    }

    layout() {
      this.width = this.root.clientWidth;
      layout(this.tiles, this.items, this.width);
    }
  }

  window.KS.grid = {
    GAP, justify, layout, layoutDays, estimateHeight, rowTarget, aspect, tile, localDate, dayKey, monthKey,
    dayLabel, Selection, ListGrid, favorite, download, trash, pool,
  };
})();
