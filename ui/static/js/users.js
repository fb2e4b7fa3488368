// users.js: the users list: search by name or number, filter by site, page by the
// API's cursor (limit/after/next); each row shows DND and the forwards that are on.

import {h, fill} from './dom.js';
import {api, explain} from './api.js';
import {FORWARDS, forwardOf, forwardTargetText} from './format.js';

const PAGE = 25;

// A query made of digits, spaces and + ( ) . - is a number: the API finds its holder
// (main or associated number, any written form); anything else searches names.
const NUMBERISH = /^\+?[\d\s().-]+$/;

export function usersView(root, ctx) {
  document.title = 'Users · sophia';
  const params = new URLSearchParams(location.search);
  const state = {q: params.get('q') || '', site: params.get('site') || '', after: params.get('after') || ''};
  const previous = []; // cursors of the pages before this one
  let inflight = null;
  let debounce = 0;

  const search = h('input', {id: 'search', type: 'search', value: state.q, autocomplete: 'off',
    placeholder: 'Name or number', 'aria-describedby': 'search-hint'});
  const siteSelect = h('select', {id: 'site-filter'}, h('option', {value: ''}, 'All sites'));
  const siteField = h('div', {class: 'field narrow', hidden: ctx.who.scope.kind !== 'all'},
    h('label', {for: 'site-filter'}, 'Site'), siteSelect);
  const status = h('p', {id: 'list-status', class: 'muted small', role: 'status', 'aria-live': 'polite'});
  const tbody = h('tbody');
  const table = h('table', {class: 'stack-sm', id: 'users-table'},
    h('caption', {class: 'skip'}, 'Users'),
    h('thead', null, h('tr', null,
      h('th', {scope: 'col'}, 'User'), h('th', {scope: 'col'}, 'Number'), h('th', {scope: 'col'}, 'Site'),
      h('th', {scope: 'col'}, 'Do not disturb'), h('th', {scope: 'col'}, 'Forwards on'))),
    tbody);
  const prevBtn = h('button', {type: 'button', class: 'btn', id: 'prev', onclick: prevPage}, '← Previous');
  const nextBtn = h('button', {type: 'button', class: 'btn', id: 'next', onclick: nextPage}, 'Next →');
  const error = h('div', {id: 'list-error', role: 'alert'});

  fill(root, h('section', {class: 'panel', 'aria-labelledby': 'users-title'},
    h('div', {class: 'panel-head'},
      h('h1', {id: 'users-title', tabindex: '-1'}, 'Users'),
      ctx.who.scope.kind === 'site' ? h('p', null, 'Site ' + ctx.who.scope.id) : null),
    h('form', {class: 'toolbar', role: 'search', onsubmit: (ev) => {
      ev.preventDefault();
      restart();
    }},
    h('div', {class: 'field'},
      h('label', {for: 'search'}, 'Search'), search,
      h('p', {id: 'search-hint', class: 'hint'}, 'Part of a name, or a whole number in any form.')),
    siteField),
    error, status,
    h('div', {class: 'table-wrap'}, table),
    h('div', {class: 'pager'}, prevBtn, nextBtn)));

  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(restart, 250);
  });
  siteSelect.addEventListener('change', restart);

  if (ctx.who.scope.kind === 'all') loadSites();

  function restart() {
    state.q = search.value.trim();
    state.site = siteSelect.value;
    state.after = '';
    previous.length = 0;
    load();
  }

  function nextPage() {
    if (!state.next) return;
    previous.push(state.after);
    state.after = state.next;
    load();
  }

  function prevPage() {
    state.after = previous.pop() || '';
    load();
  }

  async function loadSites() {
    try {
      const {data} = await api('GET', '/v1/sites?limit=500');
      for (const s of data.items) {
        siteSelect.append(h('option', {value: s.id, selected: s.id === state.site}, `${s.name} (${s.id})`));
      }
    } catch {
      siteField.hidden = true; // the list still works without the filter
    }
  }

  async function load() {
    if (inflight) inflight.abort();
    const ac = new AbortController();
    inflight = ac;
    const q = new URLSearchParams();
    if (state.q) q.set(NUMBERISH.test(state.q) ? 'number' : 'name', state.q);
    if (state.site) q.set('site', state.site);
    if (state.after) q.set('after', state.after);
    // The URL keeps the search (never the token), so back and reload find it again.
    const shown = new URLSearchParams();
    if (state.q) shown.set('q', state.q);
    if (state.site) shown.set('site', state.site);
    if (state.after) shown.set('after', state.after);
    history.replaceState(null, '', shown.toString() ? '/?' + shown : '/');
    q.set('limit', String(PAGE));
    status.textContent = 'Loading…';
    try {
      const {data} = await api('GET', '/v1/users?' + q, {signal: ac.signal});
      state.next = data.next || '';
      fill(error);
      render(data.items);
    } catch (err) {
      if (err.name === 'AbortError') return;
      fill(error, h('div', {class: 'banner banner-error'}, h('p', null, explain(err)),
        h('button', {type: 'button', class: 'btn', onclick: load}, 'Retry')));
      status.textContent = '';
    } finally {
      if (inflight === ac) inflight = null;
    }
  }

  function render(items) {
    const first = previous.length * PAGE + 1;
    status.textContent = items.length === 0 ? '' :
      `Users ${first}–${first + items.length - 1}${state.next ? '' : ' (last page)'}`;
    prevBtn.disabled = previous.length === 0 && !state.after;
    nextBtn.disabled = !state.next;
    if (items.length === 0) {
      fill(tbody, h('tr', null, h('td', {colspan: '5', class: 'empty'},
        state.q || state.site ? 'No user matches.' : 'No users yet.')));
      return;
    }
    fill(tbody, items.map(row));
  }

  function row(u) {
    const on = FORWARDS.filter((f) => forwardOf(u, f.kind).enabled).map((f) =>
      h('span', {class: 'chip', title: f.title}, `${f.short} → ${forwardTargetText(u, f.kind)}`));
    const sched = u.forwards.scheduled || [];
    const schedOn = sched.filter((r) => r.enabled).length;
    if (schedOn) on.push(h('span', {class: 'chip', title: 'Scheduled forwards on'}, `Scheduled ${schedOn}/${sched.length}`));
    return h('tr', {'data-user': u.id},
      h('td', {'data-label': 'User'},
        h('a', {class: 'user-link', href: '/users/' + encodeURIComponent(u.id), 'data-nav': ''}, u.name || u.id),
        h('div', {class: 'muted small mono'}, u.id)),
      h('td', {'data-label': 'Number'}, u.main_number || '—'),
      h('td', {'data-label': 'Site'}, u.site),
      h('td', {'data-label': 'Do not disturb'},
        u.dnd ? h('span', {class: 'chip chip-dnd'}, 'DND on') : h('span', {class: 'chip chip-none'}, 'off')),
      h('td', {'data-label': 'Forwards on'},
        h('div', {class: 'chips'}, on.length ? on : h('span', {class: 'chip chip-none'}, 'none'))));
  }

  // Back on the tab: show what changed meanwhile.
  const onVisible = () => {
    if (document.visibilityState === 'visible') load();
  };
  document.addEventListener('visibilitychange', onVisible);

  load();
  root.querySelector('h1').focus();
  return {
    stop() {
      clearTimeout(debounce);
      if (inflight) inflight.abort();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}
