// Package config owns sophia's settings: sites and the user sheet (DESIGN.md §1) as Go
// types with their public JSON names and defaults, number normalization, validation, and
// the Redis store that keeps them (key layout: keys.go; the admin-facing copy with the
// sheet's defaults, URL forms and Cluster slots: README.md in this directory).
//
// Input flows DecodeSheet (strict: every unknown field and wrong type reported) →
// Sheet.Normalize (E.164 numbers in the site's region) → Sheet.Validate (every problem
// at once, with its JSON path, as a *ValidationError). Validate is pure: what it needs to
// know about the rest of the store comes in Facts, which Store fills inside its write.
//
// Store writes atomically and with optimistic concurrency (ErrVersionConflict), keeps
// every index (numbers, devices, site users, media users) in the same step, audits each
// change field by field, and publishes it on P:changes. It serves the call path with
// CallView/CallViewByNumber/CallViewByDevice and OutboundView (the caller and the user
// a dialed number reaches, pipelined), one Redis round trip per call in the steady state,
// and keeps the runtime state the call path reads: device states and call leases.
//
// It knows nothing of calls: the routing engine (package dialplan) reads a Compiled sheet,
// the adapters read what a call needs through Store and report device states and call
// leases, and the API writes through Store. Secrets (PINs, token secrets) travel as
// Secret, which never prints.
package config
