/* Settings: API keys (create, shown once; revoke). */
(function () {
  'use strict';

  const form = document.getElementById('key-form');
  if (!form) return;
  const body = document.getElementById('keys-body');
  const table = document.getElementById('keys-table');
  const none = document.getElementById('keys-empty');
  const secretBox = document.getElementById('key-secret');
  const secretValue = document.getElementById('key-secret-value');

  function cell(text) {
    const td = document.createElement('td');
    td.textContent = text;
    return td;
  }

  function revokeButton(key) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button small danger-text';
    button.dataset.revoke = key.id;
    button.dataset.name = key.name;
    button.textContent = 'Revoke';
    const hidden = document.createElement('span');
    hidden.className = 'visually-hidden';
    hidden.textContent = ` ${key.name}`;
    button.append(hidden);
    return button;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = form.elements.namedItem('name').value.trim();
    const error = document.getElementById('key-error');
    error.textContent = '';
    if (!name) {
      error.textContent = 'Name the key after the program or computer that will use it.';
      form.elements.namedItem('name').focus();
      return;
    }
    try {
      const key = await KS.api('POST', '/api/api-keys', { name, scopes: [form.elements.namedItem('scope').value] });
      const row = document.createElement('tr');
      row.dataset.key = key.id;
      const code = document.createElement('code');
      code.textContent = `${key.prefix}…`;
      const prefix = document.createElement('td');
      prefix.append(code);
      const actions = document.createElement('td');
      actions.append(revokeButton(key));
      row.append(cell(key.name), prefix, cell(key.scopes.join(', ')), cell('just now'), cell('never'), actions);
      body.append(row);
      table.hidden = false;
      none.hidden = true;
      form.reset();
      secretValue.value = key.secret;
      secretBox.hidden = false;
      secretValue.focus();
      secretValue.select();
    } catch (err) {
      error.textContent = KS.describe(err);
    }
  });

  document.getElementById('key-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secretValue.value);
      KS.toast('Copied');
    } catch (_) {
      secretValue.select();
      KS.toast('Press Ctrl+C (or ⌘C) to copy the selected key.');
    }
  });

  body.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('[data-revoke]') : null;
    if (!button) return;
    const ok = await KS.confirm(
      `Revoke “${button.dataset.name}”?`,
      'Programs using this key lose access at once.',
      'Revoke key',
    );
    if (!ok) return;
    try {
      await KS.api('DELETE', `/api/api-keys/${button.dataset.revoke}`);
      button.closest('tr').remove();
      if (!body.children.length) {
        table.hidden = true;
        none.hidden = false;
      }
      KS.toast(`Revoked ${button.dataset.name}`);
    } catch (err) {
      KS.toast(KS.describe(err), { error: true });
    }
  });
})();

/* Settings: password, two-factor login, sessions. */
(function () {
  'use strict';

  // --- password -----------------------------------------------------------------------

  const passwordForm = document.getElementById('password-form');
  if (passwordForm) {
    passwordForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = passwordForm.elements;
      const next = f.namedItem('new_password').value;
      const problems = [];
      if (next.length < 8) problems.push({ loc: ['new_password'], msg: 'Use at least 8 characters.' });
      if (next !== f.namedItem('new_password2').value) problems.push({ loc: ['new_password2'], msg: 'The two new passwords differ.' });
      if (problems.length) {
        KS.showFormError(passwordForm, new KS.Problem(422, { detail: 'Please correct the marked fields.', errors: problems }), 'password-error');
        return;
      }
      try {
        await KS.api('POST', '/api/users/me/password', {
          current_password: f.namedItem('current_password').value,
          new_password: next,
        });
        passwordForm.reset();
        KS.showFormError(passwordForm, new Error(''), 'password-error');
        KS.toast('Password changed. Your other sessions were logged out.');
      } catch (err) {
        KS.showFormError(passwordForm, err, 'password-error');
      }
    });
  }

  // --- two-factor login ---------------------------------------------------------------

  async function askPassword(title, text) {
    const dialog = document.getElementById('password-dialog');
    const input = document.getElementById('confirm-password');
    document.getElementById('password-dialog-title').textContent = title;
    document.getElementById('password-dialog-text').textContent = text;
    input.value = '';
    dialog.returnValue = '';
    dialog.showModal();
    input.focus();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? input.value : null), { once: true });
    });
  }

  function showRecovery(codes) {
    const box = document.getElementById('tfa-recovery');
    const list = document.getElementById('tfa-recovery-list');
    list.replaceChildren(...codes.map((code) => {
      const li = document.createElement('li');
      const c = document.createElement('code');
      c.textContent = code;
      li.append(c);
      return li;
    }));
    box.hidden = false;
    box.focus();
  }

  const on = document.getElementById('tfa-on');
  if (on) {
    on.addEventListener('click', async () => {
      const password = await askPassword('Turn on two-factor login', 'Enter your password to continue.');
      if (password === null) return;
      try {
        const setup = await KS.api('POST', '/api/users/me/two-factor/setup', { password });
        document.getElementById('tfa-secret').textContent = setup.secret.replace(/(.{4})/g, '$1 ').trim();
        document.getElementById('tfa-uri').href = setup.uri;
        const box = document.getElementById('tfa-setup');
        box.hidden = false;
        document.getElementById('tfa-code').focus();
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
    document.getElementById('tfa-enable-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const code = document.getElementById('tfa-code').value.replace(/\s+/g, '');
      try {
        const result = await KS.api('POST', '/api/users/me/two-factor/enable', { code });
        document.getElementById('tfa-setup').hidden = true;
        on.hidden = true;
        document.getElementById('tfa-state').textContent = 'On. Logging in asks for a code from your authenticator app.';
        showRecovery(result.recovery_codes);
      } catch (err) {
        document.getElementById('tfa-error').textContent = KS.describe(err);
      }
    });
  }

  const off = document.getElementById('tfa-off');
  if (off) {
    off.addEventListener('click', async () => {
      const password = await askPassword('Turn off two-factor login', 'Logging in will ask for your password only. Enter it to confirm.');
      if (password === null) return;
      try {
        await KS.api('POST', '/api/users/me/two-factor/disable', { password });
        location.reload();
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
    document.getElementById('tfa-codes').addEventListener('click', async () => {
      const password = await askPassword('New recovery codes', 'The old codes stop working. Enter your password to confirm.');
      if (password === null) return;
      try {
        const result = await KS.api('POST', '/api/users/me/two-factor/recovery-codes', { password });
        showRecovery(result.recovery_codes);
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }

  // --- sessions -----------------------------------------------------------------------

  const sessions = document.getElementById('sessions-body');
  if (sessions) {
    sessions.addEventListener('click', async (event) => {
      const button = event.target instanceof Element ? event.target.closest('[data-end-session]') : null;
      if (!button) return;
      try {
        await KS.api('DELETE', `/api/sessions/${button.dataset.endSession}`);
        button.closest('tr').remove();
        KS.toast('That session is logged out.');
      } catch (err) {
        KS.toast(KS.describe(err), { error: true });
      }
    });
  }
})();
