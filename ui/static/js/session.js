// session.js: the API token, kept in this tab's sessionStorage only: never in
// localStorage (it would outlive the tab), never in a URL (it would reach history,
// logs and Referer headers), never in a cookie (the API takes bearer tokens only).

const KEY = 'sophia.token';

export function getToken() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}
