// main.js: boots the page, keeps who is signed in, and routes paths to views:
//   /              the users list (a self-service token goes to its own sheet instead)
//   /users/<id>    one user's page
// Views are functions (root, ctx) → {stop}; stop ends their polling and requests.

import {h, fill} from './dom.js';
import {api, explain} from './api.js';
import {getToken, clearToken} from './session.js';
import {signinView} from './signin.js';
import {usersView} from './users.js';
import {userView} from './user.js';

const main = document.getElementById('main');
const pollMeta = document.querySelector('meta[name="sophia-poll-ms"]');
const pollMs = Math.max(250, Number(pollMeta && pollMeta.content) || 5000);

let who = null; // the token as GET /v1/whoami tells it
let view = null;

const ctx = {
  pollMs,
  get who() {
    return who;
  },
  navigate,
  toast,
  // canList: the token sees a list of users (scope all or site).
  get canList() {
    return who && who.scope.kind !== 'user';
  },
};

function navigate(path, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function stopView() {
  if (view) view.stop();
  view = null;
}

function route() {
  stopView();
  if (!who) return;
  const path = location.pathname;
  const m = path.match(/^\/users\/([^/]+)\/?$/);
  let id = null;
  if (m) {
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      id = null;
    }
  }
  if (who.scope.kind === 'user' && id !== who.scope.id) {
    // A self-service token has one page: its own sheet.
    history.replaceState(null, '', '/users/' + encodeURIComponent(who.scope.id));
    id = who.scope.id;
  }
  markNav(id ? null : 'users');
  if (id) {
    view = userView(main, ctx, id);
  } else if (path === '/' || path === '') {
    view = usersView(main, ctx);
  } else {
    document.title = 'Not found · sophia';
    fill(main, h('section', {class: 'panel'},
      h('h1', {tabindex: '-1'}, 'Nothing here'),
      h('p', null, 'This page does not exist. ', h('a', {href: '/', 'data-nav': ''}, 'Go to the users list'), '.')));
  }
}

function markNav(current) {
  const users = document.getElementById('nav-users');
  if (current === 'users') users.setAttribute('aria-current', 'page');
  else users.removeAttribute('aria-current');
}

function showWho() {
  const box = document.getElementById('who');
  const nav = document.getElementById('nav');
  if (!who) {
    box.hidden = true;
    nav.hidden = true;
    return;
  }
  document.getElementById('who-name').textContent = who.name;
  const s = who.scope;
  document.getElementById('who-scope').textContent =
    s.kind === 'all' ? 'all sites' : s.kind === 'site' ? 'site ' + s.id : 'self-service: ' + s.id;
  box.hidden = false;
  nav.hidden = !ctx.canList;
}

function signIn(message) {
  stopView();
  who = null;
  showWho();
  document.title = 'Sign in · sophia';
  view = signinView(main, {
    message,
    onSignedIn(w) {
      who = w;
      showWho();
      route();
      main.focus();
    },
  });
}

function signOut(message) {
  clearToken();
  signIn(message);
}

let toastTimer = 0;
function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}

// In-page links (data-nav) change the view without reloading the page.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-nav]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  if (!who) return;
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', route);
window.addEventListener('sophia:unauthorized', () => {
  if (who) signOut('The token is no longer valid: sign in again.');
});
document.getElementById('signout').addEventListener('click', () => signOut('Signed out.'));

async function boot() {
  if (!getToken()) {
    signIn('');
    return;
  }
  fill(main, h('p', {class: 'loading'}, 'Loading…'));
  try {
    const {data} = await api('GET', '/v1/whoami');
    who = data;
    showWho();
    route();
  } catch (err) {
    if (err.status === 401) signOut('The token is no longer valid: sign in again.');
    else {
      fill(main, h('div', {class: 'banner banner-error', role: 'alert'},
        h('p', null, explain(err)),
        h('button', {type: 'button', class: 'btn', onclick: boot}, 'Retry')));
    }
  }
}

boot();
