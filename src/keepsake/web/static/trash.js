/* The trash: what was deleted in the last days, to restore or to delete for good. */
(function () {
  'use strict';

  const root = document.getElementById('trash-grid');
  if (!root) return;
  const G = KS.grid;
  let grid = null;
  const selection = new G.Selection(document.getElementById('selection-bar'), () => grid.orderedIds());
  grid = new G.ListGrid(root, selection);
  const empty = document.getElementById('trash-empty');
  const actions = document.getElementById('trash-actions');
  const count = document.getElementById('trash-count');

  function refresh() {
    const n = grid.items.length;
    const size = grid.items.reduce((sum, item) => sum + item.size, 0);
    count.textContent = n ? `${KS.plural(n, 'photo')}, ${KS.formatBytes(size)}` : '0 photos';
    empty.hidden = n > 0;
    actions.hidden = n === 0;
  }

  grid.load().then(refresh);

  async function restore(ids) {
    try {
      await KS.api('POST', '/api/trash/restore', { ids });
      grid.remove(ids);
      refresh();
      KS.toast(`Restored ${KS.plural(ids.length, 'photo')} to your library`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  }

  selection.on('restore', restore);
  document.getElementById('restore-all').addEventListener('click', () => restore(grid.orderedIds()));
  document.getElementById('empty-trash').addEventListener('click', async () => {
    const n = grid.items.length;
    const ok = await KS.confirm(
      'Empty the trash?',
      `${KS.plural(n, 'photo')} will be deleted for good, originals and all. This cannot be undone.`,
      'Delete for good',
    );
    if (!ok) return;
    try {
      const result = await KS.api('POST', '/api/trash/empty');
      grid.remove(grid.orderedIds());
      refresh();
      KS.toast(`Deleted ${KS.plural(result.count, 'photo')} for good`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });
})();
