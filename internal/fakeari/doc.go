// Package fakeari is a fake Asterisk 22 for tests: the ARI REST interface and
// the events WebSocket on 127.0.0.1, answering with the JSON bodies, ids,
// status codes, error bodies and event sequences that a real Asterisk 22.10.1
// produced in testdata/pbx-traces/asterisk (a copy of the shared traces) (its README lists the facts; the
// replay test in this package proves them, scenario by scenario). Calls are
// played by scripted endpoints, so the ARI adapter can be tested end to end
// on loopback, with ari/v6's native client, without an Asterisk.
//
// It owns: channels, Local pairs, Stasis, dials, bridges, playbacks,
// variables, device states, endpoints, application subscriptions, mailboxes,
// the WebSocket lifecycle (replacement, drops, restart). It leaves out: a
// dialplan (a channel that continues leaves Stasis and is hung up),
// recordings, snoop, external media, move/redirect — those routes answer 501
// and report a failure, so a test that needs them fails loudly.
//
// # Starting one
//
//	f := fakeari.New(t, fakeari.Options{TimeScale: 0.001}) // closed at t.Cleanup
//	cl, err := native.ConnectWithContext(ctx, &native.Options{Application: "sophia",
//		URL: f.URL(), WebsocketURL: f.WebsocketURL(), Username: "sophia", Password: "sophia"})
//	f.WaitConnected(ctx, "sophia", true) // before injecting calls
//
// Credentials default to sophia/sophia (Options.User, Options.Password); basic
// auth and ?api_key=user:pass are accepted, anything else is 401
// {"message":"Authentication required"}. Options.EventBuffer bounds each
// WebSocket's queue (default 65536 events): one writer goroutine per
// connection, and an overflow drops that connection (1006) and is reported
// as a failure, never silently.
//
// # Time
//
// Every wait of the fake's own (scripted answer/hangup/DTMF delays, dial and
// originate timeouts, playback lengths, the restart windows) runs on one
// scheduler, in deadline order. Two modes:
//
//   - Real time, scaled: Options.TimeScale multiplies those durations
//     (0.001: a scripted or ARI second lasts a millisecond; dial?timeout=20
//     fires after 20 ms). Timestamps and channel ids use the real clock. Use
//     this when the adapter runs its own timers in real time.
//   - Manual: Options.ManualClock stops the clock at Options.Start; timers
//     fire, in order, only inside f.Advance(d), with the clock set to each
//     deadline. Timestamps and ids follow the manual clock. Use this to pin
//     "answers after 25 s, dial timeout 20 s" exactly (the replay test does).
//
// Work that happens "at once" (the Dial events of /dial, a Local target that
// answers at once, PlaybackStarted) is done inside the REST request, in both
// modes: no Advance(0) is needed.
//
// # Calls in
//
//	call, err := f.Inbound(fakeari.InboundCall{CallerNumber: "+15551230001",
//		CallerName: "Carol Caller", Exten: "+33478000001"})
//
// puts a channel into Stasis(sophia,inbound): StasisStart with args
// ["inbound"], state Ring, dialplan {inbound, <Exten>, 2, Stasis,
// "sophia,inbound"}, caller and connected = the caller. By default it is the
// traces' Local/<exten>@inbound ;1/;2 pair (the app sees ;2); PJSIP: true
// makes it a SIP phone's PJSIP/alice-NNNNNNNN channel (13c). With no
// WebSocket for the app Stasis fails at once and Inbound returns
// ErrAppNotActive (the channel is gone), as on Asterisk (16). call.Hangup()
// is the caller hanging up (Local: ChannelHangupRequest{cause 16}, StasisEnd;
// SIP: BYE without cause once answered, CANCEL {127, tech_cause 487} before);
// call.Press("1") sends DTMF; InboundCall.Presses/PressAfter/HangsUpAfter
// script the caller once the app answers.
//
// # Calls out: scripted endpoints
//
// f.Script(target, behavior) sets what happens when the adapter creates and
// dials target, keyed by the endpoint string exactly as the adapter sends it
// ("PJSIP/alice", "Local/100@phones", "PJSIP/+33612345678@trunk"):
//
//	Answers()                 Local: Dial "", ChannelStateChange Up, Dial ANSWER; PJSIP rings first
//	AnswersAfter(d)           Dial "", Ringing + Dial RINGING, after d Up + Dial ANSWER
//	Busy()                    Local: Dial BUSY, the leg stays (Down) until DELETE (03);
//	                          PJSIP: 486 → HangupRequest{17, tech_cause 486}, StasisEnd, Destroyed 17, no BUSY (13b)
//	Congestion()              Local: Dial CONGESTION, leg stays (05); PJSIP: 503 → cause 34
//	Rejects(sip)              HangupRequest{cause(sip), tech_cause}, StasisEnd, Destroyed (13b shape)
//	NoAnswer()                rings until the dial timeout: HangupRequest{32, soft}, StasisEnd,
//	                          Destroyed 19 (PJSIP tech_cause 480), and no NOANSWER Dial event (04)
//	Offline()                 create (and originate) → 500 {"error":"Allocation failed"}, no events (06)
//	Unreachable()             Local device gone behind the dialplan: Dial "", HangupRequest{20}, Destroyed 20 (modelled, not traced)
//	Missing()                 Local extension that does not exist: dial → StasisEnd, Destroyed 16, no Dial event (06)
//	.After(d) .Ringing(bool)  delay the outcome / force or suppress ringing
//	.ThenHangsUp(d)           far end hangs up d after answering (Local {cause 0}, PJSIP {cause 16}) (02)
//	.ThenPresses("1", d)      far end presses digits d after answering ("press 1 to accept")
//
// Unscripted targets behave as on Asterisk: Local → Missing, PJSIP endpoint
// unknown or unregistered → Offline, registered → NoAnswer. Scripting PJSIP/x
// declares endpoint x (online, offline for Offline); AddEndpoint, Register
// and Unregister change registrations (EndpointStateChange, PeerStatusChange,
// ContactStatusChange for apps subscribed to the endpoint). A busy Local leg
// and a congested one stay in Stasis: the adapter must hang them up.
//
// callflow.Script maps onto these: Answer{AfterS} → AnswersAfter(AfterS s),
// plus .ThenPresses("1", d) on legs that ask for a confirmation;
// AnswerNoConfirm → AnswersAfter without presses; Busy → Busy(); Offline →
// Offline(); Reject → Rejects(603); NoAnswer → NoAnswer().
//
// f.FarEnd(channelID) acts on a leg (or an inbound call) by hand: Answer(),
// Reject(sip), Hangup(), Press(digits) — for scripts the constructors above
// cannot express.
//
// # The surprises, on demand
//
//   - f.SetEventOrder(Natural | EventsFirst | ResponseFirst): events of a
//     request race its reply (Natural, as Asterisk), or are all written
//     before it (StasisStart of a created channel before its 200), or after.
//   - f.HoldStasis() / f.ReleaseStasis(), f.SetStasisDelay(d): created
//     channels enter Stasis late; a /dial meanwhile answers 409 "Channel not
//     in Stasis application" (seen in 6 of 15 runs on Asterisk). Dial on
//     StasisStart.
//   - Dialing one channel twice: 204 twice (as Asterisk), but it is recorded
//     in Crashed() and reported with t.Errorf at once; with
//     Options.CrashOnDoubleDial, hanging that channel up then "crashes" the
//     fake like Asterisk 22.10.1 (15b): every WebSocket drops (1006), all
//     state is lost, connections are refused for RestartDowntime.
//   - A second WebSocket for an app: the first gets ApplicationReplaced and
//     nothing more. No WebSocket: events are dropped (Missed() counts them),
//     the app and its channels stay, new inbound calls fail.
//   - f.DropConnections(): every WebSocket drops without a close frame.
//   - f.Restart(): `core restart now` (16): channels in Stasis get
//     ChannelHangupRequest{cause 4, soft} and StasisEnd; RestartDropAfter
//     later (1.2 s) all connections drop without a close frame and channels,
//     bridges, playbacks and apps vanish (device states and mailboxes stay);
//     connections are refused for RestartDowntime (500 ms), then the fake
//     listens again on the same address. Up() says which.
//   - No pings are ever sent on the WebSocket (19).
//
// # What the adapter did
//
//   - f.Dials(): every dial (create+dial and originate): target, app args,
//     originator, /dial caller=, effective timeout (0/garbage → 30 s, -1 →
//     none), and the leg's CallerID, Connected (what the far end is shown:
//     /dial caller= overwrites it with the caller channel's caller ID, and
//     chan_pjsip puts the connected line in the INVITE's From), Redirecting
//     (also copied from caller= at dial time: set REDIRECTING on the caller
//     channel, or dial without caller=) and plain variables, all at dial time.
//   - f.Actions(ids...): answer, ring, moh (class), hold, silence, play
//     (media), dtmf, variable sets, hangup (reason), continue, bridge enter /
//     leave / moh, device state sets… in order, with the fake's time.
//   - f.Channels(), f.Channel(id), f.Bridges(), f.DeviceStates().
//   - f.Leftovers(): channels, bridges and playbacks still alive — a load
//     test asserts it is empty (Local ;1/;2 halves are listed too).
//   - f.Failures(): fatal misuse (double dial, event overflow, an ARI route
//     the fake does not implement); each was also reported to t when it
//     happened.
//
// # Fidelity notes
//
// Events reach an app exactly as Asterisk's subscriptions route them: a
// channel is heard while in Stasis, and for good once created or originated
// by the app or named as a create's originator (so ChannelDestroyed comes
// for those, but an inbound channel's story ends at StasisEnd unless it was
// an originator); an endpoint subscription doubles the channel events of its
// channels (13). Bridges created over REST are heard once an app channel
// entered them. Events of different channels interleave as the fake happens
// to produce them; only each channel's own order is the traced one (the
// replay compares it that way). Parameters may come in the query or in a
// JSON body (ari/v6 sends bodies); numeric body fields must be JSON numbers
// (ari/v6's Mailbox.Update sends strings: 0 on Asterisk and here).
package fakeari
