/* Privacy centre: consent switches (withdrawal asks first), the ledger's chain check, the
   takeout's face-template choice, and account deletion with its cancellation. Changes go
   through the JSON API; the page reloads to show the new state and its ledger entries. */
(function () {
  'use strict';

  const FLASH = 'ks-privacy-flash';
  const FOCUS = 'ks-privacy-focus';
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  /** The server's format for times: "17 May 2024, 10:30 UTC". */
  function when(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const pad = (n) => String(n).padStart(2, '0');
    return `${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }

  /** Reload to show the new state; say what happened and keep the keyboard where it was. */
  function reloadWith(message, focusId) {
    sessionStorage.setItem(FLASH, message);
    if (focusId) sessionStorage.setItem(FOCUS, focusId);
    location.reload();
  }

  const flash = sessionStorage.getItem(FLASH);
  if (flash) {
    sessionStorage.removeItem(FLASH);
    KS.toast(flash);
  }
  const focusId = sessionStorage.getItem(FOCUS);
  if (focusId) {
    sessionStorage.removeItem(FOCUS);
    const target = document.getElementById(focusId);
    if (target) target.focus();
  }

  // --- consent ----------------------------------------------------------------------------

  const dialog = document.getElementById('withdraw-dialog');
  let withdrawing = null; // the purpose <li> the dialog is about

  function purposeOf(el) {
    return el.closest('.purpose');
  }

  function errorSlot(item) {
    return document.getElementById(`purpose-${item.dataset.purpose}-error`);
  }

  async function grant(item, button) {
    errorSlot(item).textContent = '';
    button.disabled = true;
    try {
      // The consent records the version of the text this page showed.
      await KS.api('PUT', `/api/consent/${item.dataset.purpose}`, { version: Number(item.dataset.version) });
      reloadWith(`Consent given: ${item.dataset.title}.`, button.id);
    } catch (err) {
      button.disabled = false;
      errorSlot(item).textContent = KS.describe(err);
    }
  }

  function askWithdraw(item, opener) {
    withdrawing = { item, opener };
    const faces = item.dataset.purpose === 'face_recognition';
    document.getElementById('withdraw-title').textContent = `Turn off “${item.dataset.title}”?`;
    document.getElementById('withdraw-text').textContent = item.dataset.effects;
    document.getElementById('keep-names').hidden = !faces;
    document.getElementById('names-delete').checked = true;
    document.getElementById('withdraw-ok').textContent = faces ? 'Turn off and delete' : 'Turn off';
    dialog.returnValue = '';
    dialog.showModal();
    dialog.querySelector('button[value="cancel"]').focus();
  }

  if (dialog) {
    dialog.addEventListener('close', async () => {
      const current = withdrawing;
      withdrawing = null;
      if (!current) return;
      if (dialog.returnValue !== 'ok') {
        current.opener.focus();
        return;
      }
      const { item, opener } = current;
      const purpose = item.dataset.purpose;
      const keep = purpose === 'face_recognition' && document.getElementById('names-keep').checked;
      errorSlot(item).textContent = '';
      try {
        const result = await KS.api('DELETE', `/api/consent/${purpose}?keep_names=${keep}`);
        let message = `Consent withdrawn: ${item.dataset.title}.`;
        if (result && result.templates_deleted !== null && result.templates_deleted !== undefined) {
          message += ` ${KS.plural(result.templates_deleted, 'face template')} deleted.`;
        }
        if (keep) message += ' The names you gave to people were kept.';
        reloadWith(message, `switch-${purpose}`);
      } catch (err) {
        errorSlot(item).textContent = KS.describe(err);
        opener.focus();
      }
    });
  }

  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const sw = target.closest('.purpose .switch');
    if (sw) {
      const item = purposeOf(sw);
      if (sw.getAttribute('aria-checked') === 'true') askWithdraw(item, sw);
      else grant(item, sw);
      return;
    }
    const withdraw = target.closest('[data-withdraw]');
    if (withdraw) askWithdraw(purposeOf(withdraw), withdraw);
  });

  // --- the ledger's hash chain --------------------------------------------------------------

  const verify = document.getElementById('ledger-verify');
  if (verify) {
    KS.api('GET', '/api/ledger/verify')
      .then((result) => {
        if (result.ok) {
          verify.dataset.state = 'ok';
          verify.textContent = result.entries
            ? `The chain verifies: none of the ${KS.plural(result.entries, 'entry', 'entries')} was changed, removed or inserted afterwards.`
            : 'The chain verifies. It has no entries yet.';
        } else {
          verify.dataset.state = 'broken';
          verify.textContent = `The chain does not verify: entry ${result.broken_at} is wrong (${result.reason}). Entries may have been changed or removed; tell the server's administrator.`;
        }
      })
      .catch((err) => {
        verify.dataset.state = 'error';
        verify.textContent = `The chain could not be checked: ${KS.describe(err)}`;
      });
  }

  // --- takeout ------------------------------------------------------------------------------

  const takeout = document.getElementById('takeout-form');
  if (takeout) {
    takeout.addEventListener('submit', async (event) => {
      const templates = document.getElementById('include-templates').checked;
      if (!templates) {
        KS.toast('Your takeout is being made and downloads as it goes.');
        return; // the browser downloads it
      }
      event.preventDefault();
      const ok = await KS.confirm(
        'Include your face templates?',
        'Face templates are biometric data: they identify you and the people in your photos. Anyone who gets a copy of the archive could use them.',
        'Include them',
      );
      if (!ok) {
        document.getElementById('include-templates').focus();
        return;
      }
      KS.toast('Your takeout, with face templates, is being made and downloads as it goes.');
      takeout.submit();
    });
  }

  // --- account deletion ---------------------------------------------------------------------

  const scheduled = document.getElementById('deletion-scheduled');
  const request = document.getElementById('deletion-request');
  const cancelLive = document.getElementById('cancel-live');
  const relogin = document.getElementById('relogin-form');

  /** Show the scheduled deletion; cancel through the API while logged in, else by logging in. */
  async function showScheduled(state) {
    document.getElementById('purge-date').textContent = when(state.purge_after);
    request.hidden = true;
    scheduled.hidden = false;
    // Asking for a deletion ends every session: look, without being sent to the login page.
    let loggedIn = false;
    try {
      const response = await fetch('/api/account/deletion', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      loggedIn = response.ok;
    } catch (_) {
      loggedIn = false;
    }
    cancelLive.hidden = !loggedIn || state.by_admin;
    relogin.hidden = loggedIn || state.by_admin;
    document.getElementById('deletion-status').focus();
  }

  const deletionForm = document.getElementById('deletion-form');
  if (deletionForm) {
    deletionForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const input = document.getElementById('deletion-password');
      if (!input.value) {
        KS.showFormError(deletionForm, new KS.Problem(422, {
          detail: 'Enter your password to confirm.',
          errors: [{ loc: ['password'], msg: 'Enter your password.' }],
        }), 'deletion-error');
        input.focus();
        return;
      }
      const ok = await KS.confirm(
        'Delete your account?',
        `You are logged out everywhere now, and everything in your account is purged after ${document.getElementById('grace-days').textContent}. Logging in again before then cancels.`,
        'Delete my account',
      );
      if (!ok) return;
      try {
        const state = await KS.api('POST', '/api/account/deletion', { password: input.value });
        input.value = '';
        KS.showFormError(deletionForm, new Error(''), 'deletion-error');
        await showScheduled(state);
      } catch (err) {
        KS.showFormError(deletionForm, err, 'deletion-error');
        input.focus();
      }
    });
  }

  const cancelButton = document.getElementById('cancel-deletion');
  if (cancelButton) {
    cancelButton.addEventListener('click', async () => {
      const error = document.getElementById('cancel-error');
      error.textContent = '';
      try {
        await KS.api('DELETE', '/api/account/deletion');
        reloadWith('The deletion is cancelled; your account stays.', 'deletion');
      } catch (err) {
        error.textContent = KS.describe(err);
      }
    });
  }

  if (relogin) {
    relogin.addEventListener('submit', async (event) => {
      event.preventDefault();
      const error = document.getElementById('relogin-error');
      const codeField = document.getElementById('relogin-code-field');
      const code = document.getElementById('relogin-code').value.replace(/\s+/g, '');
      const password = document.getElementById('relogin-password').value;
      error.textContent = '';
      if (!password) {
        error.textContent = 'Enter your password.';
        document.getElementById('relogin-password').focus();
        return;
      }
      try {
        const body = { email: relogin.dataset.email, password };
        if (!codeField.hidden && code) body.code = code;
        await KS.api('POST', '/api/auth/login', body);
        // Logging in cancels a deletion the user asked for; make sure, whatever the server does.
        const state = await KS.api('GET', '/api/account/deletion');
        if (state && state.scheduled) await KS.api('DELETE', '/api/account/deletion');
        reloadWith('You are logged in again, and the deletion is cancelled; your account stays.', 'deletion');
      } catch (err) {
        if (err instanceof KS.Problem && err.type.endsWith('second-factor-required')) {
          codeField.hidden = false;
          error.textContent = 'Enter the code from your authenticator app as well.';
          document.getElementById('relogin-code').focus();
          return;
        }
        error.textContent = KS.describe(err);
      }
    });
  }
})();
