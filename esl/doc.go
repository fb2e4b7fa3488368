// Package esl is sophia's FreeSWITCH adapter: FreeSWITCH's dialplan hands each call to
// sophiad with the `socket` application (outbound mode, `async full`), and the adapter
// hands it to package switchboard (who it is for, leases, callflow, call log, metrics),
// then carries out the plan with dptools over that socket. A second, inbound Event
// Socket connection follows registrations into device states, publishes presence for
// BLF keys, and runs API commands. Commands are rendered by github.com/percipia/eslgo.
//
// It owns both links: the outbound listener (its own accept loop), one goroutine per call,
// and the inbound connection with capped, jittered reconnection, /readyz (Ready) and
// sophia_esl_inbound_connected / sophia_pbx_link_up{pbx="freeswitch"}. Nothing here
// decides where a call goes: that is dialplan's and callflow's, reached through
// switchboard.Board.Handle.
//
// # A call
//
// connect (the reply is the channel's CHANNEL_DATA: caller, number dialed, variables),
// myevents, linger; then Board.Handle with a callDriver:
//
//   - Ring: set continue_on_fail=true (so a failed bridge never hangs the caller up:
//     traces README, "Bridge results") and hangup_after_bridge=true once, ringback and
//     hold_music (media over HTTP from sophiad: http_cache://…/media/<name>.wav), then
//     bridge {originate_timeout=N}[origination_uuid=…,leg_timeout=N,
//     origination_caller_id_number=…,origination_caller_id_name=…,sip_h_Diversion=…,
//     group_confirm_key=1,group_confirm_file=…]leg1,[…]leg2, tagged with an Event-UUID.
//     The bridge's result comes only in its CHANNEL_EXECUTE_COMPLETE (Application-UUID =
//     that Event-UUID): originate_causes, one cause per leg by the origination_uuid
//     sophia chose. Success is CHANNEL_BRIDGE, whose Other-Leg-Unique-ID names the leg.
//     A device leg dials its endpoint as stored (user/1000, sofia/internal/alice%example.com);
//     a number goes through the gateway template (sofia/gateway/trunk/{number}).
//   - Play: pre_answer, playback of the sheet's sound or the adapter's tone.
//   - Hangup: sendmsg hangup with the cause's FreeSWITCH name.
//   - Continue (a number no user owns): socket_resume=true, so the call goes on in the
//     dialplan after `socket` when the socket closes.
//   - Talk: until the caller's CHANNEL_HANGUP.
//
// At the end: CHANNEL_HANGUP_COMPLETE awaited (linger keeps the socket until then),
// `exit`, and the socket drained until FreeSWITCH closes it.
//
// # Event order
//
// On an outbound socket one goroutine reads frames and hands them to the call's
// goroutine in wire order; events read while a command waits for its reply wait in the
// call's backlog. On the inbound connection the reader queues events for one dispatcher
// (off the reader: applying one is a Redis write), which applies each batch in
// Event-Sequence order; a registration event older than the last applied for the same
// device is counted stale (sophia_esl_events_dropped_total) and not applied. Nothing is
// dropped silently: a full queue (100 000 events) counts what it drops.
//
// # Registrations and presence
//
// sofia::register / sofia::unregister / sofia::expire set the state of the devices
// stored as user/<user>, user/<user>@<domain> or sofia/<profile>/<user>%<domain>; at each
// connection `show registrations as json` resyncs every such device. Presence goes out
// as sendevent PRESENCE_IN from <user>@<domain> (dialog answer-state early, confirmed,
// terminated), which mod_sofia turns into NOTIFYs for the BLF keys watching it.
//
// # eslgo v1.5.0
//
// Every command sophia sends is rendered by eslgo's command packages (command.Connect,
// command.Event, command.API, command.SendEvent, call.Execute, call.Hangup…). Its
// connection is not used, for two reasons found under -race against the fake: on the
// inbound side, FreeSWITCH's disconnect notice followed by its close (every `exit`, a
// shutdown, a wrong password) makes eslgo's reader read the response-channel map that
// its close() writes, a data race on every clean ending; on the outbound side,
// ListenAndServe cannot be stopped and the connection it builds cannot be made from a
// listener of our own. Both links are therefore read by one goroutine of ours (readFrame:
// Content-Length capped, fuzzed), which also keeps events in wire order for free.
package esl
