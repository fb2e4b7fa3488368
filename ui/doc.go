// Package ui is sophia's admin web page: plain HTML, CSS and JavaScript modules embedded
// in the binary (no build step, no CDN, works offline), and the http.Handler serving
// them. sophiad passes Handler() as api.Options.UI, so the page lives on the API's own
// origin, beside /v1/, and speaks to the API only through its public routes with the
// token the admin pasted (kept in the tab's sessionStorage, sent as a bearer header,
// never in a URL).
//
// What it owns: the files under static/, their URLs (/assets/<hash>/…, immutable; every
// other path without an extension is the page itself, so /users/alice can be
// bookmarked), and the headers that make the page safe to serve: a strict
// Content-Security-Policy (scripts from the page's origin only, no inline script or
// style, Trusted Types required so no string reaches innerHTML, no framing, no form
// submission), nosniff, no referrer. What it leaves to the API: every decision about
// data, scope and validation; the page shows what the API answers.
package ui
