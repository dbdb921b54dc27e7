/* The photo viewer: arrows walk the list the photo was opened from (each step replaces
   this history entry, so Back and Esc return to the grid at once), zoom and pan, the
   details panel, favourite, download and trash; the people in the photo (name, correct,
   "not them") and drawing a face detection missed, by mouse or keyboard. */
(function () {
  'use strict';

  const viewer = document.getElementById('viewer');
  if (!viewer) return;
  const d = viewer.dataset;
  const stage = document.getElementById('stage');
  const photo = document.getElementById('photo');
  const frame = document.getElementById('frame');
  const message = document.getElementById('stage-message');
  const zoomLevel = document.getElementById('zoom-level');
  const info = document.getElementById('info');
  const infoToggle = document.getElementById('info-toggle');
  const ZOOMS = [1, 1.5, 2, 3, 4, 6];

  // --- leaving ------------------------------------------------------------------------

  function go(id) {
    if (id) location.replace(`/photos/${id}?in=${encodeURIComponent(d.within)}`);
  }

  function close() {
    // Opened from the grid: Back restores it where it was. Otherwise go to the list.
    if (sessionStorage.getItem('ks-return') === d.back && history.length > 1) {
      sessionStorage.removeItem('ks-return');
      history.back();
    } else {
      location.assign(d.back);
    }
  }

  document.getElementById('viewer-close').addEventListener('click', (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    close();
  });
  for (const [id, target] of [['newer', d.newer], ['older', d.older]]) {
    const link = document.getElementById(id);
    if (link) {
      link.addEventListener('click', (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        go(target);
      });
    }
  }

  // --- the image ------------------------------------------------------------------------

  let triedOriginal = false;
  photo.addEventListener('error', () => {
    if (!triedOriginal && d.displayable === 'true') {
      // The preview is made in the background after an upload; the original will do.
      triedOriginal = true;
      photo.src = d.original;
      return;
    }
    message.hidden = false;
    message.textContent = 'The preview is not ready yet. It is being made; reload in a moment, or download the original.';
  });

  // The neighbours' previews, fetched once this one is shown, make the arrows feel instant
  // (previews are immutable, so the browser keeps them).
  function warmNeighbours() {
    for (const id of [d.older, d.newer]) {
      if (id) new Image().src = `/api/assets/${id}/preview`;
    }
  }
  if (photo.complete) warmNeighbours();
  else photo.addEventListener('load', warmNeighbours, { once: true });

  // --- zoom and pan -------------------------------------------------------------------

  let zoom = 1;
  let sharpRequested = false;
  let panX = 0;
  let panY = 0;

  function apply() {
    if (zoom === 1) {
      panX = 0;
      panY = 0;
    }
    const maxX = (frame.clientWidth * (zoom - 1)) / 2;
    const maxY = (frame.clientHeight * (zoom - 1)) / 2;
    panX = Math.max(-maxX, Math.min(maxX, panX));
    panY = Math.max(-maxY, Math.min(maxY, panY));
    frame.style.transform = zoom === 1 ? '' : `translate(${panX}px, ${panY}px) scale(${zoom})`;
    stage.classList.toggle('zoomed', zoom > 1);
    zoomLevel.textContent = `${Math.round(zoom * 100)}%`;
    if (zoom > 1.5 && d.displayable === 'true' && !sharpRequested) {
      sharpRequested = true;
      // Past the preview's own resolution, show the original's pixels.
      const sharp = new Image();
      sharp.addEventListener('load', () => { photo.src = d.original; });
      sharp.src = d.original;
    }
  }

  function setZoom(next) {
    zoom = Math.max(ZOOMS[0], Math.min(ZOOMS[ZOOMS.length - 1], next));
    apply();
  }

  function step(direction) {
    const i = ZOOMS.findIndex((z) => z >= zoom - 0.01);
    const index = direction > 0 ? Math.min(ZOOMS.length - 1, (ZOOMS[i] > zoom + 0.01 ? i : i + 1)) : Math.max(0, i - 1);
    setZoom(ZOOMS[index]);
  }

  document.getElementById('zoom-in').addEventListener('click', () => step(1));
  document.getElementById('zoom-out').addEventListener('click', () => step(-1));
  frame.addEventListener('dblclick', () => {
    if (!stage.classList.contains('drawing')) setZoom(zoom > 1 ? 1 : 2);
  });
  stage.addEventListener('wheel', (event) => {
    event.preventDefault();
    setZoom(zoom * (event.deltaY < 0 ? 1.2 : 1 / 1.2));
  }, { passive: false });

  let drag = null;
  stage.addEventListener('pointerdown', (event) => {
    if (event.target instanceof Element && event.target.closest('a, button')) return;
    drag = { x: event.clientX, y: event.clientY, panX, panY, moved: false };
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (zoom > 1) {
      panX = drag.panX + dx;
      panY = drag.panY + dy;
      apply();
    }
  });
  stage.addEventListener('pointerup', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    // A swipe on a touch screen walks to the next photo when not zoomed in.
    if (zoom === 1 && event.pointerType !== 'mouse' && Math.abs(dx) > 60) go(dx < 0 ? d.older : d.newer);
    drag = null;
  });
  stage.addEventListener('pointercancel', () => { drag = null; });

  // --- fitting the photo, face boxes ----------------------------------------------------

  // The frame takes the photo's own shape, as large as the stage allows, so face boxes
  // (in the photo's pixels) can be placed in percent and zoom with it.
  const naturalW = Number(photo.getAttribute('width')) || 0;
  const naturalH = Number(photo.getAttribute('height')) || 0;
  function fit() {
    const w = naturalW || photo.naturalWidth;
    const h = naturalH || photo.naturalHeight;
    if (!w || !h) return;
    const scale = Math.min(stage.clientWidth / w, stage.clientHeight / h, naturalW ? Infinity : 1);
    frame.style.width = `${Math.floor(w * scale)}px`;
    frame.style.height = `${Math.floor(h * scale)}px`;
  }
  fit();
  photo.addEventListener('load', fit);
  new ResizeObserver(fit).observe(stage);

  const boxes = document.getElementById('face-boxes');
  const items = [...document.querySelectorAll('.face-item')];

  // Names for the "Who is this?" fields: the user's people (only asked for when faces are on).
  let people = [];
  if (document.getElementById('people-names')) {
    KS.api('GET', '/api/people?include_hidden=true').then((list) => {
      people = list;
      document.getElementById('people-names').replaceChildren(...list.filter((p) => p.name).map((p) => {
        const option = document.createElement('option');
        option.value = p.name;
        return option;
      }));
    }).catch(() => { /* names are a convenience; typing still works */ });
  }

  function reloadWith(message) {
    sessionStorage.setItem('ks-flash', message);
    location.replace(location.href);
  }

  /** Name a face: an existing person by that name gets it; a face of an unnamed group names
      the whole group; otherwise the face goes to a new person of that name. */
  async function nameFace(item, name) {
    const same = people.find((p) => p.name && p.name.toLowerCase() === name.toLowerCase());
    if (same) {
      await KS.api('PUT', `/api/faces/${item.dataset.face}/person`, { person_id: same.id });
    } else if (item.dataset.person && !item.dataset.name) {
      await KS.api('PATCH', `/api/people/${item.dataset.person}`, { name });
    } else {
      await KS.api('PUT', `/api/faces/${item.dataset.face}/person`, { name });
    }
  }

  for (const item of items) {
    const [x1, y1, x2, y2] = item.dataset.box.split(',').map(Number);
    if (!naturalW || !naturalH) break;
    const box = document.createElement('div');
    box.className = 'face-box';
    box.style.left = `${(100 * x1) / naturalW}%`;
    box.style.top = `${(100 * y1) / naturalH}%`;
    box.style.width = `${(100 * (x2 - x1)) / naturalW}%`;
    box.style.height = `${(100 * (y2 - y1)) / naturalH}%`;
    const label = document.createElement('span');
    label.textContent = item.dataset.name || '?';
    box.append(label);
    boxes.append(box);
    const highlight = (on) => box.classList.toggle('face-box-active', on);
    item.addEventListener('mouseenter', () => highlight(true));
    item.addEventListener('mouseleave', () => highlight(false));
    item.addEventListener('focusin', () => highlight(true));
    item.addEventListener('focusout', () => highlight(false));
  }

  for (const item of items) {
    const form = item.querySelector('.name-face');
    const input = form.elements.namedItem('name');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        KS.toast('Type a name first.', { error: true });
        input.focus();
        return;
      }
      try {
        await nameFace(item, name);
        reloadWith(`Saved: this is ${name}.`);
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
    const change = item.querySelector('[data-change]');
    if (change) {
      change.addEventListener('click', () => {
        form.hidden = !form.hidden;
        change.setAttribute('aria-expanded', form.hidden ? 'false' : 'true');
        if (!form.hidden) input.focus();
      });
    }
    const not = item.querySelector('[data-not]');
    if (not) {
      not.addEventListener('click', async () => {
        try {
          await KS.api('DELETE', `/api/people/${not.dataset.not}/faces/${item.dataset.face}`);
          reloadWith(`Noted: not ${item.dataset.name}.`);
        } catch (err) {
          KS.toast(KS.describe(err), { error: true });
        }
      });
    }
  }

  // --- drawing a face detection missed ----------------------------------------------------

  // The box is kept in fractions of the photo, so it follows the zoom and the window size;
  // it is sent in the photo's pixels. Mouse or touch: drag over the face. Keyboard: the box
  // starts in the middle; arrows move it, Shift and arrows resize it, Enter saves.
  const drawButton = document.getElementById('draw-face');
  const layer = document.getElementById('draw-layer');
  const draft = document.getElementById('draft-box');
  const panel = document.getElementById('new-face');
  let drawing = false;
  let rect = null;
  const MIN = 0.02; // the smallest box: 2% of the photo's side
  const STEP = 0.01;

  function placeDraft() {
    draft.style.left = `${rect.x * 100}%`;
    draft.style.top = `${rect.y * 100}%`;
    draft.style.width = `${rect.w * 100}%`;
    draft.style.height = `${rect.h * 100}%`;
    const pct = (v) => Math.round(v * 100);
    document.getElementById('draw-where').textContent =
      `Box ${pct(rect.x)}% from the left, ${pct(rect.y)}% from the top, ${pct(rect.w)}% wide, ${pct(rect.h)}% high.`;
  }

  function setDrawing(on) {
    drawing = on;
    stage.classList.toggle('drawing', on);
    panel.hidden = !on;
    draft.hidden = !on;
    drawButton.setAttribute('aria-expanded', on ? 'true' : 'false');
    if (on) {
      if (zoom > 1) setZoom(1);
      const side = 0.25 * Math.min(1, naturalH / naturalW);
      rect = { x: 0.5 - side / 2, y: 0.5 - (side * naturalW / naturalH) / 2, w: side, h: (side * naturalW) / naturalH };
      placeDraft();
      document.getElementById('new-face-error').textContent = '';
      draft.focus();
    } else {
      drawButton.focus();
    }
  }

  if (drawButton && layer && naturalW && naturalH) {
    drawButton.addEventListener('click', () => setDrawing(!drawing));
    document.getElementById('new-face-cancel').addEventListener('click', () => setDrawing(false));

    let start = null;
    const at = (event) => {
      const r = layer.getBoundingClientRect();
      return {
        x: Math.max(0, Math.min(1, (event.clientX - r.left) / r.width)),
        y: Math.max(0, Math.min(1, (event.clientY - r.top) / r.height)),
      };
    };
    layer.addEventListener('pointerdown', (event) => {
      if (!drawing) return;
      event.stopPropagation(); // not a pan or a swipe
      event.preventDefault();
      start = at(event);
      layer.setPointerCapture(event.pointerId);
    });
    layer.addEventListener('pointermove', (event) => {
      if (!start) return;
      const p = at(event);
      const next = { x: Math.min(start.x, p.x), y: Math.min(start.y, p.y), w: Math.abs(p.x - start.x), h: Math.abs(p.y - start.y) };
      if (next.w >= MIN / 2 && next.h >= MIN / 2) {
        rect = next;
        placeDraft();
      }
    });
    const finish = () => {
      if (!start) return;
      start = null;
      rect.w = Math.max(rect.w, MIN);
      rect.h = Math.max(rect.h, MIN);
      placeDraft();
      document.getElementById('new-face-name').focus();
    };
    layer.addEventListener('pointerup', finish);
    layer.addEventListener('pointercancel', finish);

    draft.addEventListener('keydown', (event) => {
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (event.key === 'Escape') {
        event.preventDefault();
        setDrawing(false);
        return;
      }
      if (event.key === 'Enter') {
        event.preventDefault();
        document.getElementById('new-face-form').requestSubmit();
        return;
      }
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      const [dx, dy] = move;
      if (event.shiftKey) {
        rect.w = Math.max(MIN, Math.min(1 - rect.x, rect.w + dx * STEP));
        rect.h = Math.max(MIN, Math.min(1 - rect.y, rect.h + dy * STEP));
      } else {
        rect.x = Math.max(0, Math.min(1 - rect.w, rect.x + dx * STEP));
        rect.y = Math.max(0, Math.min(1 - rect.h, rect.y + dy * STEP));
      }
      placeDraft();
    });

    document.getElementById('new-face-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = document.getElementById('new-face-name').value.trim();
      const box = {
        x1: Math.round(rect.x * naturalW),
        y1: Math.round(rect.y * naturalH),
        x2: Math.round(Math.min(1, rect.x + rect.w) * naturalW),
        y2: Math.round(Math.min(1, rect.y + rect.h) * naturalH),
      };
      const body = { box };
      const same = name && people.find((p) => p.name && p.name.toLowerCase() === name.toLowerCase());
      if (same) body.person_id = same.id;
      else if (name) body.name = name;
      try {
        await KS.api('POST', `/api/assets/${d.asset}/faces`, body);
        reloadWith(name ? `Face added: ${name}.` : 'Face added.');
      } catch (err) {
        document.getElementById('new-face-error').textContent = KS.describe(err);
      }
    });
  }

  const flash = sessionStorage.getItem('ks-flash');
  if (flash) {
    sessionStorage.removeItem('ks-flash');
    KS.toast(flash);
  }

  // --- details panel ------------------------------------------------------------------

  function showInfo(on) {
    info.hidden = !on;
    infoToggle.setAttribute('aria-expanded', on ? 'true' : 'false');
    localStorage.setItem('ks-viewer-info', on ? '1' : '0');
  }
  const narrow = window.matchMedia('(max-width: 760px)').matches;
  showInfo(localStorage.getItem('ks-viewer-info') === '1' || (!narrow && localStorage.getItem('ks-viewer-info') !== '0'));
  infoToggle.addEventListener('click', () => showInfo(info.hidden));

  // --- favourite, trash, restore ------------------------------------------------------

  const favorite = document.getElementById('favorite');
  async function toggleFavorite() {
    if (!favorite) return;
    const on = favorite.getAttribute('aria-pressed') !== 'true';
    try {
      await KS.api('PATCH', `/api/assets/${d.asset}`, { is_favorite: on });
      favorite.setAttribute('aria-pressed', on ? 'true' : 'false');
      KS.toast(on ? 'Added to favourites' : 'Removed from favourites');
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  }
  if (favorite) favorite.addEventListener('click', toggleFavorite);

  const trash = document.getElementById('trash');
  async function moveToTrash() {
    if (!trash) return;
    // How long the trash keeps photos is the server's setting, given by the page.
    const days = Number(d.retentionDays) || 0;
    const ok = await KS.confirm(
      'Delete this photo?',
      days
        ? `It goes to the trash, where you can restore it for the next ${KS.plural(days, 'day')}.`
        : 'It goes to the trash, where you can restore it for a while.',
      'Move to trash',
    );
    if (!ok) return;
    try {
      await KS.api('DELETE', `/api/assets/${d.asset}`);
      if (d.older || d.newer) go(d.older || d.newer);
      else close();
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  }
  if (trash) trash.addEventListener('click', moveToTrash);

  const restore = document.getElementById('restore');
  if (restore) {
    restore.addEventListener('click', async () => {
      try {
        await KS.api('POST', '/api/trash/restore', { ids: [d.asset] });
        KS.toast('Restored to your library');
        if (d.older || d.newer) go(d.older || d.newer);
        else close();
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  // --- keys -----------------------------------------------------------------------------

  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (document.querySelector('dialog[open]')) return;
    if (stage.classList.contains('drawing')) return; // the draft box has its own keys
    const t = event.target;
    if (t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName))) return;
    switch (event.key) {
      case 'ArrowLeft':
        go(d.newer);
        break;
      case 'ArrowRight':
        go(d.older);
        break;
      case 'Escape':
        if (zoom > 1) setZoom(1);
        else close();
        break;
      case '+':
      case '=':
        step(1);
        break;
      case '-':
      case '_':
        step(-1);
        break;
      case '0':
        setZoom(1);
        break;
      case 'i':
      case 'I':
        showInfo(info.hidden);
        break;
      case 'f':
      case 'F':
        toggleFavorite();
        break;
      case 'Delete':
        moveToTrash();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
