// user.js: one user's page: do not disturb, the forwards and scheduled rules with their
// switches and editors, where a call goes, advice, recent calls and the audit log.
//
// Every write goes through a shortcut route with If-Match = the version shown, so a
// change someone else made meanwhile is refused (409) and said, never overwritten. The
// page polls the sheet (GET with If-None-Match, 304 while unchanged) to show other
// admins' changes; while an editor holds unsaved input it does not redraw under it but
// says the sheet changed.

import {h, fill, uid, switchButton, busy} from './dom.js';
import {api, userPath, explain} from './api.js';
import {FORWARDS, forwardOf, hasTarget, forwardTargetText, targetKind, scheduleText, targetText, clock} from './format.js';
import {routePanel, advicePanel} from './route.js';
import {activityPanel} from './activity.js';

export function userView(root, ctx, id) {
  document.title = id + ' · sophia';
  const ac = new AbortController();
  let sheet = null; // the sheet as shown: its version goes in If-Match
  const editors = new Map(); // kind → {dirty, form}: the open editors
  let pollTimer = 0;
  let stopped = false;
  let directory = null; // users of the site, for the user-target suggestions
  let pendingSheet = null; // a newer sheet held back while an editor has unsaved input

  const banners = h('div', {id: 'banners'});
  const head = h('div', {class: 'user-head'});
  const handling = h('div', {id: 'handling'});
  const live = h('span', {class: 'live', id: 'live', role: 'status', 'aria-live': 'polite'}, 'Live');
  const route = routePanel(ctx, id, ac.signal);
  const advice = advicePanel(id, ac.signal);
  const activity = activityPanel(id, ac.signal);

  fill(root, h('p', {class: 'loading'}, 'Loading…'));

  async function load() {
    try {
      const {data} = await api('GET', userPath(id), {signal: ac.signal});
      sheet = data;
      fill(root,
        banners, head,
        h('div', {class: 'grid'},
          h('section', {class: 'panel', 'aria-labelledby': 'handling-title'},
            h('div', {class: 'panel-head'},
              h('h2', {id: 'handling-title'}, 'Call handling'),
              h('p', null, 'Changes apply to the next call.')),
            handling),
          h('div', {class: 'stack'}, route.el, advice.el)),
        activity.el);
      render();
      root.querySelector('h1').focus();
      refreshDerived();
      activity.load();
      schedulePoll();
    } catch (err) {
      if (err.name === 'AbortError') return;
      fill(root, h('section', {class: 'panel'},
        h('h1', {tabindex: '-1'}, err.status === 404 ? 'No user ' + id : 'Could not load ' + id),
        h('p', null, err.status === 404 ? 'This user does not exist (or was deleted).' : explain(err)),
        ctx.canList ? h('p', null, h('a', {href: '/', 'data-nav': ''}, 'Back to the users list')) : null));
    }
  }

  // render draws the head and the call handling from sheet, reopening the editors
  // that were open (their input is not dirty: a dirty one blocks redraws).
  function render() {
    document.title = (sheet.name || sheet.id) + ' · sophia';
    fill(head,
      h('div', null,
        ctx.canList ? h('p', {class: 'small'}, h('a', {href: '/', 'data-nav': ''}, '← Users')) : null,
        h('h1', {tabindex: '-1'}, sheet.name || sheet.id),
        h('div', {class: 'facts'},
          h('span', {class: 'mono'}, sheet.id),
          sheet.main_number ? h('span', null, '☎ ', sheet.main_number) : null,
          h('span', null, 'site ', sheet.site),
          sheet.device ? h('span', null, 'phone ', sheet.device.id) : h('span', null, 'no phone'),
          h('span', {id: 'version'}, 'version ' + sheet.version))),
      live);
    const list = h('ul', {class: 'settings'});
    list.append(dndRow());
    for (const f of FORWARDS) list.append(forwardRow(f));
    fill(handling, list, scheduledSection());
  }

  function dndRow() {
    const titleId = 'dnd-title';
    const err = h('p', {class: 'field-error', id: 'dnd-error', role: 'alert'});
    const sw = switchButton({
      id: 'dnd-switch', checked: sheet.dnd, labelId: titleId, describedBy: 'dnd-desc', danger: true,
      onToggle: (on) => write(sw, err, 'POST', userPath(id, on ? '/dnd/on' : '/dnd/off'), undefined,
        on ? 'Do not disturb is on' : 'Do not disturb is off'),
    });
    return h('li', {class: 'setting', id: 'dnd'},
      h('div', {class: 'setting-main'},
        h('div', {class: 'setting-text'},
          h('div', {class: 'setting-title', id: titleId}, 'Do not disturb'),
          h('div', {class: 'setting-desc', id: 'dnd-desc'}, 'Calls take the busy path: the busy forward, else voicemail.')),
        h('div', {class: 'setting-controls'}, sw)),
      err);
  }

  function forwardRow(f) {
    const kind = f.kind;
    const fw = forwardOf(sheet, kind);
    const titleId = `fwd-${kind}-title`;
    const descId = `fwd-${kind}-desc`;
    const err = h('p', {class: 'field-error', id: `fwd-${kind}-error`, role: 'alert'});
    const target = forwardTargetText(sheet, kind);
    const sw = switchButton({
      id: `fwd-${kind}-switch`, checked: fw.enabled, labelId: titleId, describedBy: descId,
      onToggle: (on) => write(sw, err, 'POST', userPath(id, `/forwards/${kind}/${on ? 'on' : 'off'}`), undefined,
        `${f.title}: ${on ? 'on' : 'off'}`),
    });
    if (!fw.enabled && !hasTarget(sheet, kind)) sw.disabled = true; // nothing to turn on yet
    const editBtn = h('button', {type: 'button', class: 'btn btn-small', id: `fwd-${kind}-edit`,
      'aria-expanded': String(editors.has(kind)), 'aria-controls': `fwd-${kind}-editor`,
      'aria-label': `Edit: ${f.title}`}, 'Edit');
    const li = h('li', {class: 'setting', id: `fwd-${kind}`},
      h('div', {class: 'setting-main'},
        h('div', {class: 'setting-text'},
          h('div', {class: 'setting-title', id: titleId}, f.title),
          h('div', {class: 'setting-desc', id: descId}, f.desc(sheet)),
          h('div', {class: 'target', id: `fwd-${kind}-shows`},
            target ? [h('span', {class: 'arrow'}, '→ '), target] : h('span', {class: 'muted'}, 'No target set: Edit to choose one.'))),
        h('div', {class: 'setting-controls'}, editBtn, sw)),
      err);
    editBtn.addEventListener('click', () => {
      if (editors.has(kind)) closeEditor(kind);
      else openEditor(f, li);
    });
    const open = editors.get(kind);
    if (open) {
      // An editor holding the admin's input survives a redraw (after another switch
      // was used); an untouched one is rebuilt from the sheet.
      if (!open.dirty) open.form = editorForm(f);
      li.append(open.form);
    }
    return li;
  }

  function openEditor(f, li) {
    const form = editorForm(f);
    editors.set(f.kind, {dirty: false, form});
    li.append(form);
    li.querySelector(`#fwd-${f.kind}-edit`).setAttribute('aria-expanded', 'true');
    const first = li.querySelector('.editor input:checked, .editor textarea');
    if (first) first.focus();
  }

  function closeEditor(kind) {
    editors.delete(kind);
    const form = document.getElementById(`fwd-${kind}-editor`);
    if (form) form.remove();
    const btn = document.getElementById(`fwd-${kind}-edit`);
    if (btn) {
      btn.setAttribute('aria-expanded', 'false');
      btn.focus();
    }
    if (![...editors.values()].some((e) => e.dirty) && pendingSheet) applyRemote(pendingSheet);
  }

  // editorForm is the form of forward f: where calls go (voicemail, a user, a number),
  // the ring timeout for no_answer, the targets and confirmation for simultaneous ring.
  // Problems the API names (422 fields) are shown under the field they name.
  function editorForm(f) {
    const kind = f.kind;
    const fw = forwardOf(sheet, kind);
    const p = `fwd-${kind}`;
    const generalErr = h('p', {class: 'field-error', id: `${p}-form-error`, 'data-error-for': '', role: 'alert'});
    const fields = [];
    if (kind === 'simultaneous_ring') {
      fields.push(h('div', {class: 'field'},
        h('label', {for: `${p}-targets`}, 'Also ring (one per line)'),
        h('textarea', {id: `${p}-targets`, rows: '3', 'aria-describedby': `${p}-targets-hint ${p}-targets-error`},
          fw.targets.join('\n')),
        h('p', {class: 'hint', id: `${p}-targets-hint`}, 'A number, or user:<id> for a colleague.'),
        h('p', {class: 'field-error', id: `${p}-targets-error`, 'data-error-for': 'targets'})));
      fields.push(h('label', {class: 'check'},
        h('input', {type: 'checkbox', id: `${p}-confirm`, checked: fw.confirm}),
        'Ask whoever answers to press 1 (a mobile\'s own voicemail cannot take the call)'));
    } else {
      const kindNow = fw.target ? targetKind(fw.target) : 'voicemail';
      const radios = ['voicemail', 'user', 'number'].map((k) => h('label', {class: 'radio'},
        h('input', {type: 'radio', name: `${p}-kind`, value: k, id: `${p}-kind-${k}`, checked: k === kindNow}),
        {voicemail: 'Voicemail', user: 'A user', number: 'A number'}[k]));
      const value = kindNow === 'user' ? fw.target.slice(5) : kindNow === 'number' ? fw.target : '';
      const listId = `${p}-users`;
      const input = h('input', {id: `${p}-target`, type: 'text', value, autocomplete: 'off', list: listId,
        'aria-describedby': `${p}-target-error`});
      const label = h('label', {for: `${p}-target`, id: `${p}-target-label`});
      const targetField = h('div', {class: 'field'}, label, input, h('datalist', {id: listId}),
        h('p', {class: 'field-error', id: `${p}-target-error`, 'data-error-for': 'target'}));
      const sync = () => {
        const k = radioValue();
        targetField.hidden = k === 'voicemail';
        label.textContent = k === 'user' ? 'User id' : 'Number';
        input.placeholder = k === 'user' ? 'bob' : '+33612345678';
        if (k === 'user') fillDirectory(targetField.querySelector('datalist'));
      };
      const radioValue = () => fieldsetEl.querySelector(`input[name="${p}-kind"]:checked`).value;
      const fieldsetEl = h('fieldset', {onchange: sync}, h('legend', null, 'Send calls to'), radios);
      fields.push(fieldsetEl, targetField);
      queueMicrotask(sync);
      if (kind === 'no_answer') {
        fields.push(h('div', {class: 'field'},
          h('label', {for: `${p}-timeout`}, 'Ring for (seconds)'),
          h('input', {id: `${p}-timeout`, type: 'number', inputmode: 'numeric', min: '5', max: '120', step: '1',
            value: String(sheet.forwards.no_answer.timeout_s), 'aria-describedby': `${p}-timeout-error`}),
          h('p', {class: 'field-error', id: `${p}-timeout-error`, 'data-error-for': 'timeout_s'})));
      }
    }
    fields.push(h('label', {class: 'check'},
      h('input', {type: 'checkbox', id: `${p}-enable`, checked: true}), 'Turn it on'));
    const save = h('button', {type: 'submit', class: 'btn btn-primary', id: `${p}-save`}, 'Save');
    const cancel = h('button', {type: 'button', class: 'btn', onclick: () => closeEditor(kind)}, 'Cancel');
    const clear = hasTarget(sheet, kind) ? h('button', {type: 'button', class: 'btn btn-danger', id: `${p}-clear`},
      'Clear forward') : null;
    const form = h('form', {class: 'editor', id: `${p}-editor`, novalidate: true, 'aria-label': `Edit: ${f.title}`},
      fields, generalErr, h('div', {class: 'row-actions'}, save, cancel, clear));
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        closeEditor(kind);
      }
    });
    form.addEventListener('input', () => {
      const e = editors.get(kind);
      if (e) e.dirty = true;
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const body = {};
      if (kind === 'simultaneous_ring') {
        body.targets = form.querySelector(`#${p}-targets`).value.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
        body.confirm = form.querySelector(`#${p}-confirm`).checked;
      } else {
        const k = form.querySelector(`input[name="${p}-kind"]:checked`).value;
        const v = form.querySelector(`#${p}-target`).value.trim();
        body.target = k === 'voicemail' ? 'voicemail' : k === 'user' ? (v ? 'user:' + v.replace(/^user:/, '') : '') : v;
        if (kind === 'no_answer') {
          const t = form.querySelector(`#${p}-timeout`).value.trim();
          if (t !== '') body.timeout_s = Number.isInteger(Number(t)) ? Number(t) : t;
        }
      }
      body.enabled = form.querySelector(`#${p}-enable`).checked;
      const done = busy(save);
      const ok = await send('PUT', userPath(id, `/forwards/${kind}`), body, form, `${f.title}: saved`);
      done();
      if (ok) {
        editors.delete(kind);
        render();
        focusEdit(kind);
      }
    });
    if (clear) {
      clear.addEventListener('click', async () => {
        clearErrors(form);
        const done = busy(clear);
        const ok = await send('DELETE', userPath(id, `/forwards/${kind}`), undefined, form, `${f.title}: cleared`);
        done();
        if (ok) {
          editors.delete(kind);
          render();
          focusEdit(kind);
        }
      });
    }
    return form;
  }

  function focusEdit(kind) {
    const btn = document.getElementById(`fwd-${kind}-edit`);
    if (btn) btn.focus();
  }

  async function fillDirectory(datalist) {
    if (!ctx.canList || datalist.childElementCount) return;
    try {
      if (!directory) {
        const q = new URLSearchParams({site: sheet.site, limit: '500'});
        directory = (await api('GET', '/v1/users?' + q, {signal: ac.signal})).data.items;
      }
      fill(datalist, directory.filter((u) => u.id !== id).map((u) => h('option', {value: u.id}, u.name || u.id)));
    } catch {
      // Suggestions only: typing the id still works.
    }
  }

  function scheduledSection() {
    const rules = sheet.forwards.scheduled || [];
    const box = h('div', {id: 'scheduled'}, h('h3', {class: 'subhead', id: 'scheduled-title'}, 'Scheduled forwards'));
    if (!rules.length) {
      box.append(h('p', {class: 'muted small'}, 'None. Scheduled rules are set in the sheet (API or sophiactl).'));
      return box;
    }
    const list = h('ul', {class: 'settings', 'aria-labelledby': 'scheduled-title'});
    rules.forEach((r, i) => {
      const titleId = `sched-${i}-title`;
      const err = h('p', {class: 'field-error', id: `sched-${i}-error`, role: 'alert'});
      const sw = switchButton({
        id: `sched-${i}-switch`, checked: r.enabled, labelId: titleId,
        onToggle: (on) => write(sw, err, 'POST', userPath(id, `/forwards/scheduled/${i}/${on ? 'on' : 'off'}`), undefined,
          `Scheduled rule ${i + 1}: ${on ? 'on' : 'off'}`),
      });
      list.append(h('li', {class: 'setting', id: `sched-${i}`},
        h('div', {class: 'setting-main'},
          h('div', {class: 'setting-text'},
            h('div', {class: 'setting-title', id: titleId}, scheduleText(r)),
            h('div', {class: 'target'}, h('span', {class: 'arrow'}, '→ '), targetText(r.target))),
          h('div', {class: 'setting-controls'}, sw)),
        err));
    });
    box.append(list);
    return box;
  }

  // write sends a switch's change; problems go to err, a conflict to the banner.
  async function write(control, err, method, path, body, done) {
    err.textContent = '';
    const undo = busy(control);
    const ok = await send(method, path, body, null, done, err);
    undo();
    if (ok) {
      render();
      const again = document.getElementById(control.id);
      if (again) again.focus();
    }
  }

  // send writes with If-Match = the version shown. On success the answer (the whole
  // sheet) becomes the sheet shown; on 422 the fields go next to the inputs of form.
  async function send(method, path, body, form, doneText, errEl) {
    try {
      const {data} = await api(method, path, {body, ifMatch: sheet.version, signal: ac.signal});
      sheet = data;
      pendingSheet = null;
      fill(banners);
      ctx.toast(doneText);
      refreshDerived();
      activity.load();
      return true;
    } catch (err) {
      if (err.name === 'AbortError') return false;
      if (err.conflict) {
        showConflict();
      } else if (err.status === 422 && form) {
        placeErrors(form, err.fields, err.message);
      } else {
        const msg = err.status === 422 ? err.fields.map((f) => f.reason).join('; ') || err.message : explain(err);
        if (errEl) errEl.textContent = msg;
        else if (form) form.querySelector('[data-error-for=""]').textContent = msg;
      }
      return false;
    }
  }

  function showConflict() {
    fill(banners, h('div', {class: 'banner banner-error', id: 'conflict', role: 'alert'},
      h('p', null, h('strong', null, 'Changed by someone else. '),
        `${sheet.name || sheet.id}'s sheet changed since this page showed it (version ${sheet.version}); `,
        'your change was not saved. Reload to see the latest, then make your change again.'),
      h('button', {type: 'button', class: 'btn', id: 'reload', onclick: reload}, 'Reload')));
    document.getElementById('reload').focus();
  }

  async function reload() {
    try {
      const {data} = await api('GET', userPath(id), {signal: ac.signal});
      editors.clear();
      pendingSheet = null;
      sheet = data;
      fill(banners);
      render();
      refreshDerived();
      activity.load();
      ctx.toast(`Reloaded: version ${sheet.version}`);
      document.getElementById('dnd-switch').focus();
    } catch (err) {
      if (err.name !== 'AbortError') ctx.toast(explain(err));
    }
  }

  // Live: poll the sheet cheaply; 304 while nothing changed.
  function schedulePoll() {
    clearTimeout(pollTimer);
    if (!stopped) pollTimer = setTimeout(poll, ctx.pollMs);
  }

  async function poll() {
    if (document.visibilityState !== 'visible') {
      live.classList.add('paused');
      schedulePoll();
      return;
    }
    try {
      const known = pendingSheet ? pendingSheet.version : sheet.version;
      const res = await api('GET', userPath(id), {ifNoneMatch: known, signal: ac.signal});
      live.classList.remove('paused');
      if (res.status === 200 && res.data.version !== sheet.version) applyRemote(res.data);
      live.textContent = 'Live · checked ' + clock();
    } catch (err) {
      if (err.name === 'AbortError') return;
      live.classList.add('paused');
      live.textContent = err.status === 404 ? 'Deleted' : 'Not updating: ' + explain(err);
      if (err.status === 404) {
        fill(banners, h('div', {class: 'banner banner-error', role: 'alert'},
          h('p', null, 'This user was deleted by someone else.')));
        return;
      }
    }
    schedulePoll();
  }

  function applyRemote(next) {
    if ([...editors.values()].some((e) => e.dirty)) {
      // Do not redraw under the admin's typing: say it, and let the save be refused.
      pendingSheet = next;
      if (document.getElementById('conflict')) return; // already said, more precisely
      fill(banners, h('div', {class: 'banner banner-warn', id: 'stale', role: 'status'},
        h('p', null, `Someone else changed this sheet (now version ${next.version}) while you were editing. `,
          'Saving will be refused; reload to see their change.'),
        h('button', {type: 'button', class: 'btn', onclick: reload}, 'Reload')));
      return;
    }
    pendingSheet = null;
    sheet = next;
    fill(banners);
    const focused = document.activeElement && document.activeElement.id;
    render();
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    refreshDerived();
    activity.load();
    ctx.toast(`Updated by someone else: version ${sheet.version}`);
  }

  function refreshDerived() {
    route.run();
    advice.load();
  }

  const onVisible = () => {
    if (document.visibilityState === 'visible' && sheet && !stopped) {
      clearTimeout(pollTimer);
      poll();
    }
  };
  document.addEventListener('visibilitychange', onVisible);

  load();
  return {
    stop() {
      stopped = true;
      clearTimeout(pollTimer);
      ac.abort();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

// clearErrors empties a form's error slots and unmarks its inputs.
function clearErrors(form) {
  for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// placeErrors puts each 422 field problem under the input it names. The API names
// fields by the request ("target", "timeout_s", "targets") or by the sheet
// ("forwards.no_answer.timeout_s", "forwards.simultaneous_ring.targets[1]").
function placeErrors(form, fields, message) {
  const general = form.querySelector('[data-error-for=""]');
  const lines = [];
  for (const f of fields) {
    const path = f.path.replace(/^forwards\.[a-z_]+\./, '');
    const m = path.match(/^([a-z_]+)(?:\[(\d+)\])?$/);
    const slot = m && form.querySelector(`[data-error-for="${m[1]}"]`);
    if (slot) {
      const text = m[2] !== undefined ? `Line ${Number(m[2]) + 1}: ${f.reason}` : f.reason;
      slot.textContent = slot.textContent ? slot.textContent + ' ' + text : text;
      const input = document.getElementById(slot.id.replace(/-error$/, ''));
      if (input) input.setAttribute('aria-invalid', 'true');
    } else {
      lines.push(f.path ? `${f.path}: ${f.reason}` : f.reason);
    }
  }
  if (lines.length || !fields.length) general.textContent = lines.join('; ') || message;
  const firstBad = form.querySelector('[aria-invalid="true"]');
  if (firstBad) firstBad.focus();
}
