// Package api is sophia's admin HTTP API: JSON under /v1 (sites, users and their daily
// shortcuts, the voicemail PIN, the media library, the audit log, API tokens), plus
// /healthz, /readyz and /metrics, described by /v1/openapi.json.
//
// It holds no state: every request reads and writes the config.Store, so any number of
// sophiad processes may serve one Redis. Authentication is by bearer token (the store
// keeps their hashes), with a scope (all, one site, one user's own sheet); auth.go says
// what each scope may do. Every error leaves through writeError as
// {"error":{"code","message","fields":[{"path","reason"}]}} (errors.go lists the codes).
//
// The admin web page (package ui) is served through Options.UI: everything outside the
// API's paths.
package api
