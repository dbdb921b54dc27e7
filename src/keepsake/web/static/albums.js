/* Albums: creating one on the list page; on an album's page its photos (those members
   added shown read-only, through the members' routes), the cover, removing photos,
   renaming and deleting the album. */
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

  /** The album's grid, with other members' photos shown through the members' routes. */
  class AlbumGrid extends G.ListGrid {
    set(items) {
      super.set(items);
      items.forEach((item, i) => {
        if (item.owned_by_me === false) this.theirs(this.tiles.children[i], item);
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

  const selection = new G.Selection(document.getElementById('selection-bar'), () => grid.orderedIds());
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

  grid.load((album) => album.assets).then(() => {
    markCover();
    refreshCount();
  });

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
