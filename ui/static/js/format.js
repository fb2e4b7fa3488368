// format.js: how sheet values, rules and outcomes read to an admin.

// targetText names a forward target: "Voicemail", "user bob", "+33612345678".
export function targetText(t) {
  if (!t) return '';
  if (t === 'voicemail') return 'Voicemail';
  if (t.startsWith('user:')) return 'user ' + t.slice(5);
  return t;
}

// targetKind is the editor's radio for a target: voicemail, user or number.
export function targetKind(t) {
  if (t === 'voicemail') return 'voicemail';
  if (t && t.startsWith('user:')) return 'user';
  return 'number';
}

// The forwards with one switch, in the order the routing engine considers them.
export const FORWARDS = [
  {kind: 'unconditional', title: 'Forward every call', short: 'Always',
    desc: () => 'Unconditional: calls go straight to the target; the phone does not ring.'},
  {kind: 'not_connected', title: 'When not connected', short: 'Offline',
    desc: () => 'The phone is offline, unregistered or unreachable.'},
  {kind: 'busy', title: 'When busy', short: 'Busy',
    desc: () => 'The line is busy (or do not disturb is on).'},
  {kind: 'simultaneous_ring', title: 'Ring other phones too', short: 'Also rings',
    desc: () => 'Simultaneous ring: these ring with the phone; the first to answer takes the call.'},
  {kind: 'no_answer', title: 'When not answered', short: 'No answer',
    desc: (s) => `After ${s.forwards.no_answer.timeout_s} s of ringing.`},
];

// forwardOf returns {enabled, target, targets} of kind in sheet s.
export function forwardOf(s, kind) {
  const f = s.forwards[kind] || {};
  return {enabled: Boolean(f.enabled), target: f.target || '', targets: f.targets || [], confirm: Boolean(f.confirm)};
}

// hasTarget reports whether forward kind of s can be turned on as it is.
export function hasTarget(s, kind) {
  const f = forwardOf(s, kind);
  return kind === 'simultaneous_ring' ? f.targets.length > 0 : f.target !== '';
}

// forwardTargetText is what a forward row says it forwards to.
export function forwardTargetText(s, kind) {
  const f = forwardOf(s, kind);
  if (kind === 'simultaneous_ring') {
    if (!f.targets.length) return '';
    return f.targets.map(targetText).join(', ') + (f.confirm ? ' · press 1 to accept' : '');
  }
  return targetText(f.target);
}

const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_LABEL = {mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun'};

// daysText: ["mon"…"fri"] → "Mon–Fri"; [] → "Every day".
export function daysText(days) {
  if (!days || days.length === 0 || days.length === 7) return 'Every day';
  const idx = days.map((d) => DAY_NAMES.indexOf(d)).filter((i) => i >= 0).sort((a, b) => a - b);
  const runs = [];
  for (const i of idx) {
    const last = runs[runs.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else runs.push([i, i]);
  }
  return runs.map(([a, b]) => {
    if (a === b) return DAY_LABEL[DAY_NAMES[a]];
    if (b === a + 1) return DAY_LABEL[DAY_NAMES[a]] + ', ' + DAY_LABEL[DAY_NAMES[b]];
    return DAY_LABEL[DAY_NAMES[a]] + '–' + DAY_LABEL[DAY_NAMES[b]];
  }).join(', ');
}

// scheduleText describes a scheduled rule's time: "Mon–Fri, 18:00–08:00 (overnight)".
export function scheduleText(r) {
  let hours = r.start === r.end ? 'all day' : `${r.start}–${r.end}`;
  if (r.start !== r.end && r.end < r.start) hours += ' (overnight)';
  let s = `${daysText(r.days)}, ${hours}`;
  if (r.from && r.until) s += `, ${r.from} to ${r.until}`;
  else if (r.from) s += `, from ${r.from}`;
  else if (r.until) s += `, until ${r.until}`;
  if (r.timezone) s += ` (${r.timezone})`;
  return s;
}

export const RULES = {
  loop_guard: 'loop guard', dnd: 'do not disturb', unconditional: 'unconditional forward',
  scheduled: 'scheduled forward', not_connected: 'not connected', busy: 'busy',
  ring: 'ring', no_answer: 'no answer', simultaneous_ring: 'simultaneous ring',
};

export function ruleText(r) {
  return RULES[r] || (r || '').replaceAll('_', ' ');
}

const dateTime = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const timeOnly = new Intl.DateTimeFormat(undefined, {timeStyle: 'medium'});

export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

export function clock(d = new Date()) {
  return timeOnly.format(d);
}

// duration: seconds between two ISO times, as "1 min 05 s".
export function duration(start, end) {
  const s = Math.max(0, Math.round((new Date(end) - new Date(start)) / 1000));
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

// jsonText shows an audit value (raw JSON) compactly: strings without quotes, null as "—".
export function jsonText(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '…' : s;
}
