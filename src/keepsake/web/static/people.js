/* People: the face recognition switch (with its consent), "is this …?" questions, merging
   people (and undoing the last merge), hiding them, photos of several people together,
   search by an example photo; on a person's page their name, their faces (to move to
   someone else or take out) and their photos. */
(function () {
  'use strict';

  function flashAndReload(message) {
    sessionStorage.setItem('ks-flash', message);
    location.reload();
  }

  function names(list) {
    if (list.length <= 1) return list.join('');
    return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
  }

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
        flashAndReload(`Face recognition is off; ${KS.plural(result.templates_deleted || 0, 'face template')} deleted.`);
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

  // --- undoing the last merge -------------------------------------------------------------

  // The server keeps the last merge until it is undone, so the bar shows in every tab and
  // after every reload for as long as the merge can be undone.
  const undoBar = document.getElementById('undo-bar');
  async function showUndo() {
    let state;
    try {
      state = await KS.api('GET', '/api/users/me/face-recognition');
    } catch (_) {
      return; // the rest of the page works without it
    }
    const merge = state.last_merge;
    if (!state.can_undo_merge || !merge) return;
    const merged = merge.sources.map((p) => p.name || 'an unnamed person');
    document.getElementById('undo-text').textContent =
      `Merged ${names(merged)} into ${merge.target.name || 'an unnamed person'}.`;
    undoBar.hidden = false;
  }
  if (undoBar) {
    document.getElementById('undo-merge').addEventListener('click', async () => {
      try {
        const people = await KS.api('POST', '/api/people/merge/undo');
        flashAndReload(`Merge undone: ${KS.plural(people.length, 'person', 'people')} as before.`);
      } catch (err) {
        undoBar.hidden = true;
        KS.toast(KS.describe(err), { error: true });
      }
    });
    showUndo();
  }

  // --- "is this …?" ---------------------------------------------------------------------

  // One listener for every question, those on the page and those a person's page loads.
  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('.review-card [data-answer]') : null;
    if (!button) return;
    const card = button.closest('.review-card');
    const face = card.dataset.face;
    const person = card.dataset.person;
    try {
      if (button.dataset.answer === 'yes') {
        await KS.api('PUT', `/api/faces/${face}/person`, { person_id: person });
      } else {
        await KS.api('POST', `/api/faces/${face}/reject`, { person_id: person });
      }
      // Keep the keyboard in the queue: focus moves to the next question's "Yes".
      const next = card.nextElementSibling || card.previousElementSibling;
      const list = card.parentElement;
      card.remove();
      if (next) next.querySelector('[data-answer="yes"]').focus();
      else if (list && list.id === 'review-list') loadReview(); // the next page, if any
      KS.toast(button.dataset.answer === 'yes' ? 'Thanks: added to that person' : 'Noted: never suggested again');
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });

  // A person's own queue ("is this Anna?"), closest first, from the server.
  const REVIEW_SHOWN = 12;
  const review = document.getElementById('person-review');
  async function loadReview() {
    if (!review) return;
    const personId = document.getElementById('person-grid').dataset.person;
    let page;
    try {
      page = await KS.api('GET', `/api/people/${personId}/suggestions?limit=${REVIEW_SHOWN}`);
    } catch (err) {
      review.hidden = true;
      return;
    }
    const who = document.getElementById('person-grid').dataset.name || 'this person';
    const list = document.getElementById('review-list');
    list.replaceChildren(...page.items.map((face, i) => reviewCard(face, personId, who, i + 1)));
    document.getElementById('review-note').textContent = page.next_cursor
      ? `The ${REVIEW_SHOWN} closest faces; more follow as you answer.`
      : '';
    review.hidden = page.items.length === 0;
  }

  function reviewCard(face, personId, who, n) {
    const item = document.createElement('li');
    item.className = 'review-card';
    item.dataset.face = face.id;
    item.dataset.person = personId;
    const img = document.createElement('img');
    img.src = `/api/faces/${face.id}/crop`;
    img.alt = 'A face from one of your photos';
    img.width = 96;
    img.height = 96;
    img.loading = 'lazy';
    const where = document.createElement('p');
    const link = document.createElement('a');
    link.href = `/photos/${face.asset_id}`;
    link.textContent = 'In this photo';
    where.append(link);
    const actions = document.createElement('div');
    actions.className = 'review-actions';
    for (const [answer, text, hint] of [
      ['yes', 'Yes', `, face ${n} is ${who}`],
      ['no', 'No', `, face ${n} is not ${who}`],
    ]) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = answer === 'yes' ? 'button small primary' : 'button small';
      button.dataset.answer = answer;
      const hidden = document.createElement('span');
      hidden.className = 'visually-hidden';
      hidden.textContent = hint;
      button.append(text, hidden);
      actions.append(button);
    }
    item.append(img, where, actions);
    return item;
  }
  loadReview();

  // --- search results (people together, or by example) ------------------------------------

  const results = document.getElementById('search-results');
  let resultsGrid = null;
  function showResults(title) {
    document.getElementById('results-title').textContent = title;
    document.getElementById('results-note').textContent = '';
    document.getElementById('example-faces').hidden = true;
    if (!resultsGrid) resultsGrid = new KS.grid.ListGrid(document.getElementById('results-grid'), null);
    resultsGrid.set([]);
    results.hidden = false;
    results.focus();
    results.scrollIntoView({ block: 'start' });
    return resultsGrid;
  }
  if (results) {
    document.getElementById('results-close').addEventListener('click', () => {
      results.hidden = true;
      document.getElementById('example-file').focus();
    });
  }

  const exampleForm = document.getElementById('example-form');
  if (exampleForm) {
    const error = document.getElementById('example-error');
    exampleForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const input = document.getElementById('example-file');
      const file = input.files && input.files[0];
      if (!file) {
        error.textContent = 'Choose a photo with the face to look for.';
        input.focus();
        return;
      }
      const submit = exampleForm.querySelector('button[type="submit"]');
      submit.disabled = true;
      try {
        const body = new FormData();
        body.append('file', file);
        let response;
        try {
          response = await fetch('/api/search/faces', {
            method: 'POST',
            body,
            credentials: 'same-origin',
            headers: { Accept: 'application/json', 'X-CSRF-Token': KS.csrfToken() },
          });
        } catch (_) {
          throw new KS.Problem(0, { detail: 'The server could not be reached. Check the connection and try again.' });
        }
        if (!response.ok) {
          let problem = null;
          try { problem = await response.json(); } catch (_) { problem = null; }
          throw new KS.Problem(response.status, problem);
        }
        showExample(await response.json(), file.name);
      } catch (err) {
        error.textContent = KS.describe(err);
      } finally {
        submit.disabled = false;
      }
    });
  }

  function showExample(result, fileName) {
    const grid = showResults(`Like the faces in ${fileName}`);
    const list = document.getElementById('example-faces');
    list.replaceChildren(...result.faces.map((face, i) => {
      const item = document.createElement('li');
      item.className = 'example-face';
      const heading = document.createElement('h3');
      heading.textContent = result.faces.length === 1 ? 'The face in your photo' : `Face ${i + 1} in your photo`;
      item.append(heading);
      if (!face.people.length) {
        const none = document.createElement('p');
        none.textContent = 'Looks like no one in your People.';
        item.append(none);
      } else {
        const ranked = document.createElement('ol');
        for (const match of face.people) {
          const li = document.createElement('li');
          const link = document.createElement('a');
          link.href = `/people/${match.person_id}`;
          link.textContent = match.name || 'Unnamed person';
          const distance = document.createElement('span');
          distance.className = 'distance';
          // Smaller is closer: the same person is usually below 0.6.
          distance.textContent = ` (distance ${match.distance.toFixed(2)})`;
          li.append(link, distance);
          ranked.append(li);
        }
        item.append(ranked);
      }
      return item;
    }));
    list.hidden = result.faces.length === 0;
    const note = document.getElementById('results-note');
    if (!result.faces.length) {
      note.textContent = 'No face was found in this photo. Try one where the face is larger, sharper or facing the camera.';
    } else if (!result.photos.length) {
      note.textContent = 'No photo of your library shows a face this close.';
    } else {
      note.textContent = `${KS.plural(result.photos.length, 'photo')} of your library, closest first.`;
    }
    grid.set(result.photos.map((p) => p.asset));
  }

  // --- the people page: selecting, merging, hiding, photos together ---------------------

  const bar = document.getElementById('people-bar');
  if (bar) {
    const checks = [...document.querySelectorAll('.person-check')];
    const selected = () => checks.filter((c) => c.checked).map((c) => c.closest('.person-card'));
    const label = (card) => card.dataset.name || 'Unnamed person';
    const hideButton = document.getElementById('hide-selected');
    const update = () => {
      const cards = selected();
      const n = cards.length;
      bar.hidden = n === 0;
      for (const c of checks) c.closest('.person-card').classList.toggle('is-selected', c.checked);
      document.getElementById('people-count').textContent = `${KS.plural(n, 'person', 'people')} selected`;
      document.getElementById('merge').disabled = n < 2;
      const allHidden = n > 0 && cards.every((card) => card.dataset.hidden === 'true');
      hideButton.dataset.hide = allHidden ? 'false' : 'true';
      hideButton.textContent = allHidden ? 'Show in People' : 'Hide from People';
    };
    for (const c of checks) c.addEventListener('change', update);
    document.getElementById('people-clear').addEventListener('click', () => {
      for (const c of checks) c.checked = false;
      update();
      if (checks[0]) checks[0].focus();
    });

    document.getElementById('search-together').addEventListener('click', async () => {
      const cards = selected();
      const query = cards.map((card) => `person_id=${encodeURIComponent(card.dataset.person)}`).join('&');
      const grid = showResults(`Photos with ${names(cards.map(label))}`);
      const root = document.getElementById('results-grid');
      root.dataset.source = `/api/search/people?${query}&limit=500`;
      let page = null;
      await grid.load((data) => { page = data; return data.items; });
      if (!page) return;
      const n = page.items.length;
      document.getElementById('results-note').textContent = n === 0
        ? (cards.length === 1 ? 'No photo shows this person.' : 'No photo shows all of them together.')
        : `${KS.plural(n, 'photo')}${page.next_cursor ? ' (the newest; there are more)' : ''}, newest first.`;
    });

    hideButton.addEventListener('click', async () => {
      const hide = hideButton.dataset.hide === 'true';
      const cards = selected();
      try {
        for (const card of cards) {
          await KS.api('PATCH', `/api/people/${card.dataset.person}`, { is_hidden: hide });
        }
        flashAndReload(hide
          ? `${KS.plural(cards.length, 'person', 'people')} hidden from People.`
          : `${KS.plural(cards.length, 'person', 'people')} shown in People again.`);
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });

    const dialog = document.getElementById('merge-dialog');
    const form = document.getElementById('merge-form');
    document.getElementById('merge').addEventListener('click', () => {
      const cards = selected();
      const named = cards.findIndex((x) => x.dataset.name);
      const choices = document.getElementById('merge-choices');
      choices.replaceChildren(...cards.map((card, i) => {
        const row = document.createElement('div');
        row.className = 'choice';
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = 'target';
        input.value = card.dataset.person;
        input.id = `target-${card.dataset.person}`;
        input.checked = i === Math.max(0, named);
        const text = document.createElement('label');
        text.htmlFor = input.id;
        text.textContent = label(card);
        row.append(input, text);
        return row;
      }));
      document.getElementById('merge-error').textContent = '';
      dialog.showModal();
    });
    form.addEventListener('submit', async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      const target = form.querySelector('input[name="target"]:checked');
      const cards = selected();
      const sources = cards.map((c) => c.dataset.person).filter((id) => id !== target.value);
      try {
        await KS.api('POST', '/api/people/merge', { target_id: target.value, source_ids: sources });
        dialog.close('ok');
        flashAndReload('Merged into one person.');
      } catch (err) {
        document.getElementById('merge-error').textContent = KS.describe(err);
      }
    });
  }

  // --- one person -------------------------------------------------------------------------

  const grid = document.getElementById('person-grid');
  if (!grid) return;
  const personId = grid.dataset.person;
  const who = () => grid.dataset.name || 'this person';
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
      grid.dataset.name = person.name || '';
      document.querySelector('#rename-person span').textContent = person.name ? 'Rename' : 'Add a name';
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

  // Faces: select some, then move them to another (or a new) person, or take them out.
  const faceChecks = [...document.querySelectorAll('.face-check')];
  const facesBar = document.getElementById('faces-bar');
  const chosenFaces = () => faceChecks.filter((c) => c.checked).map((c) => c.value);
  const updateFaces = () => {
    const n = chosenFaces().length;
    facesBar.hidden = n === 0;
    document.getElementById('faces-count').textContent = `${KS.plural(n, 'face')} selected`;
  };
  for (const c of faceChecks) c.addEventListener('change', updateFaces);
  document.getElementById('faces-clear').addEventListener('click', () => {
    for (const c of faceChecks) c.checked = false;
    updateFaces();
    if (faceChecks[0]) faceChecks[0].focus();
  });

  document.getElementById('remove-faces').addEventListener('click', async () => {
    const ids = chosenFaces();
    try {
      for (const id of ids) await KS.api('DELETE', `/api/people/${personId}/faces/${id}`);
      flashAndReload(`Took ${KS.plural(ids.length, 'face')} out of ${who()}; they are never put back by themselves.`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });

  const moveDialog = document.getElementById('move-dialog');
  const moveForm = document.getElementById('move-form');
  const newName = document.getElementById('move-new-name');
  document.getElementById('move-faces').addEventListener('click', () => {
    document.getElementById('move-error').textContent = '';
    moveDialog.showModal();
  });
  newName.addEventListener('input', () => { document.getElementById('move-new').checked = true; });
  moveForm.addEventListener('submit', async (event) => {
    if (event.submitter && event.submitter.value === 'cancel') return;
    event.preventDefault();
    const target = moveForm.querySelector('input[name="target"]:checked');
    const ids = chosenFaces();
    const body = { face_ids: ids };
    if (target && target.value) body.target_person_id = target.value;
    else if (newName.value.trim()) body.name = newName.value.trim();
    try {
      const person = await KS.api('POST', `/api/people/${personId}/split`, body);
      moveDialog.close('ok');
      flashAndReload(`Moved ${KS.plural(ids.length, 'face')} to ${person.name || 'a new person'}.`);
    } catch (err) {
      document.getElementById('move-error').textContent = KS.describe(err);
    }
  });

  // Merging others into this person (several at once).
  const mergeInto = document.getElementById('merge-into');
  if (mergeInto) {
    const mergeDialog = document.getElementById('merge-dialog');
    const mergeForm = document.getElementById('merge-form');
    mergeInto.addEventListener('click', () => {
      document.getElementById('merge-error').textContent = '';
      mergeDialog.showModal();
    });
    mergeForm.addEventListener('submit', async (event) => {
      if (event.submitter && event.submitter.value === 'cancel') return;
      event.preventDefault();
      const boxes = [...mergeForm.querySelectorAll('input[name="source"]:checked')];
      if (!boxes.length) {
        document.getElementById('merge-error').textContent = 'Tick at least one person to merge.';
        return;
      }
      try {
        await KS.api('POST', '/api/people/merge', { target_id: personId, source_ids: boxes.map((b) => b.value) });
        mergeDialog.close('ok');
        flashAndReload(`Merged into ${who()}.`);
      } catch (err) {
        document.getElementById('merge-error').textContent = KS.describe(err);
      }
    });
  }
})();
