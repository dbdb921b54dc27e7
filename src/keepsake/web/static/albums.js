/* Albums: creating one on the list page; on an album's page its photos (those members
   added shown read-only, through the members' routes), the cover, removing photos, the
   order (by date, or arranged by dragging, the move buttons or Alt+arrow keys), renaming
   and deleting the album. */
(function () {
  'use strict';

  function plural(n) {
    return KS.plural(n, 'photo');
  }

  // --- the list of albums ---------------------------------------------------------------

  const newButton = document.getElementById('new-album');
  if (newButton) {
    const dialog = document.getElementById('new-album-dialog');
    const form = document.getElementById('new-album-form');
    const name = document.getElementById('new-album-name');
    newButton.addEventListener('click', () => {
      name.value = '';
      document.getElementById('new-album-error').textContent = '';
      dialog.showModal();
      name.focus();
    });
    form.addEventListener('submit', async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      if (!name.value.trim()) {
        document.getElementById('new-album-error').textContent = 'Give the album a name.';
        name.focus();
        return;
      }
      try {
        const album = await KS.api('POST', '/api/albums', { name: name.value.trim() });
        location.assign(`/albums/${album.id}`);
      } catch (err) {
        document.getElementById('new-album-error').textContent = KS.describe(err);
      }
    });
  }

  // --- albums others share with me, beside my own ----------------------------------------

  const sharedSection = document.getElementById('shared-albums');
  if (sharedSection) {
    KS.api('GET', '/api/shared/albums').then((albums) => {
      const list = document.getElementById('shared-albums-list');
      list.replaceChildren(...albums.map((album) => {
        const li = document.createElement('li');
        li.className = 'album-card';
        const a = document.createElement('a');
        a.href = `/shared/albums/${album.id}`;
        if (album.cover_asset_id) {
          const img = document.createElement('img');
          img.src = `/api/shared/albums/${album.id}/assets/${album.cover_asset_id}/thumbnail`;
          img.alt = '';
          img.loading = 'lazy';
          a.append(img);
        } else {
          const placeholder = document.createElement('span');
          placeholder.className = 'album-placeholder';
          placeholder.append(KS.icon('album', 'empty-icon'));
          a.append(placeholder);
        }
        const name = document.createElement('span');
        name.className = 'album-name';
        name.textContent = album.name;
        const about = document.createElement('span');
        about.className = 'muted album-count';
        about.textContent = `Shared by ${album.owner.display_name} · ${plural(album.asset_count)}`;
        a.append(name, about);
        li.append(a);
        return li;
      }));
      sharedSection.hidden = albums.length === 0;
    }).catch((err) => KS.toast(`Albums shared with you could not be loaded: ${KS.describe(err)}`, { error: true }));
  }

  // --- one album ------------------------------------------------------------------------

  const root = document.getElementById('album-grid');
  if (!root) return;
  const albumId = root.dataset.album;
  const G = KS.grid;
  let cover = root.dataset.cover;
  let grid = null;
  const shared = `/api/shared/albums/${albumId}/assets`;
  const sharedFiles = (item) => ({
    thumbnail: `${shared}/${item.id}/thumbnail`,
    preview: `${shared}/${item.id}/preview`,
    original: `${shared}/${item.id}/original`,
  });
  const byOthers = () => grid.items.filter((item) => item.owned_by_me === false);
  function addedBy(item) {
    return `${item.original_filename}, ${KS.gallery.taken(item)}, added by ${item.owner.display_name}`;
  }
  // Photos members added are theirs: the library's routes (/api/assets, /photos) serve only
  // mine, so theirs come from the members' routes and open in a read-only view.
  const view = new KS.gallery.PhotoView({
    files: sharedFiles,
    label: (item, i, n) => `${addedBy(item)} (${i + 1} of ${n} added by members)`,
    title: (item) => item.original_filename,
    facts: (item) => [
      ['Taken', KS.gallery.taken(item)],
      ['Added by', item.owner.display_name],
      ...KS.gallery.metadataFacts(item),
    ],
  });

  /** The album's grid, with other members' photos shown through the members' routes;
      every photo, whoever added it, can be moved in the album's order. */
  class AlbumGrid extends G.ListGrid {
    set(items) {
      super.set(items);
      items.forEach((item, i) => {
        if (item.owned_by_me === false) this.theirs(this.tiles.children[i], item);
        arrangeable(this.tiles.children[i], item);
      });
    }

    theirs(el, item) {
      el.classList.add('tile-theirs');
      const link = el.querySelector('.tile-link');
      link.href = sharedFiles(item).preview;
      link.setAttribute('aria-label', addedBy(item));
      const img = document.createElement('img');
      img.alt = '';
      img.decoding = 'async';
      img.loading = 'lazy';
      img.draggable = false;
      img.addEventListener('error', () => el.classList.add('tile-missing'));
      img.src = sharedFiles(item).thumbnail;
      link.querySelector('img').replaceWith(img);
      link.addEventListener('click', (event) => {
        if (event.defaultPrevented || event.shiftKey || event.ctrlKey || event.metaKey) return;
        event.preventDefault();
        const list = byOthers();
        view.open(list, list.indexOf(item), (at) => {
          const next = list[Math.min(at, list.length - 1)];
          const tile = next && root.querySelector(`.tile[data-id="${CSS.escape(next.id)}"] .tile-link`);
          return tile || link;
        });
      });
      el.append(KS.gallery.ownerBadge(item.owner.display_name));
    }
  }

  /** The selection, which also offers to move the one selected photo in the order. */
  class AlbumSelection extends G.Selection {
    render() {
      super.render();
      for (const button of moveButtons) button.hidden = this.ids.size !== 1;
    }
  }

  // --- the order ----------------------------------------------------------------------

  const orderSelect = document.getElementById('album-order');
  const orderStatus = document.getElementById('album-order-status');
  const orderWords = {
    manual: 'your order', oldest_first: 'oldest first', newest_first: 'newest first',
  };
  let saving = Promise.resolve();
  let dragged = null;

  function announce(words) {
    // Emptied first, so that the same words said twice are announced twice.
    orderStatus.textContent = '';
    setTimeout(() => { orderStatus.textContent = words; }, 50);
  }

  function tileOf(id) {
    return root.querySelector(`.tile[data-id="${CSS.escape(id)}"]`);
  }

  function describe(item) {
    return item.owned_by_me === false ? addedBy(item) : item.original_filename;
  }

  /** Move the photo `id` to index `to` of the album, on the page and then on the server
      (the whole order, which makes the album's order manual). Saves go one after another,
      so the last move is the one kept. */
  function move(id, to, { focus = false } = {}) {
    const from = grid.items.findIndex((item) => item.id === id);
    const n = grid.items.length;
    to = Math.max(0, Math.min(n - 1, to));
    if (from < 0 || from === to) {
      if (from >= 0) announce(`${describe(grid.items[from])} is already ${to === 0 ? 'first' : 'last'}.`);
      return;
    }
    const [item] = grid.items.splice(from, 1);
    grid.items.splice(to, 0, item);
    const el = tileOf(id);
    grid.tiles.insertBefore(el, to + 1 < n ? tileOf(grid.items[to + 1].id) : null);
    grid.layout();
    for (const tile of root.querySelectorAll('.tile.just-moved')) tile.classList.remove('just-moved');
    if (focus) {
      el.classList.add('just-moved');
      el.querySelector('.tile-link').focus();
    }
    announce(`${describe(item)} moved to position ${to + 1} of ${n}.`);
    if (orderSelect.value !== 'manual') orderSelect.value = 'manual';
    const ids = grid.orderedIds();
    saving = saving.then(async () => {
      try {
        await KS.api('PUT', `/api/albums/${albumId}/order`, { ids });
      } catch (err) {
        // Most often a member added or took out a photo meanwhile: show the album as it is.
        KS.toast(`The new order could not be saved: ${KS.describe(err)}`, { error: true });
        await reload();
      }
    });
  }

  async function reload() {
    await grid.load((album) => {
      orderSelect.value = album.order;
      return album.assets;
    });
    markCover();
    refreshCount();
  }

  function where(id) {
    return grid.items.findIndex((item) => item.id === id);
  }

  const keyMoves = {
    ArrowLeft: (i) => i - 1,
    ArrowUp: (i) => i - 1,
    ArrowRight: (i) => i + 1,
    ArrowDown: (i) => i + 1,
    Home: () => 0,
    End: () => grid.items.length - 1,
  };

  /** A tile that can be dragged, and moved with Alt+arrows, Alt+Home and Alt+End. */
  function arrangeable(el, item) {
    el.draggable = true;
    const link = el.querySelector('.tile-link');
    link.draggable = false;
    link.setAttribute('aria-describedby', 'album-order-hint');
    link.setAttribute('aria-keyshortcuts', 'Alt+ArrowLeft Alt+ArrowRight Alt+Home Alt+End');
    el.addEventListener('keydown', (event) => {
      const to = keyMoves[event.key];
      if (!to || !event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      move(item.id, to(where(item.id)), { focus: true });
    });
    el.addEventListener('focusout', () => el.classList.remove('just-moved'));
    el.addEventListener('dragstart', (event) => {
      dragged = item.id;
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', item.original_filename || item.id);
      el.classList.add('dragging');
    });
    el.addEventListener('dragend', () => {
      dragged = null;
      el.classList.remove('dragging');
      clearDropMarks();
    });
  }

  function clearDropMarks() {
    for (const tile of root.querySelectorAll('.drop-before, .drop-after')) {
      tile.classList.remove('drop-before', 'drop-after');
    }
  }

  /** The tile under the pointer and whether the dragged photo goes after it. */
  function dropTarget(event) {
    const el = event.target instanceof Element ? event.target.closest('.tile') : null;
    if (!el || !dragged || el.dataset.id === dragged) return null;
    const box = el.getBoundingClientRect();
    return { el, after: event.clientX > box.left + box.width / 2 };
  }

  root.addEventListener('dragover', (event) => {
    if (!dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
    const target = dropTarget(event);
    clearDropMarks();
    if (target) target.el.classList.add(target.after ? 'drop-after' : 'drop-before');
  });
  root.addEventListener('dragleave', (event) => {
    if (!root.contains(event.relatedTarget)) clearDropMarks();
  });
  root.addEventListener('drop', (event) => {
    const target = dropTarget(event);
    clearDropMarks();
    if (!target) return;
    event.preventDefault();
    const from = where(dragged);
    let to = where(target.el.dataset.id) + (target.after ? 1 : 0);
    if (from < to) to -= 1;
    move(dragged, to);
  });

  orderSelect.addEventListener('change', async () => {
    const order = orderSelect.value;
    try {
      await saving;
      await KS.api('PATCH', `/api/albums/${albumId}`, { order });
      await reload();
      announce(`Photos in ${orderWords[order]}.`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });

  // Move the one selected photo: buttons beside the selection's other actions.
  const selectionBar = document.getElementById('selection-bar');
  const moveButtons = [
    ['first', 'Move to start', () => 0],
    ['earlier', 'Move earlier', (i) => i - 1],
    ['later', 'Move later', (i) => i + 1],
    ['last', 'Move to end', () => grid.items.length - 1],
  ].map(([name, words, to]) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button ghost';
    button.dataset.move = name;
    button.textContent = words;
    button.hidden = true;
    button.addEventListener('click', () => {
      const [id] = selection.selected();
      if (id) move(id, to(where(id)));
    });
    return button;
  });
  selectionBar.querySelector('.selection-actions').prepend(...moveButtons);

  const selection = new AlbumSelection(selectionBar, () => grid.orderedIds());
  grid = new AlbumGrid(root, selection);
  const empty = document.getElementById('album-empty');
  const count = document.getElementById('album-count');

  function markCover() {
    for (const el of root.querySelectorAll('.tile')) {
      const on = el.dataset.id === cover;
      el.classList.toggle('is-cover', on);
      let badge = el.querySelector('.tile-cover');
      if (on && !badge) {
        badge = document.createElement('span');
        badge.className = 'tile-cover';
        badge.textContent = 'Cover';
        el.append(badge);
      } else if (!on && badge) {
        badge.remove();
      }
    }
  }

  function refreshCount() {
    count.textContent = plural(grid.items.length);
    empty.hidden = grid.items.length > 0;
  }

  reload();

  selection.on('download', (ids) => {
    const theirs = new Set(byOthers().map((item) => item.id));
    const mine = ids.filter((id) => !theirs.has(id));
    if (mine.length) G.download(mine);
    ids.filter((id) => theirs.has(id)).forEach((id, i) => {
      setTimeout(() => KS.gallery.clickDownload(sharedFiles({ id }).original), (mine.length + i) * 400);
    });
  });
  selection.on('cover', async (ids) => {
    if (ids.length !== 1) return;
    try {
      await KS.api('PATCH', `/api/albums/${albumId}`, { cover_asset_id: ids[0] });
      cover = ids[0];
      markCover();
      selection.clear();
      KS.toast('Cover changed');
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });
  selection.on('remove', async (ids) => {
    const ok = await KS.confirm(
      `Remove ${plural(ids.length)} from this album?`,
      'They stay in the library they came from; only the album forgets them.',
      'Remove from album',
    );
    if (!ok) return;
    try {
      await KS.api('POST', `/api/albums/${albumId}/assets/remove`, { ids });
      grid.remove(ids);
      if (ids.includes(cover)) cover = '';
      refreshCount();
      KS.toast(`Removed ${plural(ids.length)} from the album`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });

  const renameDialog = document.getElementById('rename-dialog');
  const renameForm = document.getElementById('rename-form');
  const renameName = document.getElementById('rename-name');
  document.getElementById('rename-album').addEventListener('click', () => {
    document.getElementById('rename-error').textContent = '';
    renameDialog.showModal();
    renameName.select();
  });
  renameForm.addEventListener('submit', async (event) => {
    if (event.submitter && event.submitter.value === 'cancel') return;
    event.preventDefault();
    const name = renameName.value.trim();
    if (!name) {
      document.getElementById('rename-error').textContent = 'Give the album a name.';
      return;
    }
    try {
      await KS.api('PATCH', `/api/albums/${albumId}`, { name });
      document.getElementById('album-title').textContent = name;
      document.title = `${name} · Keepsake`;
      renameDialog.close('ok');
    } catch (err) {
      document.getElementById('rename-error').textContent = KS.describe(err);
    }
  });

  document.getElementById('delete-album').addEventListener('click', async () => {
    const ok = await KS.confirm(
      'Delete this album?',
      'The photos in it stay in your library; only the album goes.',
      'Delete album',
    );
    if (!ok) return;
    try {
      await KS.api('DELETE', `/api/albums/${albumId}`);
      location.assign('/albums');
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });
})();
