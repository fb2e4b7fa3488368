// Package config owns sophia's settings: sites and the user sheet (DESIGN.md §1) as Go
// types with their public JSON names and defaults, number normalization, validation, and
// the Redis store that keeps them (key layout in README.md, "Redis key layout").
//
// It knows nothing of calls: the routing engine (package dialplan) reads a Compiled
// sheet, the adapters read what a call needs through Store, and the API writes through
// Store. Every write is atomic and versioned; every change is published so other
// daemons and pages react.
package config
