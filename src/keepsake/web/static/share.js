/* Sharing in the logged-in app: an album's share dialog (people, public links), the Sharing
   page (ending links and partner shares, choosing a partner), a shared album as a member
   sees it, and the partners' photos. State changes go through the JSON API. */
(function () {
  'use strict';

  const dateOnly = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  const ROLE_WORDS = { viewer: 'Viewer', contributor: 'Contributor' };

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = value;
    return el;
  }

  /** A date picked in an <input type=date> as the start of that day in this browser's
      time zone, with its offset (what the API asks for); null when empty. */
  function startOfDay(value) {
    return value ? new Date(`${value}T00:00:00`).toISOString() : null;
  }

  function endOfDay(value) {
    return value ? new Date(`${value}T23:59:59`).toISOString() : null;
  }

  // --- an album's share dialog ----------------------------------------------------------

  const dialog = document.getElementById('share-dialog');
  if (dialog) {
    const albumId = dialog.dataset.album;
    const opener = document.getElementById('share-album');
    const userForm = document.getElementById('share-user-form');
    const email = document.getElementById('share-email');
    const role = document.getElementById('share-role');
    const shareList = document.getElementById('share-list');
    const linkForm = document.getElementById('link-form');
    const linkList = document.getElementById('link-list');
    const hide = document.getElementById('link-hide');
    const download = document.getElementById('link-download');
    const created = document.getElementById('link-created');
    const url = document.getElementById('link-url');

    function clearErrors(form, generalId) {
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
      document.getElementById(generalId).textContent = '';
    }

    function fieldError(input, message) {
      input.setAttribute('aria-invalid', 'true');
      document.getElementById(`${input.id}-error`).textContent = message;
      input.focus();
    }

    async function loadShares() {
      let shares = [];
      try {
        shares = await KS.api('GET', `/api/albums/${albumId}/shares`);
      } catch (err) {
        document.getElementById('share-user-error').textContent = `The list of people could not be loaded: ${KS.describe(err)}`;
        return;
      }
      document.getElementById('share-none').hidden = shares.length > 0;
      shareList.replaceChildren(...shares.map(shareRow));
    }

    function shareRow(share) {
      const who = share.recipient.display_name || share.recipient.email;
      const li = document.createElement('li');
      li.dataset.share = share.id;
      const name = document.createElement('span');
      name.className = 'share-who';
      name.append(text('strong', who), document.createTextNode(' '), text('span', share.recipient.email, 'muted'));
      const select = document.createElement('select');
      select.className = 'share-role';
      select.setAttribute('aria-label', `Role of ${who}`);
      for (const [value, label] of Object.entries(ROLE_WORDS)) select.append(new Option(label, value, false, value === share.role));
      select.addEventListener('change', async () => {
        try {
          await KS.api('PATCH', `/api/albums/${albumId}/shares/${share.id}`, { role: select.value });
          share.role = select.value;
          KS.toast(`${who} is now a ${select.value}`);
        } catch (err) {
          select.value = share.role;
          KS.toast(KS.describe(err), { error: true });
        }
      });
      const remove = text('button', 'Remove', 'button small ghost danger-text');
      remove.type = 'button';
      remove.setAttribute('aria-label', `Stop sharing with ${who}`);
      remove.addEventListener('click', async () => {
        const ok = await KS.confirm(
          `Stop sharing with ${who}?`,
          'They lose access at once. Photos they added leave the album, but stay in their library.',
          'Stop sharing',
        );
        if (!ok) {
          remove.focus();
          return;
        }
        try {
          await KS.api('DELETE', `/api/albums/${albumId}/shares/${share.id}`);
          KS.toast(`No longer shared with ${who}`);
          await loadShares();
          email.focus();
        } catch (err) {
          KS.toast(KS.describe(err), { error: true });
        }
      });
      li.append(name, select, remove);
      return li;
    }

    function describeLink(link) {
      const parts = [`Made ${dateOnly.format(new Date(link.created_at))}`];
      parts.push(link.expires_at ? `works until ${dateOnly.format(new Date(link.expires_at))}` : 'no expiry');
      parts.push(link.has_password ? 'password' : 'no password');
      if (link.allow_download && !link.hide_metadata) parts.push('originals offered');
      else if (link.hide_metadata) parts.push('metadata hidden');
      parts.push(KS.plural(link.view_count, 'view'));
      return parts.join(' · ');
    }

    async function loadLinks() {
      let links = [];
      try {
        links = await KS.api('GET', `/api/links?album_id=${encodeURIComponent(albumId)}`);
      } catch (err) {
        document.getElementById('link-error').textContent = `The links could not be loaded: ${KS.describe(err)}`;
        return;
      }
      if (editing) closeEdit();
      const active = links.filter((l) => l.state === 'active');
      document.getElementById('link-none').hidden = active.length > 0;
      linkList.replaceChildren(...active.map(linkRow));
    }

    function linkRow(link) {
      const li = document.createElement('li');
      li.dataset.link = link.id;
      const about = document.createElement('span');
      about.className = 'share-who';
      about.append(text('strong', link.label || 'Link'), document.createTextNode(' '), text('span', describeLink(link), 'muted'));
      const revoke = text('button', 'Revoke', 'button small ghost danger-text');
      revoke.type = 'button';
      const name = `${link.label || 'link'} made ${dateOnly.format(new Date(link.created_at))}`;
      revoke.setAttribute('aria-label', `Revoke ${name}`);
      revoke.addEventListener('click', async () => {
        const ok = await KS.confirm(
          'Revoke this link?',
          'It stops working at once for everyone who has it. A revoked link cannot be turned back on; you can make a new one.',
          'Revoke link',
        );
        if (!ok) {
          revoke.focus();
          return;
        }
        try {
          await KS.api('DELETE', `/api/links/${link.id}`);
          created.hidden = true;
          KS.toast('Link revoked');
          await loadLinks();
          document.getElementById('link-new').querySelector('summary').focus();
        } catch (err) {
          KS.toast(KS.describe(err), { error: true });
        }
      });
      const edit = text('button', 'Change', 'button small ghost');
      edit.type = 'button';
      edit.setAttribute('aria-label', `Change ${name}`);
      edit.setAttribute('aria-expanded', 'false');
      edit.setAttribute('aria-controls', 'link-edit-form');
      edit.addEventListener('click', () => (editing === link.id ? closeEdit() : openEdit(link, li, edit)));
      li.append(about, edit, revoke);
      return li;
    }

    // --- changing a link's options (PATCH: only what changed is sent) ----------------

    const editForm = document.getElementById('link-edit-form');
    const editExpires = document.getElementById('link-edit-expires');
    const editPassword = document.getElementById('link-edit-password');
    const editClear = document.getElementById('link-edit-clear');
    const editHide = document.getElementById('link-edit-hide');
    const editDownload = document.getElementById('link-edit-download');
    const editLabel = document.getElementById('link-edit-label');
    let editing = null;
    let editOpener = null;
    let editLink = null;

    /** The day a link expires, as this browser's date input shows it. */
    function dayOf(iso) {
      if (!iso) return '';
      const d = new Date(iso);
      const pad = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    }

    function openEdit(link, li, opener) {
      closeEdit();
      editing = link.id;
      editLink = link;
      editOpener = opener;
      opener.setAttribute('aria-expanded', 'true');
      clearErrors(editForm, 'link-edit-error');
      editExpires.value = dayOf(link.expires_at);
      editPassword.value = '';
      editClear.checked = false;
      document.getElementById('link-edit-clear-row').hidden = !link.has_password;
      editHide.checked = link.hide_metadata;
      editDownload.checked = link.allow_download && !link.hide_metadata;
      editLabel.value = link.label;
      li.append(editForm);
      editForm.hidden = false;
      editExpires.focus();
    }

    function closeEdit(focusOpener) {
      if (editOpener) editOpener.setAttribute('aria-expanded', 'false');
      if (focusOpener && editOpener) editOpener.focus();
      editForm.hidden = true;
      dialog.querySelector('#link-none').after(editForm);
      editing = null;
      editLink = null;
      editOpener = null;
    }

    editDownload.addEventListener('change', () => {
      if (editDownload.checked) editHide.checked = false;
    });
    editHide.addEventListener('change', () => {
      if (editHide.checked) editDownload.checked = false;
    });
    editClear.addEventListener('change', () => {
      editPassword.disabled = editClear.checked;
      if (editClear.checked) editPassword.value = '';
    });
    document.getElementById('link-edit-cancel').addEventListener('click', () => closeEdit(true));

    editForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(editForm, 'link-edit-error');
      const link = editLink;
      const body = {};
      if (editExpires.value !== dayOf(link.expires_at)) {
        body.expires_at = endOfDay(editExpires.value);
        if (body.expires_at && new Date(body.expires_at) <= new Date()) {
          fieldError(editExpires, 'Choose today or a later day, or leave it empty.');
          return;
        }
      }
      if (editClear.checked) {
        body.password = null;
      } else if (editPassword.value) {
        if (editPassword.value.length < 8) {
          fieldError(editPassword, 'Use 8 characters or more, or leave it empty to keep the password.');
          return;
        }
        body.password = editPassword.value;
      }
      if (editHide.checked !== link.hide_metadata) body.hide_metadata = editHide.checked;
      if (editDownload.checked !== link.allow_download) body.allow_download = editDownload.checked;
      if (editLabel.value.trim() !== link.label) body.label = editLabel.value.trim();
      if (!Object.keys(body).length) {
        closeEdit(true);
        return;
      }
      try {
        await KS.api('PATCH', `/api/links/${link.id}`, body);
      } catch (err) {
        KS.showFormError(editForm, err, 'link-edit-error');
        return;
      }
      const id = link.id;
      closeEdit();
      KS.toast('Link changed');
      await loadLinks();
      const again = linkList.querySelector(`li[data-link="${CSS.escape(id)}"] button[aria-controls]`);
      if (again) again.focus();
    });

    function open() {
      clearErrors(userForm, 'share-user-error');
      clearErrors(linkForm, 'link-error');
      created.hidden = true;
      url.value = '';
      dialog.showModal();
      email.focus();
      loadShares();
      loadLinks();
    }

    function close() {
      dialog.close();
    }

    opener.addEventListener('click', open);
    for (const button of dialog.querySelectorAll('[data-share-close]')) button.addEventListener('click', close);
    dialog.addEventListener('close', () => {
      url.value = '';
      opener.focus();
    });

    userForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(userForm, 'share-user-error');
      const address = email.value.trim();
      if (!address || !address.includes('@')) {
        fieldError(email, 'Enter the email address of their Keepsake account.');
        return;
      }
      try {
        const share = await KS.api('POST', `/api/albums/${albumId}/shares`, { email: address, role: role.value });
        email.value = '';
        KS.toast(`Shared with ${share.recipient.display_name || share.recipient.email} as ${share.role}`);
        await loadShares();
        email.focus();
      } catch (err) {
        if (err instanceof KS.Problem && err.status === 404) {
          fieldError(email, 'No Keepsake account on this server has this email address.');
        } else {
          KS.showFormError(userForm, err, 'share-user-error');
        }
      }
    });

    // An original carries its EXIF (GPS and all), so offering originals and hiding
    // metadata exclude each other; the API refuses both at once.
    download.addEventListener('change', () => {
      if (download.checked) hide.checked = false;
    });
    hide.addEventListener('change', () => {
      if (hide.checked) download.checked = false;
    });

    linkForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(linkForm, 'link-error');
      const form = linkForm.elements;
      const body = {
        album_id: albumId,
        hide_metadata: hide.checked,
        allow_download: download.checked,
        label: form.namedItem('label').value.trim(),
      };
      const expires = form.namedItem('expires_at');
      if (expires.value) {
        body.expires_at = endOfDay(expires.value);
        if (new Date(body.expires_at) <= new Date()) {
          fieldError(expires, 'Choose today or a later day.');
          return;
        }
      }
      const secret = form.namedItem('password');
      if (secret.value) {
        if (secret.value.length < 8) {
          fieldError(secret, 'Use 8 characters or more, or leave it empty.');
          return;
        }
        body.password = secret.value;
      }
      try {
        const link = await KS.api('POST', '/api/links', body);
        linkForm.reset();
        hide.checked = true;
        document.getElementById('link-new').open = false;
        url.value = `${location.origin}/s/${link.token}`;
        created.hidden = false;
        url.focus();
        url.select();
        await loadLinks();
      } catch (err) {
        KS.showFormError(linkForm, err, 'link-error');
      }
    });

    document.getElementById('link-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(url.value);
      } catch (_) {
        url.select();
        if (!document.execCommand('copy')) {
          KS.toast('The link could not be copied here: select it and copy it yourself.', { error: true });
          return;
        }
      }
      KS.toast('Link copied');
    });

    // From the timeline's "Share" (a new album) or the Sharing page: open at once.
    const params = new URLSearchParams(location.search);
    if (params.get('share') === '1') {
      params.delete('share');
      const rest = params.toString();
      history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
      open();
    }
  }

  // --- the Sharing page -----------------------------------------------------------------

  const sharedPage = document.getElementById('shared-page');
  if (sharedPage) {
    sharedPage.addEventListener('click', async (event) => {
      const target = event.target instanceof Element ? event.target.closest('[data-revoke-link], [data-end-partner]') : null;
      if (!target) return;
      if (target.dataset.revokeLink) {
        const ok = await KS.confirm(
          'Revoke this link?',
          'It stops working at once for everyone who has it. A revoked link cannot be turned back on.',
          'Revoke link',
        );
        if (!ok) return;
        try {
          await KS.api('DELETE', `/api/links/${target.dataset.revokeLink}`);
          location.reload();
        } catch (err) {
          KS.toast(KS.describe(err), { error: true });
        }
        return;
      }
      const who = target.dataset.name;
      const outgoing = target.dataset.side === 'outgoing';
      const ok = await KS.confirm(
        outgoing ? `Stop sharing your timeline with ${who}?` : `Stop seeing ${who}'s photos?`,
        outgoing
          ? 'They no longer see your photos, from the next thing they open.'
          : `${who}'s timeline is no longer shared with you. Only they can share it again.`,
        'Stop',
      );
      if (!ok) return;
      try {
        await KS.api('DELETE', `/api/partner/shares/${target.dataset.endPartner}`);
        location.reload();
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });

    const partnerForm = document.getElementById('partner-form');
    if (partnerForm) {
      partnerForm.addEventListener('submit', async (event) => {
        event.preventDefault();
        const address = document.getElementById('partner-email');
        const since = document.getElementById('partner-since');
        for (const el of partnerForm.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
        for (const el of partnerForm.querySelectorAll('.field-error, .form-error')) el.textContent = '';
        if (!address.value.trim().includes('@')) {
          address.setAttribute('aria-invalid', 'true');
          document.getElementById('partner-email-error').textContent = 'Enter the email address of their Keepsake account.';
          address.focus();
          return;
        }
        try {
          await KS.api('PUT', '/api/partner', { email: address.value.trim(), since: startOfDay(since.value) });
          location.reload();
        } catch (err) {
          if (err instanceof KS.Problem && err.status === 404) {
            address.setAttribute('aria-invalid', 'true');
            document.getElementById('partner-email-error').textContent = 'No Keepsake account on this server has this email address.';
            address.focus();
          } else {
            KS.showFormError(partnerForm, err, 'partner-error');
          }
        }
      });
    }

    const sinceForm = document.getElementById('partner-since-form');
    if (sinceForm) {
      sinceForm.addEventListener('submit', async (event) => {
        event.preventDefault();
        const since = document.getElementById('partner-since-change');
        try {
          await KS.api('PATCH', `/api/partner/shares/${sinceForm.dataset.share}`, { since: startOfDay(since.value) });
          location.reload();
        } catch (err) {
          document.getElementById('partner-since-error').textContent = KS.describe(err);
        }
      });
    }
  }

  // --- a shared album, as a member sees it ----------------------------------------------

  function ownerFacts(item) {
    return [['Taken', KS.gallery.taken(item)], ['Shared by', item.owner.display_name], ...KS.gallery.metadataFacts(item)];
  }

  const sharedAlbum = document.getElementById('shared-album');
  if (sharedAlbum) {
    const albumId = sharedAlbum.dataset.album;
    const base = `/api/shared/albums/${albumId}/assets`;
    const gallery = new KS.gallery.Gallery(sharedAlbum, {
      files: (item) => ({
        thumbnail: `${base}/${item.id}/thumbnail`,
        preview: `${base}/${item.id}/preview`,
        original: `${base}/${item.id}/original`,
      }),
      label: (item, i, n) => `${item.original_filename}, ${KS.gallery.taken(item)}, from ${item.owned_by_me ? 'you' : item.owner.display_name} (${i + 1} of ${n})`,
      title: (item) => item.original_filename,
      facts: ownerFacts,
      badge: (item) => (item.owned_by_me ? 'You' : item.owner.display_name),
      // Whatever my role now, the photos I added stay mine to take out; nobody else's.
      remove: (item) => (item.owned_by_me ? 'Remove from album' : null),
      onRemove: async (item) => {
        const ok = await KS.confirm(
          `Remove ${item.original_filename} from this album?`,
          'It stays in your library; the album\'s members no longer see it.',
          'Remove from album',
        );
        if (!ok) return false;
        try {
          await KS.api('POST', `/api/shared/albums/${albumId}/assets/remove`, { ids: [item.id] });
        } catch (err) {
          KS.toast(KS.describe(err), { error: true });
          return false;
        }
        gallery.remove([item.id]);
        document.getElementById('shared-empty').hidden = gallery.items.length > 0;
        KS.toast(`Removed ${item.original_filename} from the album`);
        return true;
      },
    });
    sharedAlbum.setAttribute('aria-busy', 'true');
    KS.api('GET', `/api/shared/albums/${albumId}`)
      .then((album) => {
        gallery.set(album.assets);
        document.getElementById('shared-empty').hidden = album.assets.length > 0;
      })
      .catch((err) => KS.toast(`The album could not be loaded: ${KS.describe(err)}`, { error: true }))
      .finally(() => sharedAlbum.setAttribute('aria-busy', 'false'));

    const leave = document.getElementById('leave-album');
    leave.addEventListener('click', async () => {
      const ok = await KS.confirm(
        `Leave “${leave.dataset.name}”?`,
        'You no longer see it. Photos you added leave the album, but stay in your library.',
        'Leave album',
      );
      if (!ok) return;
      try {
        await KS.api('POST', `/api/shared/albums/${albumId}/leave`);
        location.assign('/shared');
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  // --- partners' photos -----------------------------------------------------------------

  const partnerRoot = document.getElementById('partner-timeline');
  if (partnerRoot) {
    const base = '/api/partner/assets';
    const more = document.getElementById('partner-more');
    let cursor = null;
    const gallery = new KS.gallery.Gallery(partnerRoot, {
      files: (item) => ({
        thumbnail: `${base}/${item.id}/thumbnail`,
        preview: `${base}/${item.id}/preview`,
        original: `${base}/${item.id}/original`,
      }),
      label: (item, i, n) => `${item.original_filename}, ${KS.gallery.taken(item)}, from ${item.owner.display_name} (${i + 1} of ${n} shown)`,
      title: (item) => item.original_filename,
      facts: ownerFacts,
      badge: (item) => item.owner.display_name,
    });

    async function page() {
      more.disabled = true;
      partnerRoot.setAttribute('aria-busy', 'true');
      const params = new URLSearchParams({ include_mine: 'false', limit: '100' });
      if (cursor) params.set('cursor', cursor);
      try {
        const data = await KS.api('GET', `/api/partner/timeline?${params}`);
        gallery.append(data.items);
        cursor = data.next_cursor;
        more.hidden = !cursor;
        document.getElementById('partner-empty').hidden = gallery.items.length > 0;
      } catch (err) {
        KS.toast(`Photos could not be loaded: ${KS.describe(err)}`, { error: true });
      } finally {
        more.disabled = false;
        partnerRoot.setAttribute('aria-busy', 'false');
      }
    }

    more.addEventListener('click', page);
    page();
  }
})();
