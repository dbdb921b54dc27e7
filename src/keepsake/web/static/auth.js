/* First-run setup and login: the forms post JSON to the API, which sets the session and
   CSRF cookies; then the browser goes on to the library. */
(function () {
  'use strict';

  function busy(form, on) {
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = on;
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  async function login(email, password) {
    await KS.api('POST', '/api/auth/login', { email, password });
  }

  const setup = document.getElementById('setup-form');
  if (setup) {
    setup.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = setup.elements;
      const email = f.namedItem('email').value.trim();
      const password = f.namedItem('password').value;
      const problems = [];
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) problems.push({ loc: ['email'], msg: 'Enter an email address, like name@example.org.' });
      if (password.length < 8) problems.push({ loc: ['password'], msg: 'Use at least 8 characters.' });
      if (password !== f.namedItem('password2').value) problems.push({ loc: ['password2'], msg: 'The two passwords differ.' });
      if (problems.length) {
        KS.showFormError(setup, new KS.Problem(422, { detail: 'Please correct the marked fields.', errors: problems }));
        setup.querySelector('[aria-invalid="true"]').focus();
        return;
      }
      busy(setup, true);
      try {
        await KS.api('POST', '/api/setup', {
          email,
          password,
          display_name: f.namedItem('display_name').value.trim(),
        });
        await login(email, password);
        location.assign('/');
      } catch (err) {
        KS.showFormError(setup, err);
        busy(setup, false);
      }
    });
  }

  const form = document.getElementById('login-form');
  if (form) {
    const codeField = document.getElementById('code-field');
    const code = document.getElementById('code');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const email = form.elements.namedItem('email').value.trim();
      const password = form.elements.namedItem('password').value;
      if (!email || !password) {
        KS.showFormError(form, new Error('Enter your email and password.'));
        return;
      }
      const body = { email, password };
      if (!codeField.hidden && code.value.trim()) body.code = code.value.trim().replace(/\s+/g, '');
      busy(form, true);
      try {
        await KS.api('POST', '/api/auth/login', body);
        location.assign(form.dataset.next || '/');
      } catch (err) {
        busy(form, false);
        if (err instanceof KS.Problem && err.type.endsWith('/second-factor-required') && codeField.hidden) {
          // Password right; this account also asks for a code from the authenticator.
          codeField.hidden = false;
          KS.showFormError(form, new Error('Two-factor login is on for this account: enter a code to finish.'));
          code.focus();
          return;
        }
        KS.showFormError(form, err);
        if (!codeField.hidden) code.select();
        else form.elements.namedItem('password').select();
      }
    });
  }
})();
