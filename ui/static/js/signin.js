// signin.js: the sign-in form. The token is checked with GET /v1/whoami before it is
// kept; the form never submits (the CSP forbids it too), so the token never reaches a URL.

import {h, fill} from './dom.js';
import {api, explain} from './api.js';
import {setToken, clearToken} from './session.js';

export function signinView(root, {message, onSignedIn}) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', required: true, 'aria-describedby': 'token-help token-error',
  });
  const error = h('p', {id: 'token-error', class: 'field-error', role: 'alert'}, message || '');
  const submit = h('button', {type: 'submit', class: 'btn btn-primary', id: 'signin'}, 'Sign in');
  const form = h('form', {method: 'post', novalidate: true, autocomplete: 'off'},
    h('div', {class: 'field'},
      h('label', {for: 'token'}, 'API token'),
      input,
      h('p', {id: 'token-help', class: 'hint'},
        'Paste it once: it stays in this browser tab only and is forgotten when the tab closes or you sign out. ',
        'sophiad prints the first admin token when it starts; others come from ', h('code', null, 'sophiactl tokens create'), '.'),
      error),
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Paste a token first.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    setToken(token);
    try {
      const {data} = await api('GET', '/v1/whoami');
      input.value = '';
      onSignedIn(data);
    } catch (err) {
      clearToken();
      error.textContent = err.status === 401 ? 'This token is not valid.' : explain(err);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      submit.disabled = false;
    }
  });
  fill(root, h('section', {class: 'panel signin', 'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title', tabindex: '-1'}, 'Sign in to sophia'),
    h('p', {class: 'muted'}, 'Call forwarding, do not disturb and routing for every user.'),
    form));
  input.focus();
  return {stop() {}};
}
