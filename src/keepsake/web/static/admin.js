/* Administration: adding accounts, setting quotas, and retrying failed background jobs. */
(function () {
  'use strict';

  function quotaBytes(value) {
    const text = String(value || '').trim();
    if (!text) return null;
    const gb = Number(text.replace(',', '.'));
    if (!Number.isFinite(gb) || gb < 0) throw new Error('A quota is a number of gigabytes, or empty for no limit.');
    return Math.round(gb * 1e9);
  }

  for (const form of document.querySelectorAll('.quota-form')) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const quota = quotaBytes(form.elements.namedItem('quota_gb').value);
        await KS.api('PUT', `/api/admin/users/${form.dataset.user}/quota`, { quota_bytes: quota });
        KS.toast(quota === null ? 'Quota removed' : `Quota set to ${KS.formatBytes(quota)}`);
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('[data-access]') : null;
    if (!button) return;
    const disable = button.dataset.access === 'disable';
    if (disable) {
      const ok = await KS.confirm(
        `Disable ${button.dataset.email}?`,
        'They are logged out everywhere and cannot log in until you enable the account again. Their photos stay.',
        'Disable account',
      );
      if (!ok) return;
    }
    try {
      await KS.api('POST', `/api/admin/users/${button.dataset.user}/${disable ? 'disable' : 'enable'}`);
      location.reload();
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });

  // --- failed jobs ------------------------------------------------------------------------

  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('[data-retry]') : null;
    if (!button) return;
    button.disabled = true;
    try {
      const run = await KS.api('POST', `/api/admin/jobs/${button.dataset.retry}/retry`);
      const outcome = {
        succeeded: 'it ran and succeeded',
        skipped: 'it ran and had nothing to do',
        failed: 'it failed again',
        running: 'it is running',
      }[run.state] || 'it is queued';
      sessionStorage.setItem('ks-flash', `Retried ${run.name}: ${outcome}.`);
      location.reload();
    } catch (err) {
      button.disabled = false;
      KS.toast(KS.describe(err), { error: true });
    }
  });

  const form = document.getElementById('user-form');
  if (!form) return;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = form.elements;
    const error = document.getElementById('user-error');
    error.textContent = '';
    try {
      const body = {
        email: f.namedItem('email').value.trim(),
        password: f.namedItem('password').value,
        display_name: f.namedItem('display_name').value.trim(),
        is_admin: f.namedItem('is_admin').checked,
        quota_bytes: quotaBytes(f.namedItem('quota_gb').value),
      };
      if (!body.email || body.password.length < 8) {
        throw new Error('Enter an email address and a first password of at least 8 characters.');
      }
      await KS.api('POST', '/api/admin/users', body);
      sessionStorage.setItem('ks-flash', `Added ${body.email}`);
      location.reload();
    } catch (err) {
      error.textContent = KS.describe(err);
    }
  });

  const flash = sessionStorage.getItem('ks-flash');
  if (flash) {
    sessionStorage.removeItem('ks-flash');
    KS.toast(flash);
  }
})();
