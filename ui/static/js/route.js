// route.js: "Where does a call go?" (GET /v1/users/{id}/route: the executor the PBX
// adapters run, on a simulated PBX) as numbered steps with the rule that fired, and
// the advice on the sheet (GET /v1/users/{id}/advice).

import {h, fill} from './dom.js';
import {api, userPath, explain} from './api.js';
import {targetText, ruleText} from './format.js';

export function routePanel(ctx, id, signal) {
  const at = h('input', {id: 'explain-at', type: 'datetime-local', 'aria-describedby': 'explain-at-hint'});
  const from = h('input', {id: 'explain-from', type: 'tel', autocomplete: 'off', placeholder: 'withheld'});
  const phone = h('select', {id: 'explain-phone'},
    h('option', {value: 'no_answer'}, 'rings, nobody answers'),
    h('option', {value: 'answer'}, 'answers'),
    h('option', {value: 'busy'}, 'is busy'),
    h('option', {value: 'offline'}, 'is offline'));
  const active = h('input', {id: 'explain-active', type: 'number', min: '0', max: '1000', value: '0', inputmode: 'numeric'});
  const result = h('div', {id: 'route-result', 'aria-live': 'polite'});
  const form = h('form', {class: 'explain-form', novalidate: true},
    h('div', {class: 'field'}, h('label', {for: 'explain-at'}, 'When'), at,
      h('p', {class: 'hint', id: 'explain-at-hint'}, 'Your local time; empty = now.')),
    h('div', {class: 'field'}, h('label', {for: 'explain-from'}, 'Caller number'), from),
    h('div', {class: 'field'}, h('label', {for: 'explain-phone'}, 'The phone'), phone),
    h('div', {class: 'field'}, h('label', {for: 'explain-active'}, 'Calls in progress'), active),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary', id: 'explain'}, 'Explain')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run();
  });
  const el = h('section', {class: 'panel', 'aria-labelledby': 'route-title', id: 'route'},
    h('div', {class: 'panel-head'}, h('h2', {id: 'route-title'}, 'Where does a call go?'),
      h('p', null, 'Simulated on the settings as stored: no call is made.')),
    form, result);

  let inflight = null;
  async function run() {
    if (inflight) inflight.abort();
    const ac = new AbortController();
    inflight = ac;
    signal.addEventListener('abort', () => ac.abort(), {once: true});
    const q = new URLSearchParams();
    if (at.value) {
      const d = new Date(at.value);
      if (!Number.isNaN(d.getTime())) q.set('at', d.toISOString().replace(/\.\d+Z$/, 'Z'));
    }
    if (from.value.trim()) q.set('from', from.value.trim());
    if (active.value && active.value !== '0') q.set('active', active.value);
    q.append('respond', `user:${id}=${phone.value}`);
    try {
      const {data} = await api('GET', userPath(id, '/route?' + q), {signal: ac.signal});
      fill(result, steps(id, data));
    } catch (err) {
      if (err.name === 'AbortError') return;
      fill(result, h('p', {class: 'field-error', role: 'alert'},
        err.fields.length ? err.fields.map((f) => `${f.path}: ${f.reason}`).join('; ') : explain(err)));
    }
  }
  return {el, run};
}

function steps(id, x) {
  const list = h('ol', {class: 'steps', id: 'route-steps'});
  for (const s of x.trace) {
    list.append(h('li', {class: 'step'},
      h('div', {class: 'step-what'}, describe(s)),
      h('div', {class: 'step-rule'}, 'rule: ', ruleText(s.rule), s.user !== id ? ` · for ${s.user}` : ''),
      s.skipped && s.skipped.length ? h('ul', {class: 'step-skip'}, s.skipped.map((k) =>
        h('li', null, `Skipped ${ruleText(k.rule)}${k.target ? ' → ' + targetText(k.target) : ''}: ${k.reason}`))) : null));
  }
  return [list, h('div', {class: `outcome outcome-${x.outcome.kind}`, id: 'route-outcome'}, outcomeText(x.outcome))];
}

function leg(step, t) {
  return t === 'user:' + step.user ? `${step.user}'s phone` : targetText(t);
}

function describe(s) {
  const targets = (s.targets || []).map((t) => leg(s, t));
  switch (s.action) {
    case 'ring':
      return `Rings ${targets.join(' and ')}${s.timeout_s ? ` for ${s.timeout_s} s` : ''}`;
    case 'forward':
      return `Forwards to ${targets.join(', ')}${s.timeout_s ? ` (rings up to ${s.timeout_s} s)` : ''}`;
    case 'voicemail':
      return `${s.user}'s voicemail takes the call`;
    case 'busy':
      return 'Plays the busy tone';
    case 'unavailable':
      return 'Plays the unavailable announcement';
    case 'missed':
      return 'Ends unanswered';
    case 'reject':
      return 'Rejects the call';
  }
  return s.action;
}

function outcomeText(o) {
  const by = o.by ? targetText(o.by) : '';
  switch (o.kind) {
    case 'answered': return `Outcome: answered by ${by}`;
    case 'voicemail': return `Outcome: message left in ${by}'s voicemail`;
    case 'busy': return `Outcome: busy (${by})`;
    case 'unavailable': return `Outcome: unavailable (${by})`;
    case 'missed': return `Outcome: a missed call for ${by}${o.reason ? ` (${ruleText(o.reason)})` : ''}`;
  }
  return `Outcome: ${o.kind}`;
}

export function advicePanel(id, signal) {
  const list = h('div', {id: 'advice-list'});
  const el = h('section', {class: 'panel', 'aria-labelledby': 'advice-title', id: 'advice'},
    h('div', {class: 'panel-head'}, h('h2', {id: 'advice-title'}, 'Advice'),
      h('p', null, 'Good practice, checked on this sheet.')),
    list);
  async function load() {
    try {
      const {data} = await api('GET', userPath(id, '/advice'), {signal});
      if (!data.advice.length) {
        fill(list, h('p', {class: 'muted'}, 'Nothing to report.'));
        return;
      }
      fill(list, h('ul', {class: 'advice'}, data.advice.map((a) => h('li', {'data-code': a.code},
        h('span', {class: `sev sev-${a.severity}`}, a.severity),
        h('span', null, a.message),
        a.field ? h('span', {class: 'field-name mono'}, a.field) : null))));
    } catch (err) {
      if (err.name !== 'AbortError') fill(list, h('p', {class: 'field-error'}, explain(err)));
    }
  }
  return {el, load};
}
