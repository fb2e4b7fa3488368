// activity.js: the user's recent calls (GET /v1/users/{id}/calls) and audit log
// (GET /v1/users/{id}/audit) as two tabs.

import {h, fill} from './dom.js';
import {api, userPath, explain} from './api.js';
import {when, duration, targetText, jsonText, ruleText} from './format.js';

export function activityPanel(id, signal) {
  const tabs = [
    {key: 'calls', label: 'Recent calls'},
    {key: 'audit', label: 'Audit log'},
  ];
  let current = 'calls';
  let auditLimit = 20;
  const panels = {};
  const buttons = tabs.map((t) => {
    panels[t.key] = h('div', {role: 'tabpanel', id: `panel-${t.key}`, 'aria-labelledby': `tab-${t.key}`,
      tabindex: '0', hidden: t.key !== current});
    return h('button', {type: 'button', role: 'tab', id: `tab-${t.key}`, class: 'tab',
      'aria-controls': `panel-${t.key}`, 'aria-selected': String(t.key === current),
      tabindex: t.key === current ? '0' : '-1', onclick: () => select(t.key)}, t.label);
  });
  const tablist = h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Activity'}, buttons);
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  tablist.addEventListener('keydown', (ev) => {
    const i = tabs.findIndex((t) => t.key === current);
    let j = -1;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    if (ev.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
    if (j < 0) return;
    ev.preventDefault();
    select(tabs[j].key);
    buttons[j].focus();
  });
  const el = h('section', {class: 'panel', id: 'activity', 'aria-label': 'Activity'},
    tablist, tabs.map((t) => panels[t.key]));

  function select(key) {
    current = key;
    tabs.forEach((t, i) => {
      buttons[i].setAttribute('aria-selected', String(t.key === key));
      buttons[i].tabIndex = t.key === key ? 0 : -1;
      panels[t.key].hidden = t.key !== key;
    });
    load();
  }

  function load() {
    if (current === 'calls') loadCalls();
    else loadAudit();
  }

  async function loadCalls() {
    const box = panels.calls;
    try {
      const {data} = await api('GET', userPath(id, '/calls?limit=50'), {signal});
      if (!data.items.length) {
        fill(box, h('p', {class: 'muted empty'}, 'No calls recorded yet.'));
        return;
      }
      fill(box, h('table', {class: 'stack-sm', id: 'calls-table'},
        h('thead', null, h('tr', null, ['When', 'Direction', 'From', 'To', 'Outcome', 'Duration'].map((c) =>
          h('th', {scope: 'col'}, c)))),
        h('tbody', null, data.items.map((c) => h('tr', null,
          h('td', {'data-label': 'When'}, when(c.start)),
          h('td', {'data-label': 'Direction'}, c.direction),
          h('td', {'data-label': 'From'}, c.from_name ? `${c.from_name} ` : '', c.from || 'withheld'),
          h('td', {'data-label': 'To'}, c.to),
          h('td', {'data-label': 'Outcome'}, h('span', {class: `outcome-tag ${c.outcome}`}, c.outcome),
            c.by ? ` · ${targetText(c.by)}` : '', c.reason ? ` (${ruleText(c.reason)})` : '',
            c.forwards && c.forwards.length ? h('div', {class: 'muted small'}, 'via ' + c.forwards.join(', ')) : null),
          h('td', {'data-label': 'Duration'}, duration(c.start, c.end)))))));
    } catch (err) {
      if (err.name !== 'AbortError') fill(box, h('p', {class: 'field-error'}, explain(err)));
    }
  }

  async function loadAudit() {
    const box = panels.audit;
    try {
      const {data} = await api('GET', userPath(id, `/audit?limit=${auditLimit}`), {signal});
      if (!data.items.length) {
        fill(box, h('p', {class: 'muted empty'}, 'No changes recorded.'));
        return;
      }
      const more = data.items.length >= auditLimit && auditLimit < 500 ?
        h('button', {type: 'button', class: 'btn btn-small', onclick: () => {
          auditLimit = Math.min(500, auditLimit * 5);
          loadAudit();
        }}, 'Show older changes') : null;
      fill(box, h('ol', {class: 'audit', id: 'audit-list'}, data.items.map((e) => h('li', null,
        h('div', null, h('strong', null, e.actor), ` ${e.op}`, e.version ? ` → version ${e.version}` : '',
          h('span', {class: 'muted small'}, ' · ', when(e.at))),
        changes(e.changes)))), more);
    } catch (err) {
      if (err.name !== 'AbortError') fill(box, h('p', {class: 'field-error'}, explain(err)));
    }
  }

  return {el, load};
}

// changes lists an entry's field changes, the first 12 shown, the rest counted.
function changes(list) {
  if (!list || !list.length) return null;
  const shown = list.slice(0, 12).map((c) => h('li', null, h('span', {class: 'mono'}, c.path), ': ',
    c.old === null ? ['set to ', h('span', {class: 'new'}, jsonText(c.new))] :
      c.new === null ? ['removed (was ', h('span', {class: 'old'}, jsonText(c.old)), ')'] :
        [h('span', {class: 'old'}, jsonText(c.old)), ' → ', h('span', {class: 'new'}, jsonText(c.new))]));
  if (list.length > 12) shown.push(h('li', {class: 'muted'}, `and ${list.length - 12} more`));
  return h('ul', null, shown);
}
