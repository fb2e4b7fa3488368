// api.js: the page's only way to the API. Every call sends the tab's token as a bearer
// header; errors come back as APIError with the API's code and per-field problems.

import {getToken} from './session.js';

export class APIError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }

  // conflict: the sheet changed since the version the page sent in If-Match.
  get conflict() {
    return this.status === 409 && this.code === 'version_conflict';
  }
}

// api calls method path and returns {status, data, etag}: data is the decoded JSON
// body (null for 204 and 304). ifMatch / ifNoneMatch take a version number.
// A 401 also fires 'sophia:unauthorized' on window: the page signs out.
export async function api(method, path, {body, ifMatch, ifNoneMatch, signal} = {}) {
  const headers = {Authorization: `Bearer ${getToken()}`, Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = `"${ifMatch}"`;
  if (ifNoneMatch) headers['If-None-Match'] = `"${ifNoneMatch}"`;
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, cache: 'no-store', credentials: 'omit', redirect: 'error',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError(0, 'network', 'sophiad does not answer: check the connection and retry.');
  }
  const etag = versionOf(res.headers.get('ETag'));
  if (res.status === 204 || res.status === 304) return {status: res.status, data: null, etag};
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return {status: res.status, data, etag};
  const e = (data && data.error) || {};
  if (res.status === 401) window.dispatchEvent(new CustomEvent('sophia:unauthorized'));
  throw new APIError(res.status, e.code || 'http_' + res.status, e.message || `HTTP ${res.status}`, e.fields);
}

function versionOf(etag) {
  if (!etag) return 0;
  const n = Number(etag.replace(/^W\//, '').replaceAll('"', ''));
  return Number.isFinite(n) ? n : 0;
}

// userPath returns /v1/users/<id> with the id escaped, followed by rest.
export function userPath(id, rest = '') {
  return `/v1/users/${encodeURIComponent(id)}${rest}`;
}

// explain says what an error means to the admin, in one sentence.
export function explain(err) {
  if (!(err instanceof APIError)) return 'Something went wrong in the page: ' + String(err && err.message || err);
  switch (err.status) {
    case 0: return err.message;
    case 401: return 'The token is not valid (any more): sign in again.';
    case 403: return 'This token may not do that: ' + err.message;
    case 503: return 'The settings store does not answer right now; retry in a moment.';
    case 500: return 'sophiad failed to do it (the cause is in its log).';
  }
  return err.message;
}
