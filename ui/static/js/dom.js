// dom.js: building elements without ever parsing HTML. Every string becomes a text
// node or an attribute value, so data from the API can never become markup (the CSP's
// Trusted Types rule would refuse innerHTML anyway).

// h returns a new element: h('a', {href: '/x', class: 'c', onclick: fn}, 'text', child…).
// Props: class, text-free attributes (set with setAttribute), on<event> listeners,
// boolean properties (hidden, disabled, checked, selected, required) and value.
// Children: strings and numbers become text nodes; null, undefined and false are
// skipped; arrays are flattened.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'value') {
      el.value = v;
    } else if (BOOL_PROPS.has(k)) {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

const BOOL_PROPS = new Set(['hidden', 'disabled', 'checked', 'selected', 'required', 'multiple', 'open']);

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

// clear empties el and appends children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// uid returns an id unique within the page, for label/aria wiring.
let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

// switchButton is an accessible on/off switch: a button with role=switch, its state in
// aria-checked and written out ("On"/"Off"), labelled by labelId.
export function switchButton({id, checked, labelId, describedBy, danger, onToggle}) {
  const state = h('span', {class: 'state', 'aria-hidden': 'true'}, checked ? 'On' : 'Off');
  const btn = h('button', {
    type: 'button', role: 'switch', id, class: danger ? 'switch danger' : 'switch',
    'aria-checked': String(Boolean(checked)), 'aria-labelledby': labelId,
    'aria-describedby': describedBy,
  }, h('span', {class: 'track', 'aria-hidden': 'true'}), state);
  btn.addEventListener('click', () => onToggle(btn.getAttribute('aria-checked') !== 'true'));
  return btn;
}

// busy marks a control as waiting for the API and returns a function that undoes it.
export function busy(el) {
  el.disabled = true;
  el.setAttribute('aria-busy', 'true');
  return () => {
    el.disabled = false;
    el.removeAttribute('aria-busy');
  };
}
