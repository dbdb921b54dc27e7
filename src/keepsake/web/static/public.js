/* A public link's page, for whoever holds the link (no account): the password first when
   the link has one, then its photos. Everything comes from /api/s/{token}; the link session
   is a cookie the server scopes to those paths. Errors are said in words, never as codes. */
(function () {
  'use strict';

  const root = document.getElementById('public');
  if (!root) return;
  const token = root.dataset.token;
  const base = `/api/s/${encodeURIComponent(token)}`;
  const form = document.getElementById('unlock-form');
  const password = document.getElementById('unlock-password');
  const unlockError = document.getElementById('unlock-error');
  const loading = document.getElementById('public-loading');
  const pageError = document.getElementById('public-error');
  const title = document.getElementById('public-title');
  const summary = document.getElementById('public-summary');
  const downloadAll = document.getElementById('public-download-all');
  const gridRoot = document.getElementById('public-grid');
  let gallery = null;

  /** The link API answers as it is: a link holder is not a user, so a 401 here means the
      password, never "log in" (KS.api would send the browser to the login page). */
  async function call(method, url, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    return { status: response.status, ok: response.ok, data, headers: response.headers };
  }

  function showGone() {
    form.hidden = true;
    loading.hidden = true;
    downloadAll.hidden = true;
    gridRoot.hidden = true;
    document.getElementById('public-empty').hidden = true;
    summary.textContent = '';
    const gone = document.getElementById('public-gone');
    gone.hidden = false;
    document.getElementById('public-gone-title').focus();
  }

  function showLock(message) {
    loading.hidden = true;
    gridRoot.hidden = true;
    downloadAll.hidden = true;
    form.hidden = false;
    unlockError.textContent = message || '';
    password.value = '';
    password.focus();
  }

  function fail(err) {
    loading.hidden = true;
    pageError.textContent = err instanceof TypeError
      ? 'The server could not be reached. Check the connection and reload the page.'
      : `The photos could not be shown: ${err.message || err}. Reload the page to try again.`;
  }

  const dateOnly = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric' });

  function render(link) {
    const items = link.assets;
    const n = items.length;
    const name = link.title || 'Shared photos';
    title.textContent = name;
    document.title = `${name} · Keepsake`;
    const parts = [KS.plural(n, 'photo')];
    if (link.expires_at) parts.push(`link works until ${dateOnly.format(new Date(link.expires_at))}`);
    summary.textContent = parts.join(' · ');
    loading.hidden = true;
    form.hidden = true;
    gridRoot.hidden = false;
    document.getElementById('public-empty').hidden = n > 0;
    downloadAll.hidden = !(link.originals && n > 0);
    const files = (item) => ({
      thumbnail: `${base}/assets/${item.id}/thumbnail`,
      preview: `${base}/assets/${item.id}/preview`,
      original: link.originals ? `${base}/assets/${item.id}/original` : null,
    });
    const options = {
      files,
      label: (item, i, count) => `Photo ${i + 1} of ${count}, taken ${KS.gallery.taken(item)}`,
      title: (item, i) => item.original_filename || `Photo ${i + 1}`,
      facts: (item) => {
        const facts = [['Taken', KS.gallery.taken(item)]];
        return link.metadata_hidden ? facts : facts.concat(KS.gallery.metadataFacts(item));
      },
    };
    if (!gallery) gallery = new KS.gallery.Gallery(gridRoot, options);
    else gallery.opts = options;
    gallery.set(items);
  }

  async function load() {
    pageError.textContent = '';
    try {
      const r = await call('GET', base);
      if (r.status === 404) return showGone();
      if (r.status === 401) return showLock(gallery ? 'Your access to this link has ended. Enter the password again.' : '');
      if (!r.ok) throw new Error((r.data && r.data.detail) || `the server answered ${r.status}`);
      render(r.data);
    } catch (err) {
      fail(err);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    unlockError.textContent = '';
    password.removeAttribute('aria-invalid');
    if (!password.value) {
      unlockError.textContent = 'Enter the password.';
      password.setAttribute('aria-invalid', 'true');
      password.focus();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const r = await call('POST', `${base}/unlock`, { password: password.value });
      if (r.ok) {
        password.value = '';
        loading.hidden = false;
        form.hidden = true;
        await load();
        title.focus();
        return;
      }
      if (r.status === 404) return showGone();
      password.setAttribute('aria-invalid', 'true');
      if (r.status === 429) {
        const wait = Number(r.headers.get('Retry-After')) || 1;
        unlockError.textContent = `Too many wrong passwords. Wait ${KS.plural(wait, 'second')} and try again.`;
      } else if (r.status === 401) {
        unlockError.textContent = 'That is not the password of this link. Check it and try again.';
      } else {
        unlockError.textContent = (r.data && r.data.detail) || `The password could not be checked (the server answered ${r.status}).`;
      }
      password.select();
    } catch (_) {
      unlockError.textContent = 'The server could not be reached. Check the connection and try again.';
    } finally {
      button.disabled = false;
    }
  });

  downloadAll.addEventListener('click', () => {
    if (!gallery) return;
    const n = gallery.downloadAll();
    KS.toast(`Downloading ${KS.plural(n, 'original')}`);
  });

  // A password link may already be unlocked in this browser (a reload): try first.
  load();
})();
