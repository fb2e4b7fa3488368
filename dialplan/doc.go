// Package dialplan is sophia's routing engine: pure functions from a user's settings, a
// call's context and the clock to a Plan (DESIGN.md §2).
//
// It owns the routing semantics and nothing else. It does no I/O, starts no goroutine,
// keeps no global state and never reads the clock: the same Input gives the same Plan.
// Reading settings is config's job (config.Compiled, config.CallView); carrying a plan
// out on a PBX, routing again for a `user:` forward and explaining a call is package
// callflow's; turning a plan into Asterisk or FreeSWITCH commands is the adapters'.
//
// # Inbound
//
// Decide applies DESIGN §2's rules in order, one file each, listed in the slice inbound
// (decide.go): loopguard.go, dnd.go, unconditional.go, scheduled.go, notconnected.go,
// busy.go, ring.go; noanswer.go builds what follows a ring nobody answered. The first
// rule that applies builds the Plan: a small state machine of Steps, each naming the rule
// that produced it, with, for every Outcome of the step, the index of the next step or
// End. Transitions only go forward (Next[o] > the step's own index), so every plan ends.
//
// Forwards whose target can no longer be used are skipped as if unset, and the step
// records why (Skip): a number the site's outside-call policy refuses, the user itself,
// "voicemail" when the mailbox is off.
//
// Caller ID on legs (documented here because adapters and operators rely on it):
//   - A leg to one of the user's phones (Kind LegDevice, LegUserDevice) presents the
//     caller's number, so the phone's call log can call back, and as name (Leg.Display)
//     what advanced.incoming_display asks for: the caller's name ("caller"), the number
//     dialed ("called_number"), or the label of the number dialed, else the site's name
//     ("context_name"). Leg.Redirect is set when the call was forwarded to the user and
//     advanced.redirect_info is on.
//   - A leg to an outside number (forwards, simultaneous ring) presents the original
//     caller's number and name, with diversion information (Leg.Redirect: who forwarded,
//     why, the hop count) always set, since trunks accept a foreign caller ID only with
//     it. When the caller withheld its number, the leg presents the forwarding user's
//     own presented number (as on its outbound calls) and no name; when the caller is an
//     internal extension, that number with the caller's name.
//
// A forward to an outside number rings for ForwardTimeoutS; if that leg is busy the caller
// hears the user's busy sound, if nobody answers the call is missed, if it is unreachable
// the caller hears the unavailable announcement. The chain does not fall back to the
// user's voicemail: the user chose the forward.
//
// # Outbound
//
// DecideOutbound applies, in order: max simultaneous calls, the per-call CLI prefix,
// short-number expansion (else an internal extension, else a phone number normalized in
// the site's region), the site's outside-call policy, then the presented number. Per-call
// CLI prefixes, dialed before the number:
//
//	*31<number>     withhold the caller ID for this call (#31#<number> works too, as on mobiles)
//	*32<n><number>  present associated number n (1–9: its position in associated_numbers),
//	                refused unless that number is marked for presentation
//	*33<number>     present the main number
//	*34<number>     present the site's switchboard number
//
// Without a prefix the sheet's presented_number applies; when it names a number the user
// may no longer present (an associated number no longer marked, a site without number),
// the main number, else the site's number, else nothing is presented. A user never
// presents another user's number (MayPresent).
//
// # Cost
//
// DecideInto into a reused Plan allocates nothing; Decide allocates a Plan and its
// storage (about 5 KB, room for the largest plan a valid sheet makes). dialplan keeps no
// pool (no global state): callflow, which runs every call, reuses Plans from its own.
package dialplan
