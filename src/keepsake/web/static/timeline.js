/* The timeline: one section per month (the server renders them empty, with their photo
   counts), filled from /api/timeline in cursor pages as they come near the screen; days
   inside a month as justified rows; a date scrubber and a "Jump to" list. */
(function () {
  'use strict';

  const root = document.getElementById('timeline');
  if (!root) return;
  performance.mark('ks-timeline-start');
  const G = KS.grid;
  const pageSize = Number(root.dataset.pageSize) || 200;
  const favorites = root.dataset.favorites === 'true';
  const collection = root.dataset.collection;
  const HOUR = 3600 * 1000;
  // Local capture months are asked for with UTC bounds widened by the largest UTC offset,
  // then filtered here: a photo shot at 00:30 on 1 June in Berlin is 31 May in UTC.
  const MAX_OFFSET = 14 * HOUR;
  const AHEAD = 1500; // px beyond the screen that are loaded before they scroll into view
  const IN_FLIGHT = 3;
  const MONTH_HEADING = 56; // the month's title, with its margins

  let width = root.clientWidth;
  const months = [];
  const bySection = new Map();
  const selection = new G.Selection(document.getElementById('selection-bar'), orderedIds);
  const jump = document.getElementById('jump');

  class Month {
    constructor(el) {
      this.el = el;
      this.key = el.dataset.month;
      this.count = Number(el.dataset.count);
      this.flow = el.querySelector('.days');
      this.pending = el.querySelector('.pending');
      this.heading = el.querySelector('.month-title');
      this.items = [];
      this.entries = [];
      this.tiles = new Map();
      this.labels = new Map();
      this.cursor = null;
      this.done = false;
      this.loading = false;
      this.failedAt = 0;
      this.flowHeight = 0;
      this.pendingHeight = 0;
      const [y, m] = this.key.split('-').map(Number);
      this.from = new Date(Date.UTC(y, m - 1, 1) - MAX_OFFSET).toISOString();
      this.to = new Date(Date.UTC(y, m, 1) + MAX_OFFSET).toISOString();
      this.estimate();
    }

    estimate() {
      const left = this.done ? 0 : Math.max(1, this.count - this.items.length);
      this.pendingHeight = left ? G.estimateHeight(left, width) : 0;
      this.pending.style.height = `${this.pendingHeight}px`;
      // Months off screen are not laid out (content-visibility: auto); until a month has
      // been shown once, this is the height it takes.
      this.el.style.containIntrinsicSize = `auto ${MONTH_HEADING + this.flowHeight + this.pendingHeight}px`;
    }

    seed(page) {
      this.append(page.items.filter((item) => G.monthKey(item) === this.key));
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.estimate();
    }

    async loadMore() {
      if (this.loading || this.done) return;
      this.loading = true;
      this.el.setAttribute('aria-busy', 'true');
      const params = new URLSearchParams({ limit: String(pageSize), taken_from: this.from, taken_to: this.to });
      if (favorites) params.set('favorites', 'true');
      if (this.cursor) params.set('cursor', this.cursor);
      try {
        const page = await KS.api('GET', `/api/timeline?${params}`);
        this.append(page.items.filter((item) => G.monthKey(item) === this.key));
        this.cursor = page.next_cursor;
        this.done = !page.next_cursor;
      } catch (err) {
        this.failedAt = Date.now();
        KS.toast(`Photos of ${this.heading.textContent} could not be loaded: ${KS.describe(err)}`, { error: true });
      } finally {
        this.loading = false;
        this.el.setAttribute('aria-busy', 'false');
        this.estimate();
      }
    }

    /** Add a page of photos: days stay together, newest first, whatever order pages
        bring them in; tiles are made once and kept. */
    append(items) {
      for (const item of items) {
        const el = G.tile(item, collection, selection);
        this.tiles.set(item.id, el);
        this.items.push(item);
      }
      const day = new Map(this.items.map((item) => [item.id, G.dayKey(item)]));
      this.items.sort((a, b) => (day.get(a.id) < day.get(b.id) ? 1 : day.get(a.id) > day.get(b.id) ? -1 : 0));
      this.entries = [];
      const order = [];
      let previous = null;
      for (const item of this.items) {
        const key = day.get(item.id);
        let label = null;
        if (key !== previous) {
          label = this.labels.get(key);
          if (!label) {
            label = document.createElement('h3');
            label.className = 'day-title';
            label.textContent = G.dayLabel(item);
            this.labels.set(key, label);
          }
          order.push(label);
          previous = key;
        }
        const el = this.tiles.get(item.id);
        order.push(el);
        this.entries.push({ item, el, label });
      }
      const shown = new Set(day.values());
      for (const [key, label] of this.labels) {
        if (!shown.has(key)) {
          label.remove();
          this.labels.delete(key);
        }
      }
      // Reading order follows the screen: labels and tiles in the order they are shown.
      this.flow.append(...order);
      this.relayout();
    }

    relayout() {
      this.flowHeight = G.layoutDays(this.flow, this.entries, width);
      this.estimate();
    }

    remove(gone) {
      const before = this.items.length;
      for (const id of gone) {
        const el = this.tiles.get(id);
        if (el) {
          el.remove();
          this.tiles.delete(id);
        }
      }
      const kept = this.items.filter((item) => !gone.has(item.id));
      const removed = before - kept.length;
      if (!removed) return 0;
      this.items = [];
      for (const label of this.labels.values()) label.remove();
      this.labels.clear();
      for (const el of this.tiles.values()) el.remove();
      this.tiles.clear();
      this.append(kept);
      this.count -= removed;
      this.el.dataset.count = String(this.count);
      if (this.count <= 0 && this.done) this.el.hidden = true;
      return removed;
    }

    top() {
      return this.el.getBoundingClientRect().top + window.scrollY;
    }
  }

  function orderedIds() {
    const ids = [];
    for (const m of months) for (const item of m.items) ids.push(item.id);
    return ids;
  }

  // The sections and the "Jump to" list, from the months the server counted.
  const monthName = new Intl.DateTimeFormat('en-GB', { month: 'long', timeZone: 'UTC' });
  {
    const sections = [];
    let group = null;
    for (const token of (root.dataset.months || '').split(',').filter(Boolean)) {
      const [key, count] = token.split(':');
      const [y, mo] = key.split('-').map(Number);
      const label = `${monthName.format(new Date(Date.UTC(y, mo - 1, 1)))} ${y}`;
      const el = document.createElement('section');
      el.className = 'month';
      el.id = `m-${key}`;
      el.dataset.month = key;
      el.dataset.count = count;
      el.setAttribute('aria-labelledby', `h-${key}`);
      const heading = document.createElement('h2');
      heading.className = 'month-title';
      heading.id = `h-${key}`;
      heading.tabIndex = -1;
      heading.textContent = label;
      const days = document.createElement('div');
      days.className = 'days';
      const pending = document.createElement('div');
      pending.className = 'pending';
      pending.setAttribute('aria-hidden', 'true');
      el.append(heading, days, pending);
      sections.push(el);
      if (jump) {
        if (!group || group.label !== String(y)) {
          group = document.createElement('optgroup');
          group.label = String(y);
          jump.append(group);
        }
        group.append(new Option(label, key));
      }
    }
    root.append(...sections);
    for (const el of sections) {
      const m = new Month(el);
      months.push(m);
      bySection.set(m.el, m);
    }
  }

  // The newest month's first page came with the page: no round trip for the first screen.
  if (months.length && root.dataset.firstPage) {
    try {
      months[0].seed(JSON.parse(root.dataset.firstPage));
    } catch (_) {
      /* then it is fetched like any other month */
    }
  }

  // --- loading what comes near the screen -------------------------------------------

  const wanted = new Set();
  let inFlight = 0;

  /** How far the part of a month still to load is from the screen (0: on it). Measured
      on the section, which is always laid out, not on its contents, which may not be. */
  function distance(m) {
    const r = m.el.getBoundingClientRect();
    const top = r.bottom - m.pendingHeight;
    if (r.bottom < 0) return -r.bottom;
    if (top > innerHeight) return top - innerHeight;
    return 0;
  }

  // Until the first screen's thumbnails are in, only months on screen load: photos further
  // down would compete with them for the connection and the server.
  let settled = false;
  function settle() {
    if (settled) return;
    settled = true;
    pump();
  }
  setTimeout(settle, 2000);

  function visibleImagesLoaded() {
    const imgs = [...root.querySelectorAll('.tile img')].filter((img) => {
      const r = img.getBoundingClientRect();
      return r.bottom > 0 && r.top < innerHeight;
    });
    return Promise.all(imgs.map((img) => (img.complete ? null : new Promise((done) => {
      img.addEventListener('load', done, { once: true });
      img.addEventListener('error', done, { once: true });
    }))));
  }

  function pump() {
    const reach = settled ? AHEAD : 0;
    while (inFlight < IN_FLIGHT) {
      const now = Date.now();
      const ready = [...wanted].filter((m) => !m.loading && !m.done && now - m.failedAt > 10000 && distance(m) <= reach);
      if (!ready.length) break;
      ready.sort((a, b) => distance(a) - distance(b));
      const m = ready[0];
      inFlight += 1;
      m.loadMore().finally(() => {
        inFlight -= 1;
        if (m.done) {
          wanted.delete(m);
          observer.unobserve(m.el);
        }
        scheduleScrubber();
        pump();
      });
    }
    if (!settled && inFlight === 0) visibleImagesLoaded().then(settle);
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const m = bySection.get(entry.target);
      if (!m) continue;
      if (entry.isIntersecting) wanted.add(m);
      else wanted.delete(m);
    }
    pump();
  }, { rootMargin: `${AHEAD}px 0px` });

  // --- the date scrubber and "Jump to" ----------------------------------------------

  const scrubber = document.getElementById('scrubber');
  const thumb = document.getElementById('scrubber-thumb');
  const label = document.getElementById('scrubber-label');
  const yearLabels = [];
  {
    let year = null;
    for (const m of months) {
      const y = m.key.slice(0, 4);
      if (y === year) continue;
      year = y;
      const el = document.createElement('div');
      el.className = 'scrubber-year';
      el.textContent = y;
      scrubber.append(el);
      yearLabels.push({ el, month: m });
    }
  }

  function scrollRange() {
    return Math.max(1, document.documentElement.scrollHeight - innerHeight);
  }

  function currentMonth(atY) {
    const y = (atY === undefined ? window.scrollY : atY) + 80;
    let current = months[0];
    for (const m of months) {
      if (m.el.hidden) continue;
      if (m.top() <= y) current = m;
      else break;
    }
    return current;
  }

  let scrubberQueued = false;
  function scheduleScrubber() {
    if (scrubberQueued) return;
    scrubberQueued = true;
    requestAnimationFrame(() => {
      scrubberQueued = false;
      layoutScrubber();
    });
  }

  function layoutScrubber() {
    // All reads first, then all writes: one layout, not one per year.
    const range = scrollRange();
    const railHeight = scrubber.clientHeight;
    const scrollable = document.documentElement.scrollHeight > innerHeight * 1.5;
    const tops = yearLabels.map(({ month }) => Math.min(1, month.top() / range) * (railHeight - 16));
    const thumbTop = Math.min(1, window.scrollY / range) * (railHeight - 4);
    scrubber.hidden = !scrollable;
    if (!scrollable) return;
    let lastShown = -Infinity;
    yearLabels.forEach(({ el }, i) => {
      el.style.top = `${tops[i]}px`;
      const show = tops[i] - lastShown >= 18;
      el.classList.toggle('scrubber-year-hidden', !show);
      if (show) lastShown = tops[i];
    });
    thumb.style.top = `${thumbTop}px`;
  }

  function scrubTo(clientY) {
    const rect = scrubber.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (clientY - rect.top) / rect.height));
    const target = fraction * scrollRange();
    window.scrollTo(0, target);
    // The month named is the one at the top of the screen at the rail's top, sliding to
    // the bottom of the screen at the rail's bottom: the oldest month is reachable.
    const m = currentMonth(target + fraction * (innerHeight - 160));
    label.textContent = m ? m.heading.textContent : '';
    label.style.top = `${clientY - rect.top}px`;
  }

  scrubber.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    scrubber.setPointerCapture(event.pointerId);
    scrubber.classList.add('scrubbing');
    scrubTo(event.clientY);
  });
  scrubber.addEventListener('pointermove', (event) => {
    if (scrubber.hasPointerCapture(event.pointerId)) scrubTo(event.clientY);
  });
  const endScrub = () => scrubber.classList.remove('scrubbing');
  scrubber.addEventListener('pointerup', endScrub);
  scrubber.addEventListener('pointercancel', endScrub);

  function jumpTo(key, offset) {
    const m = months.find((x) => x.key === key);
    if (!m) return;
    window.scrollTo(0, m.top() - headerHeight() + (offset || 0));
    if (offset === undefined) m.heading.focus({ preventScroll: true });
  }

  function headerHeight() {
    const bar = document.querySelector('.topbar');
    return bar ? bar.getBoundingClientRect().height : 0;
  }

  if (jump) {
    jump.addEventListener('change', () => jumpTo(jump.value));
  }

  let scrollQueued = false;
  window.addEventListener('scroll', () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      layoutScrubber();
      const m = currentMonth();
      if (jump && m && jump.value !== m.key) jump.value = m.key;
      pump();
    });
  }, { passive: true });

  new ResizeObserver(() => {
    if (root.clientWidth === width) return;
    width = root.clientWidth;
    for (const m of months) m.relayout();
    scheduleScrubber();
  }).observe(root);

  // --- arrow keys between photos ------------------------------------------------------

  root.addEventListener('keydown', (event) => {
    const link = event.target instanceof Element ? event.target.closest('.tile-link') : null;
    if (!link || !['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(event.key)) return;
    const links = [...root.querySelectorAll('.tile-link')];
    const i = links.indexOf(link);
    let next = null;
    if (event.key === 'ArrowRight') next = links[i + 1];
    else if (event.key === 'ArrowLeft') next = links[i - 1];
    else {
      const here = link.getBoundingClientRect();
      const cx = here.left + here.width / 2;
      const down = event.key === 'ArrowDown';
      let best = null;
      let bestScore = Infinity;
      for (const other of links) {
        const r = other.getBoundingClientRect();
        const dy = down ? r.top - here.bottom : here.top - r.bottom;
        if (dy < 0) continue;
        const score = dy * 4 + Math.abs(r.left + r.width / 2 - cx);
        if (score < bestScore) {
          bestScore = score;
          best = other;
        }
      }
      next = best;
    }
    if (next) {
      event.preventDefault();
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    }
  });

  // --- actions on the selection -------------------------------------------------------

  selection.on('favorite', (ids) => G.favorite(selection, ids));
  selection.on('album', (ids) => addToAlbum(ids));
  selection.on('download', (ids) => G.download(ids));
  selection.on('share', (ids) => shareAsAlbum(ids));
  selection.on('trash', async (ids) => {
    try {
      if (!(await G.trash(ids))) return;
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
      return;
    }
    const gone = new Set(ids);
    for (const m of months) m.remove(gone);
    selection.forget(ids);
    scheduleScrubber();
  });

  /** "Add to album": one of my albums, a new one, or an album someone shares with me as a
      contributor (the photos stay mine; the album's members see them). */
  async function addToAlbum(ids) {
    const dialog = document.getElementById('album-dialog');
    const form = document.getElementById('album-form');
    const choices = document.getElementById('album-choices');
    const newName = document.getElementById('album-new-name');
    const newRadio = document.getElementById('album-new');
    const error = document.getElementById('album-error');
    if (!dialog || !ids.length) return;
    error.textContent = '';
    choices.replaceChildren();
    newName.value = '';
    dialog.showModal();
    const targets = new Map();
    const [mine, shared] = await Promise.all([
      KS.api('GET', '/api/albums').catch((err) => {
        error.textContent = KS.describe(err);
        return [];
      }),
      // Only albums I may add to: viewers cannot.
      KS.api('GET', '/api/shared/albums')
        .then((albums) => albums.filter((a) => a.role === 'contributor'))
        .catch(() => []),
    ]);
    function choice(key, text) {
      const row = document.createElement('div');
      row.className = 'choice';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'album';
      input.value = key;
      input.id = `album-${key.replace(':', '-')}`;
      const label = document.createElement('label');
      label.htmlFor = input.id;
      label.textContent = text;
      row.append(input, label);
      return row;
    }
    for (const album of mine) {
      targets.set(album.id, { name: album.name, post: `/api/albums/${album.id}/assets`, page: `/albums/${album.id}` });
      choices.append(choice(album.id, `${album.name} (${KS.plural(album.asset_count, 'photo')})`));
    }
    for (const album of shared) {
      const key = `shared:${album.id}`;
      targets.set(key, {
        name: album.name,
        post: `/api/shared/albums/${album.id}/assets`,
        page: `/shared/albums/${album.id}`,
      });
      choices.append(choice(key, `${album.name} (shared by ${album.owner.display_name})`));
    }
    const first = choices.querySelector('input');
    (first || newRadio).checked = true;
    (first || newName).focus();
    newName.oninput = () => { newRadio.checked = true; };

    form.onsubmit = async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      const picked = form.querySelector('input[name="album"]:checked');
      let target = picked ? targets.get(picked.value) : null;
      try {
        if (!target) {
          const name = newName.value.trim();
          if (!name) {
            error.textContent = 'Name the new album.';
            newName.focus();
            return;
          }
          const created = await KS.api('POST', '/api/albums', { name });
          target = { name, post: `/api/albums/${created.id}/assets`, page: `/albums/${created.id}` };
        }
        const result = await KS.api('POST', target.post, { ids });
        dialog.close('ok');
        const added = result ? result.count : ids.length;
        const where = target;
        KS.toast(`Added ${KS.plural(added, 'photo')} to ${where.name}`, {
          action: { label: 'Open album', run: () => location.assign(where.page) },
        });
      } catch (err) {
        error.textContent = KS.describe(err);
      }
    };
  }

  /** "Share": the selection becomes a new album, whose page opens with its share dialog. */
  function shareAsAlbum(ids) {
    const dialog = document.getElementById('share-new-dialog');
    const form = document.getElementById('share-new-form');
    const name = document.getElementById('share-new-name');
    const error = document.getElementById('share-new-error');
    if (!dialog || !ids.length) return;
    error.textContent = '';
    name.value = '';
    dialog.showModal();
    name.focus();
    form.onsubmit = async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      if (!name.value.trim()) {
        error.textContent = 'Give the new album a name.';
        name.focus();
        return;
      }
      try {
        const album = await KS.api('POST', '/api/albums', { name: name.value.trim() });
        await KS.api('POST', `/api/albums/${album.id}/assets`, { ids });
        location.assign(`/albums/${album.id}?share=1`);
      } catch (err) {
        error.textContent = KS.describe(err);
      }
    };
  }

  // --- back from the viewer: the same place ------------------------------------------

  const positionKey = `ks-position:${location.pathname}`;
  history.scrollRestoration = 'manual';
  window.addEventListener('pagehide', () => {
    const m = currentMonth();
    if (m) sessionStorage.setItem(positionKey, JSON.stringify({ key: m.key, offset: window.scrollY - m.top() + headerHeight() }));
  });
  const navigation = performance.getEntriesByType('navigation')[0];
  const saved = sessionStorage.getItem(positionKey);
  if (saved && navigation && navigation.type === 'back_forward') {
    try {
      const { key, offset } = JSON.parse(saved);
      jumpTo(key, offset);
    } catch (_) {
      /* a damaged note is no reason to fail */
    }
  }

  for (const m of months) observer.observe(m.el);
  layoutScrubber();
  performance.mark('ks-timeline-ready');
})();
