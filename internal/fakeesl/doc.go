// Package fakeesl is a fake FreeSWITCH 1.10.12 speaking the Event Socket text protocol both
// ways on loopback, for testing sophia's esl/ adapter end to end with eslgo v1.5.0. It
// reproduces what testdata/pbx-traces/freeswitch recorded; replay_test.go replays those
// traces against it.
//
// # Starting it
//
//	s, _ := fakeesl.New(fakeesl.Options{
//		Clock:     fakeesl.NewScaledClock(0.01), // delays 100× faster; or NewManualClock + Advance
//		Endpoints: map[string]fakeesl.Endpoint{
//			"sofia/gateway/trunk/+33612345678": fakeesl.AnswerAfter(3 * time.Second),
//			"sofia/gateway/trunk/*":            fakeesl.Busy(), // prefix match
//		},
//	})
//	defer s.Close()
//	eslgo inbound: Dial(s.Addr(), s.Password() /* "ClueCon" */)
//
// # Inbound mode (the fake's listener)
//
// Greets auth/request; auth (wrong → -ERR invalid + goodbye notice + close), api, bgapi
// (Job-UUID header honoured; BACKGROUND_JOB, Job-Owner-UUID from an outbound socket),
// event plain|json (ALL, names, CUSTOM subclasses — every word after CUSTOM is a
// subclass), noevents, nixevent, filter / filter delete, myevents <uuid>, sendmsg <uuid>,
// sendevent (echoed to subscribers with Command/Event-UUID; unknown names → +OK, nobody
// gets it), log/nolog, exit. Reply texts are the traced ones (see README "Error texts").
// API: originate (replies after answer/failure), uuid_kill, uuid_exists, uuid_getvar
// (_undef_), uuid_setvar, uuid_bridge, uuid_transfer, uuid_break, uuid_dump, uuid_hold,
// uuid_send_dtmf/uuid_recv_dtmf, show channels|calls|registrations [as json], sofia status
// [profile internal [reg]], sofia_contact, global_getvar, version, status, hupall,
// vm_boxcount, fsctl shutdown (= Shutdown).
//
// # Outbound mode (the fake dials the adapter)
//
// InjectCall(CallSpec{Socket: adapterAddr, CallerIDNumber, Destination, Variables}) creates a
// channel whose dialplan runs `socket <addr> async full` (Sync: static). The fake waits for
// `connect`, answers with CHANNEL_DATA-as-headers (+ Socket-Mode, Control), then handles
// myevents, linger [N], nolinger, event, getvar (unset → -ERR command not found), sendmsg
// execute (+OK at once in async, after the app in sync mode; Event-UUID → Application-UUID)
// and hangup (invalid cause → NORMAL_CLEARING), api/bgapi, exit. Unknown app → hangup
// DESTINATION_OUT_OF_ORDER. At hangup the socket sees CHANNEL_HANGUP, (UNBRIDGE, bridge
// COMPLETE), CHANNEL_UNPARK, socket COMPLETE, CHANNEL_STATE CS_HANGUP / CS_REPORTING,
// CHANNEL_HANGUP_COMPLETE, then the linger notice (socket stays; `linger N` closes N s
// later) or the disconnect notice and close. The client closing the socket hangs the call
// up NORMAL_CLEARING. Hangup(uuid, cause) is the caller hanging up; SendDTMF sends digits.
//
// Applications: answer, pre_answer, ring_ready, set, export (reaches B legs), unset,
// multiset, hangup, sleep, playback (tone_stream lengths computed, files 500 ms,
// local_stream forever), echo, park, bridge, send_dtmf, play_and_get_digits, respond,
// transfer, verbose_events, log, info.
//
// # Bridge
//
// Dial strings: {global}, [per-leg], "," simultaneous, "|" failover. Timeouts:
// originate_timeout, else call_timeout, else 60 s per failover group (→ NO_ANSWER),
// counted as FreeSWITCH does in whole seconds from the second the group started (so a
// 20 s timeout ends 19–20 s later); leg_timeout per leg (→ ALLOTTED_TIMEOUT). group_confirm_key/_file: an answered leg must
// press the key (Endpoint.DTMF). Losing legs hang up LOSE_RACE. Result variables on A
// (getvar/uuid_getvar/events): originate_disposition, DIALSTATUS, originate_failed_cause,
// originate_causes, originated_legs, last_bridge_hangup_cause, bridge_hangup_cause,
// bridge_uuid, signal_bond, last_bridge_to, bridge_channel, endpoint_disposition. While
// ringing A shows failure/INVALIDARGS. The result arrives only in CHANNEL_EXECUTE_COMPLETE
// (bridge), when the bridge ends. Without continue_on_fail (true or a cause list) a failed
// bridge hangs A up with the cause, except NO_ANSWER, NO_USER_RESPONSE, ORIGINATOR_CANCEL.
// B legs get origination_caller_id_* (else A's effective_caller_id_*, else A's caller id)
// and every {}/[] variable (sip_h_*…).
//
// Targets: error/<cause>; loopback/<ext>/sophia (two channels, -b runs Options.Dialplan,
// default = the traces' context: answer, busy, reject, noanswer, answer-later,
// answer-then-hangup, answer-confirm, park, inbound); user/<u>[@domain] (not in Directory
// → SUBSCRIBER_ABSENT, not registered → USER_NOT_REGISTERED, registered → its Endpoint);
// sofia/... scripted by Options.Endpoints (unscripted → SUBSCRIBER_ABSENT), except
// sofia/<profile>/<user>@SelfSIPAddr (127.0.0.1:15080), which reaches the fake's own
// external profile as in 11: a far end sofia/external/<caller>@127.0.0.1 runs extension
// <ext> of the dialplan for user sophia-<ext> (anything else: 480) and its outcome reaches
// B as SIP would (180/183/200/486/603/480/BYE/CANCEL). SIP legs (those and scripted
// sofia/ or registered user/ ones) carry sip_term_status, sip_term_cause,
// proto_specific_hangup_cause, sip_hangup_disposition (recv_refuse, send_cancel,
// send_bye, recv_bye), sip_invite_failure_status/_phrase; A gets
// last_bridge_proto_specific_hangup_cause (sip:486, sip:200 after a BYE) and the
// sip_invite_failure_* of a refused leg. Endpoint.RequireCodec makes an endpoint refuse
// (488, INCOMPATIBLE_DESTINATION) a leg without that absolute_codec_string. any other
// module → CHAN_NOT_IMPLEMENTED.
//
// Registrations: Register(Registration{User: "1000"}) fires CUSTOM sofia::pre_register,
// sofia::register_attempt, sofia::register; Unregister fires pre_register and
// register_attempt with expires 0, then sofia::unregister; RegisterFailure fires the
// wrong-password trio. A registered user/ leg is named after the contact
// (sofia/internal/1001-0x…@127.0.0.1:15090), carries presence_id <user>@<domain>, and is
// listed twice in originate_causes/originated_legs once it won (the directory's
// dial-string is an originate inside the originate). show registrations, sofia status
// profile internal reg and sofia_contact print them as traced (token = Registration.CallID,
// expiry twice the 60 s asked, port from the contact).
//
// # Events, as FreeSWITCH orders them per channel
//
// An originated leg: [CHANNEL_UUID when origination_uuid renamed it], CHANNEL_OUTGOING,
// CHANNEL_STATE CS_INIT, CHANNEL_CREATE, CHANNEL_ORIGINATE, STATE CS_ROUTING, STATE
// CS_CONSUME_MEDIA; an incoming one (loopback -b, InjectCall): STATE CS_INIT, CREATE,
// CHANNEL_CALLSTATE RINGING, STATE CS_ROUTING, STATE CS_EXECUTE. CHANNEL_CALLSTATE
// (Original-Channel-Call-State) follows every PROGRESS(_MEDIA), ANSWER and CS_HANGUP. At
// hangup: HANGUP, (UNBRIDGE, bridge COMPLETE), UNPARK, the parked app's COMPLETE, STATE
// CS_HANGUP, CALLSTATE HANGUP, STATE CS_REPORTING, HANGUP_COMPLETE, DESTROY, STATE
// CS_DESTROY. Variables ride on the events switch_channel_event_set_extended_data lists
// (not on STATE/CALLSTATE/DTMF/PRIVATE_COMMAND unless verbose_events, or after a
// SYSTEM_SHUTDOWN hangup). Also: API after every api/bgapi command (before its
// BACKGROUND_JOB), CALL_UPDATE when an originate hands its leg to the application,
// PRIVATE_COMMAND for a handled sendmsg (after the CHANNEL_HANGUP a hangup caused, after
// the COMPLETE of an application that took time), PLAYBACK_START/STOP, PRESENCE_IN for a
// channel with presence_id (routing, answered, CS_HANGUP; event_count 0/1/2).
//
// Things an adapter must expect (all traced):
//   - async sendmsg execute: +OK first, the application's events afterwards;
//   - `linger`: the channel stays (no CHANNEL_DESTROY, Leftovers lists it) until the
//     socket ends: `exit`, closing it, or `linger N` running out. In sync mode with linger
//     even HANGUP_COMPLETE waits for that;
//   - closing the socket (or `exit`) while the call is up: UNPARK, the socket
//     application's COMPLETE, then the hangup NORMAL_CLEARING;
//   - a bridge's B leg shows Other-Leg-* (the A leg) from its creation, A shows B's from
//     CHANNEL_BRIDGE on, and keeps it after the bridge ends; bridge_uuid, last_bridge_to,
//     bridge_channel appear on A after CHANNEL_BRIDGE; failover groups leave their
//     interim originate_disposition/DIALSTATUS on A until the next group decides;
//   - the originate API succeeds on early media (after its 20 ms poll) unless
//     ignore_early_media=true;
//   - `myevents <uuid>` on an inbound socket with no such channel subscribes to the
//     myevents set for every channel and drops BACKGROUND_JOB.
//
// # Time
//
// Every delay goes through Options.Clock. ScaledClock runs them Scale× real time;
// ManualClock moves only on Advance/Set (timers run in the caller's goroutine). Tests wait
// for events on the wire with a deadline, never sleep.
//
// # Introspection
//
// Connections() (every command received per connection, parsed), CommandsFor(uuid),
// Bridges() (dial string, legs, per-leg variables, result, winner), Played(), Presence(),
// SentEvents(), Registered(), Channels(), Variable(uuid, name), Leftovers() (live channels
// and connections; a finished test expects none), DropConnections(), Shutdown().
//
// # Trace replay
//
// replay_test.go plays our side of each trace into a fake on a ManualClock and compares
// (compare_test.go says exactly what, and what it normalizes and why). It sequences on
// the fake's own quiescence (settle.go: no goroutine of the fake at work, every byte read
// by both sides), so a trace's 60 s ring timeout costs no wall time and a difference is
// seen the moment the replay has caught up. Timers may run up to 1.5 s past a step's
// trace time when FreeSWITCH had already sent what they produce (its timers run late).
// Matching (TestReplayTraces): 01, 02, 02b, every 03-*, 04, 04b, 07, 08, every 09-*,
// 10, 10b, 11, 12. Not yet: 05 (send_dtmf/read details), 06 (recording is not modelled). The trace's SIP phone (10, 10b) is played by the replay itself from the
// trace's sofia::* events and a per-trace Endpoint script. FAKEESL_TRACE=<file> go test
// -run ReplayOne shows one trace's differences.
//
// # Not modelled
//
// XML events (sent as plain), CODEC, HEARTBEAT, RE_SCHEDULE, module teardown at shutdown
// (MODULE_UNLOAD, UNPUBLISH, sofia::gateway_delete), recording (RECORD_*), SIP beyond the
// variables above (an incoming SIP call's sip_* variables, real SIP signalling). uuid_hold
// plays the partner's hold_music (default local_stream://moh) until it hangs up, and a
// sendmsg hangup meanwhile is never handled, as traced.
package fakeesl
