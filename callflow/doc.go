// Package callflow carries out the engine's plans: the one executor both PBX adapters
// share, so that Asterisk and FreeSWITCH treat the same settings the same way.
//
// Run walks a call through dialplan's plan: it decides (dialplan.DecideInto), carries out
// each step with a Driver, follows the step's outcome to the next, and routes again for a
// forward to another user with the diversion history extended, until the call ends. It
// returns a Trace (each step: user, rule, action, targets, timeout, what was skipped and
// why) and an Outcome (answered by a target, voicemail of a user, busy, unavailable,
// missed). RunOutbound does the same for a call a user places.
//
// I/O goes through two small interfaces: a Driver, which an adapter implements per call
// over its PBX (the method docs are the whole contract), and a Directory, which loads a
// user's compiled sheet, device state and active calls (config.Store; MapDirectory in
// memory).
//
// Explain answers "what happens to a call to this user, if…" with no PBX: the same Run on
// Sim, a Driver whose endpoints follow scripts. Advise checks a sheet's good practice.
// Both return the JSON types the API serves.
//
// callflow decides nothing itself beyond turning PBX results into the engine's outcomes
// (Classify, FromQ850, FromFreeSWITCH): routing is dialplan's.
package callflow
