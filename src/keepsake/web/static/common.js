/* Keepsake: what every page shares. The JSON API with the CSRF header, problem details
   (RFC 9457) turned into words, toasts, a confirm dialog and logging out.
   No inline script anywhere: pages pass data through data- attributes. */
(function () {
  'use strict';

  const CSRF_COOKIE = 'keepsake_csrf';

  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === CSRF_COOKIE) return decodeURIComponent(rest.join('='));
    }
    return '';
  }

  /** An error the server explained: `title`, `detail`, field `errors` (RFC 9457). */
  class Problem extends Error {
    constructor(status, body) {
      const detail = (body && (body.detail || body.title)) || `The server answered ${status}.`;
      super(detail);
      this.status = status;
      this.title = (body && body.title) || 'Error';
      this.detail = detail;
      this.type = (body && body.type) || '';
      this.errors = (body && Array.isArray(body.errors)) ? body.errors : [];
    }
  }

  async function readProblem(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    return new Problem(response.status, body);
  }

  function loginAgain() {
    const here = location.pathname + location.search;
    location.assign('/login?next=' + encodeURIComponent(here));
  }

  /** Call the JSON API; throws Problem (or a network TypeError) when it fails. */
  async function api(method, url, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Problem(0, { title: 'No connection', detail: 'The server could not be reached. Check the connection and try again.' });
    }
    if (response.status === 401 && !url.startsWith('/api/auth/') && url !== '/api/setup') {
      loginAgain();
      throw await readProblem(response);
    }
    if (!response.ok) throw await readProblem(response);
    if (response.status === 204) return null;
    const type = response.headers.get('content-type') || '';
    return type.includes('json') ? response.json() : null;
  }

  /** A failure in words, for a person. */
  function describe(err) {
    if (err instanceof Problem) {
      const fields = err.errors
        .map((e) => {
          const where = (e.loc || []).filter((p) => p !== 'body').join(' ');
          return where ? `${where}: ${e.msg}` : e.msg;
        })
        .filter(Boolean);
      return fields.length ? `${err.detail} ${fields.join('; ')}` : err.detail;
    }
    return (err && err.message) || 'Something went wrong.';
  }

  function toast(message, opts) {
    const box = document.getElementById('toasts');
    if (!box) return;
    const item = document.createElement('div');
    item.className = 'toast' + (opts && opts.error ? ' toast-error' : '');
    const text = document.createElement('span');
    text.textContent = message;
    item.append(text);
    if (opts && opts.action) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'button small';
      button.textContent = opts.action.label;
      button.addEventListener('click', () => {
        item.remove();
        opts.action.run();
      });
      item.append(button);
    }
    box.append(item);
    setTimeout(() => item.remove(), (opts && opts.action) ? 10000 : 5000);
  }

  /** Ask before something that cannot be undone lightly; resolves true on OK. */
  function confirmDialog(title, text, okLabel) {
    const dialog = document.getElementById('confirm-dialog');
    if (!dialog || typeof dialog.showModal !== 'function') {
      return Promise.resolve(window.confirm(`${title}\n\n${text}`));
    }
    dialog.querySelector('#confirm-title').textContent = title;
    dialog.querySelector('#confirm-text').textContent = text;
    dialog.querySelector('#confirm-ok').textContent = okLabel || 'OK';
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus();
    });
  }

  /** Show field errors from a problem next to their inputs, and the rest in `formError`. */
  function showFormError(form, err, formErrorId) {
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    const general = document.getElementById(formErrorId || 'form-error');
    let shown = false;
    if (err instanceof Problem) {
      for (const e of err.errors) {
        const loc = e.loc || [];
        const name = loc[loc.length - 1];
        const input = name && form.elements.namedItem(name);
        const slot = input && document.getElementById(`${input.id}-error`);
        if (input && slot) {
          input.setAttribute('aria-invalid', 'true');
          slot.textContent = e.msg;
          shown = true;
        }
      }
    }
    if (general) general.textContent = shown && err.errors.length ? err.detail : describe(err);
  }

  function formatBytes(n) {
    const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
    let value = n;
    for (const unit of units) {
      if (value < 1000 || unit === 'TB') return unit === 'bytes' ? `${value} bytes` : `${value.toFixed(1)} ${unit}`;
      value /= 1000;
    }
    return `${n} bytes`;
  }

  function plural(n, one, many) {
    return `${n.toLocaleString('en-GB')} ${n === 1 ? one : (many || one + 's')}`;
  }

  function icon(name, cls) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', cls || 'icon');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const use = document.createElementNS(ns, 'use');
    use.setAttribute('href', `#i-${name}`);
    svg.append(use);
    return svg;
  }

  async function logout() {
    try {
      await api('POST', '/api/auth/logout');
    } catch (err) {
      if (!(err instanceof Problem) || err.status !== 401) {
        toast(describe(err), { error: true });
        return;
      }
    }
    location.assign('/login');
  }

  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('[data-logout]') : null;
    if (target) {
      event.preventDefault();
      logout();
    }
  });

  // The account menu closes on Escape and when focus or a click leaves it.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const menu = document.querySelector('details.usermenu[open]');
    if (menu) {
      menu.open = false;
      menu.querySelector('summary').focus();
    }
  });
  // A modal dialog keeps Tab and Shift+Tab inside it: past its last control focus comes
  // round to the first (the browser alone lets it leave the page for its own toolbar).
  const FOCUSABLE = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab' || event.defaultPrevented) return;
    const open = [...document.querySelectorAll('dialog[open]')].filter((d) => d.matches(':modal'));
    const dialog = open[open.length - 1];
    if (!dialog) return;
    const stops = [...dialog.querySelectorAll(FOCUSABLE)].filter(
      (el) => !el.disabled && el.getClientRects().length && !(el.type === 'radio' && !el.checked && el.form
        && [...el.form.elements].some((o) => o.name === el.name && o.type === 'radio' && o.checked)),
    );
    if (!stops.length) {
      event.preventDefault();
      return;
    }
    const first = stops[0];
    const last = stops[stops.length - 1];
    const inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (!inside || document.activeElement === first || document.activeElement === dialog)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
      event.preventDefault();
      first.focus();
    }
  });

  document.addEventListener('click', (event) => {
    const menu = document.querySelector('details.usermenu[open]');
    if (menu && !(event.target instanceof Node && menu.contains(event.target))) menu.open = false;
  });

  window.KS = { api, Problem, describe, toast, confirm: confirmDialog, showFormError, formatBytes, plural, icon, csrfToken };
})();
