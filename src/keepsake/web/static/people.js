/* People: the face recognition switch (with its consent), "is this …?" questions, merging
   people, and on a person's page their photos, their name and hiding them. */
(function () {
  'use strict';

  // --- the switch -----------------------------------------------------------------------

  const on = document.getElementById('faces-on');
  if (on) {
    on.addEventListener('click', async () => {
      try {
        // The consent records the version of the text shown on this page.
        await KS.api('PUT', '/api/consent/face_recognition', { version: Number(on.dataset.version) });
        location.reload();
      } catch (err) {
        document.getElementById('consent-error').textContent = KS.describe(err);
      }
    });
  }

  const off = document.getElementById('faces-off');
  if (off) {
    const dialog = document.getElementById('off-dialog');
    off.addEventListener('click', () => {
      dialog.returnValue = '';
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus();
    });
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue !== 'ok') return;
      const keep = document.getElementById('keep-names').checked;
      try {
        const result = await KS.api('DELETE', `/api/consent/face_recognition?keep_names=${keep}`);
        sessionStorage.setItem('ks-flash', `Face recognition is off; ${KS.plural(result.templates_deleted || 0, 'face template')} deleted.`);
        location.reload();
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  const flash = sessionStorage.getItem('ks-flash');
  if (flash) {
    sessionStorage.removeItem('ks-flash');
    KS.toast(flash);
  }

  // --- "is this …?" ---------------------------------------------------------------------

  for (const card of document.querySelectorAll('.review-card')) {
    card.addEventListener('click', async (event) => {
      const button = event.target instanceof Element ? event.target.closest('[data-answer]') : null;
      if (!button) return;
      const face = card.dataset.face;
      const person = card.dataset.person;
      try {
        if (button.dataset.answer === 'yes') {
          await KS.api('PUT', `/api/faces/${face}/person`, { person_id: person });
        } else {
          await KS.api('POST', `/api/faces/${face}/reject`, { person_id: person });
        }
        card.remove();
        KS.toast(button.dataset.answer === 'yes' ? 'Thanks: added to that person' : 'Noted: never suggested again');
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  // --- merging ----------------------------------------------------------------------------

  const bar = document.getElementById('people-bar');
  if (bar) {
    const checks = [...document.querySelectorAll('.person-check')];
    const selected = () => checks.filter((c) => c.checked).map((c) => c.closest('.person-card'));
    const update = () => {
      const n = selected().length;
      bar.hidden = n === 0;
      document.getElementById('people-count').textContent = `${KS.plural(n, 'person', 'people')} selected`;
      document.getElementById('merge').disabled = n < 2;
    };
    for (const c of checks) c.addEventListener('change', update);
    document.getElementById('people-clear').addEventListener('click', () => {
      for (const c of checks) c.checked = false;
      update();
    });
    const dialog = document.getElementById('merge-dialog');
    const form = document.getElementById('merge-form');
    document.getElementById('merge').addEventListener('click', () => {
      const cards = selected();
      const choices = document.getElementById('merge-choices');
      choices.replaceChildren(...cards.map((card, i) => {
        const row = document.createElement('div');
        row.className = 'choice';
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = 'target';
        input.value = card.dataset.person;
        input.id = `target-${card.dataset.person}`;
        input.checked = i === cards.findIndex((x) => x.dataset.name) || (i === 0 && !cards.some((x) => x.dataset.name));
        const label = document.createElement('label');
        label.htmlFor = input.id;
        label.textContent = card.dataset.name || 'Unnamed person';
        row.append(input, label);
        return row;
      }));
      document.getElementById('merge-error').textContent = '';
      dialog.showModal();
    });
    form.addEventListener('submit', async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      const target = form.querySelector('input[name="target"]:checked');
      const sources = selected().map((c) => c.dataset.person).filter((id) => id !== target.value);
      try {
        await KS.api('POST', '/api/people/merge', { target_id: target.value, source_ids: sources });
        dialog.close('ok');
        sessionStorage.setItem('ks-flash', 'Merged into one person.');
        location.reload();
      } catch (err) {
        document.getElementById('merge-error').textContent = KS.describe(err);
      }
    });
  }

  // --- one person -------------------------------------------------------------------------

  const grid = document.getElementById('person-grid');
  if (!grid) return;
  const personId = grid.dataset.person;
  const list = new KS.grid.ListGrid(grid, null);
  list.load((page) => page.assets);

  const dialog = document.getElementById('rename-dialog');
  const form = document.getElementById('rename-form');
  const name = document.getElementById('rename-name');
  document.getElementById('rename-person').addEventListener('click', () => {
    document.getElementById('rename-error').textContent = '';
    dialog.showModal();
    name.select();
  });
  form.addEventListener('submit', async (event) => {
    if (event.submitter && event.submitter.value === 'cancel') return;
    event.preventDefault();
    try {
      const person = await KS.api('PATCH', `/api/people/${personId}`, { name: name.value.trim() });
      document.getElementById('person-title').textContent = person.name || 'Unnamed person';
      document.title = `${person.name || 'Unnamed person'} · Keepsake`;
      dialog.close('ok');
      KS.toast(person.name ? `Named ${person.name}` : 'Name removed');
    } catch (err) {
      document.getElementById('rename-error').textContent = KS.describe(err);
    }
  });

  const hide = document.getElementById('hide-person');
  hide.addEventListener('click', async () => {
    const hidden = hide.dataset.hidden !== 'true';
    try {
      await KS.api('PATCH', `/api/people/${personId}`, { is_hidden: hidden });
      hide.dataset.hidden = String(hidden);
      hide.textContent = hidden ? 'Show in People' : 'Hide from People';
      KS.toast(hidden ? 'Hidden from People' : 'Shown in People again');
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });
})();
