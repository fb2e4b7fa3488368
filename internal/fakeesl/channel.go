package fakeesl

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// varList is a channel's variables in insertion order (events list them that way).
type varList struct {
	keys []string
	m    map[string]string
}

func newVars() *varList { return &varList{m: map[string]string{}} }

func (v *varList) get(k string) (string, bool) { x, ok := v.m[k]; return x, ok }

func (v *varList) set(k, val string) {
	if _, ok := v.m[k]; !ok {
		v.keys = append(v.keys, k)
	}
	v.m[k] = val
}

func (v *varList) del(k string) {
	if _, ok := v.m[k]; !ok {
		return
	}
	delete(v.m, k)
	for i, x := range v.keys {
		if x == k {
			v.keys = append(v.keys[:i], v.keys[i+1:]...)
			return
		}
	}
}

func (v *varList) snapshot() map[string]string {
	out := make(map[string]string, len(v.m))
	for k, x := range v.m {
		out[k] = x
	}
	return out
}

// Channel is one call leg inside the fake. Its fields are guarded by the server mutex.
type Channel struct {
	s         *Server
	UUID      string
	Name      string
	direction string // inbound | outbound
	state     string
	callState string
	answer    string // ringing | early | answered | hangup
	cause     string
	hungup    bool
	vars      *varList

	cidName, cidNum, dest, context, source   string
	calleeName, calleeNum                    string
	hitDialplan                              bool
	created, answeredAt, progressAt, mediaAt time.Time
	hangupAt, bridgedAt                      time.Time

	other     *Channel // bridged to
	otherType string   // originator | originatee, as seen from this channel
	// otherLeg is the profile events show as Other-Leg-*: the originator from a B leg's
	// creation on, the bridged B on an A leg from CHANNEL_BRIDGE on; it stays after the
	// bridge ends, as FreeSWITCH keeps the profile.
	otherLeg     *Channel
	otherLegType string
	sock         *conn
	parkApp      *appRun // socket or park application the channel sits in
	parked       bool
	apps         []*appRun
	cur          *appRun
	peer         *Channel // loopback twin
	ep           *Endpoint
	timers       []Timer
	bridge       *bridgeOp // bridge application running on this channel
	leg          *legState // this channel is a B leg of a bridge/originate
	verbose      bool
	dtmfWait     func(digit string)
	exports      *varList
	onAnswer     []func()

	afterHangupEvent func()   // runs once, right after CHANNEL_HANGUP
	destroyVars      []Header // set just before CHANNEL_DESTROY (the bridge thread's last word)

	presenceCount int     // PRESENCE_IN event_count
	holdApp       *appRun // hold music played next to the bridge (uuid_hold on the other leg)
	// SIP self-loop (sip.go): B's far end, the far end's B, the far end's refusal code.
	sipFar, sipNear *Channel
	sipRefuse       int
	sipQuiet        bool     // the far end's own 183 before its 200: not sent on
	sipOut          bool     // a SIP leg to a scripted endpoint (Endpoint, Registration)
	sipDone         bool     // its sip_hangup_disposition is decided
	noPresence      bool     // presence_id set, but sofia publishes it (no PRESENCE_IN)
	postHangupVars  []Header // set after CHANNEL_HANGUP, before HANGUP_COMPLETE
	restPending     bool     // hung up, the rest waits for the sync-mode socket to end
	destroyPending  bool     // hung up, destroy waits for the lingering socket to end
}

// appRun is one application execution.
type appRun struct {
	name, arg, uuid string
	loops           int
	done            chan struct{}
	fromSocket      bool
	timer           Timer
	response        string
	finished        bool
	onHangup        func()   // stop what the app does when the channel hangs up
	signalled       bool     // done closed
	cmd             *Message // the sendmsg that asked for it (PRIVATE_COMMAND once done)
	starting        bool     // inside its start function
}

// firePrivate fires the PRIVATE_COMMAND event FreeSWITCH emits for a sendmsg it handled:
// the command's headers with the channel's basic data.
func (ch *Channel) firePrivate(m *Message) {
	var pre []Header
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Content-Length") {
			pre = append(pre, h)
		}
	}
	ch.s.fire(ch.event("PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_event", 300, pre, nil))
}

// signalDone wakes the sync-mode sendmsg waiting for this application (once).
func (a *appRun) signalDone(s *Server) {
	if a.done == nil || a.signalled {
		return
	}
	a.signalled = true
	s.busy.Add(1) // the waiter runs again (waitOn)
	close(a.done)
}

var stateNumber = map[string]int{"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3,
	"CS_EXECUTE": 4, "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
	"CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12}

// newChannel creates and registers a channel; callers hold s.mu. It fires no event.
func (s *Server) newChannel(uuid, name, direction string) *Channel {
	if uuid == "" {
		uuid = newUUID()
	}
	s.sessionID++
	now := s.clock.Now()
	ch := &Channel{s: s, UUID: uuid, Name: name, direction: direction, state: "CS_INIT",
		callState: "DOWN", answer: "ringing", vars: newVars(), created: now, source: "mod_sofia",
		context: "default", calleeName: "Outbound Call"}
	ch.vars.set("direction", direction)
	ch.vars.set("uuid", uuid)
	ch.vars.set("session_id", fmt.Sprint(s.sessionID))
	ch.vars.set("channel_name", name)
	ch.vars.set("read_codec", "PCMU")
	ch.vars.set("read_rate", "8000")
	ch.vars.set("write_codec", "PCMU")
	ch.vars.set("write_rate", "8000")
	s.channels[uuid] = ch
	return ch
}

// event builds a channel event; pre go right after Event-Sequence, post at the end.
func (ch *Channel) event(name, file, fn string, line int, pre, post []Header) *Event {
	s := ch.s
	e := s.baseEvent(name, file, fn, line)
	e.Headers = append(e.Headers, pre...)
	ch.addChannelData(e, name)
	e.Headers = append(e.Headers, post...)
	return e
}

func (ch *Channel) addChannelData(e *Event, name string) {
	e.add("Channel-State", ch.state)
	e.add("Channel-Call-State", ch.callState)
	e.add("Channel-State-Number", fmt.Sprint(stateNumber[ch.state]))
	e.add("Channel-Name", ch.Name)
	e.add("Unique-ID", ch.UUID)
	e.add("Call-Direction", ch.direction)
	e.add("Presence-Call-Direction", ch.direction)
	e.add("Channel-HIT-Dialplan", fmt.Sprint(ch.hitDialplan))
	if p, ok := ch.vars.get("presence_id"); ok {
		e.add("Channel-Presence-ID", p)
	}
	e.add("Channel-Call-UUID", ch.UUID)
	e.add("Answer-State", ch.answer)
	if ch.hungup {
		e.add("Hangup-Cause", ch.cause)
	}
	codec, _ := ch.vars.get("read_codec")
	for _, d := range []string{"Read", "Write"} {
		e.add("Channel-"+d+"-Codec-Name", codec)
		e.add("Channel-"+d+"-Codec-Rate", "8000")
		e.add("Channel-"+d+"-Codec-Bit-Rate", "64000")
	}
	ch.addProfile(e, "Caller-", true)
	if o := ch.otherLeg; o != nil {
		e.add("Other-Type", ch.otherLegType)
		o.addProfile(e, "Other-Leg-", false)
	}
	if !ch.verbose && !extendedEvents[name] || name == "CHANNEL_UUID" {
		return // switch_channel_event_set_extended_data: variables only on these
	}
	for _, k := range ch.vars.keys {
		e.add("variable_"+k, ch.vars.m[k])
	}
}

// extendedEvents carry the channel variables (switch_channel_event_set_extended_data);
// others only with verbose_events (or after a SYSTEM_SHUTDOWN hangup, as traced).
var extendedEvents = setOf("CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER",
	"CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
	"CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "REQUEST_PARAMS", "CHANNEL_DATA",
	"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "SESSION_HEARTBEAT", "API",
	"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "MEDIA_BUG_START",
	"MEDIA_BUG_STOP", "CUSTOM", "CHANNEL_HOLD", "CHANNEL_UNHOLD")

func usec(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return fmt.Sprint(t.UnixMicro())
}

func (ch *Channel) addProfile(e *Event, p string, index bool) {
	e.add(p+"Direction", ch.direction)
	e.add(p+"Logical-Direction", ch.direction)
	e.add(p+"Dialplan", "xml")
	e.add(p+"Caller-ID-Name", ch.cidName)
	e.add(p+"Caller-ID-Number", ch.cidNum)
	e.add(p+"Orig-Caller-ID-Name", ch.cidName)
	e.add(p+"Orig-Caller-ID-Number", ch.cidNum)
	e.add(p+"Callee-ID-Name", ch.calleeName)
	e.add(p+"Callee-ID-Number", ch.calleeNum)
	e.add(p+"ANI", ch.cidNum)
	e.add(p+"Destination-Number", ch.dest)
	e.add(p+"Unique-ID", ch.UUID)
	e.add(p+"Source", ch.source)
	e.add(p+"Context", ch.context)
	e.add(p+"Channel-Name", ch.Name)
	if index {
		e.add(p+"Profile-Index", "1")
	}
	e.add(p+"Profile-Created-Time", usec(ch.created))
	e.add(p+"Channel-Created-Time", usec(ch.created))
	e.add(p+"Channel-Answered-Time", usec(ch.answeredAt))
	e.add(p+"Channel-Progress-Time", usec(ch.progressAt))
	e.add(p+"Channel-Progress-Media-Time", usec(ch.mediaAt))
	e.add(p+"Channel-Hangup-Time", usec(ch.hangupAt))
	e.add(p+"Channel-Transfer-Time", "0")
	e.add(p+"Channel-Resurrect-Time", "0")
	e.add(p+"Channel-Bridged-Time", usec(ch.bridgedAt))
	e.add(p+"Channel-Last-Hold", "0")
	e.add(p+"Channel-Hold-Accum", "0")
	e.add(p+"Screen-Bit", "true")
	e.add(p+"Privacy-Hide-Name", "false")
	e.add(p+"Privacy-Hide-Number", "false")
}

func (ch *Channel) fireSimple(name, file, fn string, line int) {
	ch.s.fire(ch.event(name, file, fn, line, nil, nil))
}

// setCallState moves the call state and fires CHANNEL_CALLSTATE.
func (ch *Channel) setCallState(cs string) {
	if ch.callState == cs {
		return
	}
	old := ch.callState
	ch.callState = cs
	ch.s.fire(ch.event("CHANNEL_CALLSTATE", "switch_channel.c", "switch_channel_perform_set_callstate", 344,
		[]Header{{"Original-Channel-Call-State", old}, {"Channel-Call-State-Number", fmt.Sprint(callStateNumber[cs])}}, nil))
}

var callStateNumber = map[string]int{"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
	"RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}

// fireCreated fires what a new channel goes through before its dialplan or originate
// continues. An outbound leg (originated): [CHANNEL_UUID when origination_uuid renamed
// it], CHANNEL_OUTGOING, STATE CS_INIT, CREATE, ORIGINATE, STATE CS_ROUTING, STATE
// CS_CONSUME_MEDIA. An inbound one: STATE CS_INIT, CREATE, CALLSTATE RINGING, STATE
// CS_ROUTING, STATE CS_EXECUTE (01, 03-bridge-answer with `event plain ALL`).
func (ch *Channel) fireCreated(renamedFrom string) {
	if ch.direction == "outbound" {
		ch.state = "CS_NEW"
		if renamedFrom != "" {
			ch.fireSimple2("CHANNEL_UUID", []Header{{"Old-Unique-ID", renamedFrom}})
		}
		ch.fireSimple("CHANNEL_OUTGOING", "switch_core_session.c", "switch_core_session_outgoing_channel", 700)
		ch.setState("CS_INIT")
		ch.fireSimple("CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 599)
		ch.fireSimple("CHANNEL_ORIGINATE", "switch_ivr_originate.c", "switch_ivr_originate", 3000)
		ch.setState("CS_ROUTING")
		ch.presence("CS_ROUTING", "progressing")
		ch.setState("CS_CONSUME_MEDIA")
		return
	}
	ch.setState("CS_INIT")
	ch.fireSimple("CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 599)
	ch.state = "CS_ROUTING"
	ch.setCallState("RINGING")
	ch.setState("CS_ROUTING")
	ch.presence("CS_ROUTING", "alerting")
	ch.setState("CS_EXECUTE")
}

// presence fires the PRESENCE_IN a channel with a presence_id emits as it routes, answers
// and hangs up (07-presence-mwi: BLF keys follow it).
func (ch *Channel) presence(status, info string) {
	id, ok := ch.vars.get("presence_id")
	if !ok || id == "" || ch.noPresence {
		return
	}
	pre := []Header{{"proto", "any"}, {"login", "src/switch_channel.c"}, {"from", id}, {"status", status},
		{"rpid", "unknown"}, {"event_type", "presence"}, {"alt_event_type", "dialog"},
		{"event_count", fmt.Sprint(ch.presenceCount)}, {"presence-call-direction", ch.direction},
		{"presence-call-info-state", info}}
	ch.presenceCount++
	ch.s.fire(ch.event("PRESENCE_IN", "switch_channel.c", "switch_channel_perform_presence", 1200, pre, nil))
}

func (ch *Channel) fireSimple2(name string, pre []Header) {
	ch.s.fire(ch.event(name, "switch_core_session.c", "switch_core_session_set_uuid", 2300, pre, nil))
}

func (ch *Channel) setState(st string) {
	ch.state = st
	ch.fireSimple("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 600)
}

// connectReply renders the outbound `connect` answer: CHANNEL_DATA as plain headers, then
// the reply headers, no Content-Length (README "Framing").
func (ch *Channel) connectReply(async bool) []byte {
	s := ch.s
	e := s.baseEvent("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2021)
	ch.addProfile(e, "Channel-", true)
	ch.addChannelData(e, "CHANNEL_DATA")
	var b strings.Builder
	for _, h := range e.Headers {
		b.WriteString(h.Name + ": " + urlEncode(h.Value) + "\n")
	}
	mode := "static"
	if async {
		mode = "async"
	}
	b.WriteString("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: " + mode + "\nControl: full\n\n")
	return []byte(b.String())
}

// markProgress fires CHANNEL_PROGRESS (media=false) or CHANNEL_PROGRESS_MEDIA once.
func (ch *Channel) markProgress(media bool) {
	if ch.hungup || ch.answer == "answered" {
		return
	}
	now := ch.s.clock.Now()
	if media {
		if !ch.mediaAt.IsZero() {
			return
		}
		ch.mediaAt = now
		ch.answer = "early"
		ch.vars.set("endpoint_disposition", "EARLY MEDIA")
		ch.vars.set("progress_media_stamp", now.Format("2006-01-02 15:04:05"))
		ch.s.fire(ch.event("CHANNEL_PROGRESS_MEDIA", "switch_channel.c", "switch_channel_perform_mark_pre_answered", 3680, nil, nil))
		ch.setCallState("EARLY")
	} else {
		if !ch.progressAt.IsZero() || !ch.mediaAt.IsZero() {
			return // ringing after early media shows nothing more (03-bridge-caller-hangs-up-ringing)
		}
		ch.progressAt = now
		ch.s.fire(ch.event("CHANNEL_PROGRESS", "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3560, nil, nil))
		ch.setCallState("RINGING")
	}
	if ch.peer != nil {
		ch.peer.markProgress(media)
	}
	if ch.sipNear != nil && !ch.sipQuiet {
		ch.sipProgress(media)
	}
	if ch.leg != nil {
		ch.leg.op.legProgress(ch.leg, media)
	}
}

// markAnswered answers the channel once (CHANNEL_ANSWER), its loopback twin too.
func (ch *Channel) markAnswered() {
	if ch.hungup || ch.answer == "answered" {
		return
	}
	if ch.sipNear != nil && ch.mediaAt.IsZero() {
		// sofia pre-answers an incoming call it answers (11: PROGRESS_MEDIA, ANSWER).
		ch.sipQuiet = true
		ch.markProgress(true)
		ch.sipQuiet = false
	}
	ch.answeredAt = ch.s.clock.Now()
	ch.answer = "answered"
	ch.s.fire(ch.event("CHANNEL_ANSWER", "switch_channel.c", "switch_channel_perform_mark_answered", 3846, nil, nil))
	ch.setCallState("ACTIVE")
	ch.vars.set("endpoint_disposition", "ANSWER")
	ch.presence("answered", "active")
	if ch.sipNear != nil {
		ch.sipAnswered()
	}
	if ch.peer != nil {
		ch.peer.markAnswered()
	}
	if ch.leg != nil {
		ch.leg.op.legAnswered(ch.leg)
	}
	fs := ch.onAnswer
	ch.onAnswer = nil
	for _, f := range fs {
		f()
	}
}

func (ch *Channel) after(d time.Duration, f func()) {
	s := ch.s
	t := s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ch.hungup {
			f()
		}
	})
	ch.timers = append(ch.timers, t)
}

// enqueue adds an application to the channel's queue and starts it if idle.
func (ch *Channel) enqueue(a *appRun) {
	ch.apps = append(ch.apps, a)
	if ch.cur == nil {
		ch.next()
	}
}

func (ch *Channel) next() {
	for ch.cur == nil && len(ch.apps) > 0 && !ch.hungup {
		a := ch.apps[0]
		ch.apps = ch.apps[1:]
		ch.startApp(a)
	}
}

// appHeaders are the Application-* headers CHANNEL_EXECUTE(_COMPLETE) end with.
func (a *appRun) headers(complete bool) []Header {
	h := []Header{{"Application", a.name}}
	if a.arg != "" {
		h = append(h, Header{"Application-Data", a.arg})
	}
	if complete {
		h = append(h, Header{"Application-Response", a.response})
	}
	h = append(h, Header{"Application-UUID", a.uuid})
	return h
}

func (ch *Channel) startApp(a *appRun) {
	run, ok := apps[a.name]
	if !ok {
		// Unknown application: no CHANNEL_EXECUTE, the channel is hung up (08-errors).
		a.signalDone(ch.s)
		ch.hangup("DESTINATION_OUT_OF_ORDER")
		return
	}
	ch.cur = a
	a.response = "_none_"
	a.arg = ch.expand(a.arg) // FreeSWITCH expands ${var} in application data
	ch.vars.set("current_application", a.name)
	if a.arg != "" {
		ch.vars.set("current_application_data", a.arg)
	} else {
		ch.vars.del("current_application_data")
	}
	ch.s.fire(ch.event("CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2944, nil, a.headers(false)))
	a.starting = true
	run(ch, a)
	a.starting = false
}

// finishApp completes the running application a (CHANNEL_EXECUTE_COMPLETE) and starts the
// next one; after a hangup it only fires the event.
func (ch *Channel) finishApp(a *appRun) {
	if a.finished {
		return
	}
	a.finished = true
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.response != "" && a.response != "_none_" {
		ch.vars.set("current_application_response", a.response)
	}
	ch.s.fire(ch.event("CHANNEL_EXECUTE_COMPLETE", "switch_core_session.c", "switch_core_session_exec", 2967, nil, a.headers(true)))
	if a.cmd != nil && !ch.hungup && !a.starting {
		// Traced: a playback's sendmsg came back as PRIVATE_COMMAND after its COMPLETE
		// (02); an instant application's (answer, 09-inbound-fs-shutdown) and a bridge
		// ended by a hangup (03-bridge-answer) did not.
		ch.firePrivate(a.cmd)
	}
	if ch.cur == a {
		ch.cur = nil
	}
	a.signalDone(ch.s)
	if !ch.hungup {
		ch.next()
	}
}

// hangup ends the channel with cause, in the order the traces show on a socket leg:
// HANGUP, (UNBRIDGE, bridge COMPLETE), UNPARK, socket COMPLETE, STATE CS_HANGUP,
// STATE CS_REPORTING, HANGUP_COMPLETE, the socket's notice, DESTROY.
func (ch *Channel) hangup(cause string) {
	if ch.hungup {
		return
	}
	s := ch.s
	ch.hungup = true
	ch.cause = cause
	ch.answer = "hangup"
	ch.hangupAt = s.clock.Now()
	for _, t := range ch.timers {
		t.Stop()
	}
	ch.timers = nil
	ch.s.fire(ch.event("CHANNEL_HANGUP", "switch_channel.c", "switch_channel_perform_hangup", 3445, nil, nil))
	if f := ch.afterHangupEvent; f != nil {
		ch.afterHangupEvent = nil
		f()
	}
	ch.applyPostHangupVars() // what the hangup's signalling says (recv_bye…): from the next event on (02b)
	if sock := ch.sock; sock != nil && !sock.async {
		// Sync mode: the linger notice arrived before CHANNEL_HANGUP reached the socket and
		// nothing after it (09-outbound-sync-mode); other subscribers see everything.
		sock.staticHangup()
		if ch.sock != nil {
			// Lingering: the session thread sits in the socket application until the
			// socket ends; only the loopback twin goes on (HANGUP_COMPLETE comes later).
			if ch.peer != nil {
				ch.peer.hangup(cause)
			}
			ch.restPending = true
			return
		}
	}
	ch.hangupRest()
}

// hangupRest is what follows CHANNEL_HANGUP: the bridge and the applications end, the
// state machine reports, and the channel is destroyed — unless an async socket lingers on
// it, which keeps the session until the socket ends (CHANNEL_DESTROY after the socket's
// disconnect notice, 09-outbound-caller-hangup-linger-2s).
func (ch *Channel) hangupRest() {
	s := ch.s
	cause := ch.cause
	ch.restPending = false
	if a := ch.holdApp; a != nil {
		ch.holdApp = nil
		ch.vars.set("current_application_response", a.response)
		if ch.bridge != nil {
			ch.bridge.app.response = a.response // the bridge reports it too (04)
		}
		ch.s.fire(ch.event("CHANNEL_EXECUTE_COMPLETE", "switch_core_session.c", "switch_core_session_exec", 2967, nil, a.headers(true)))
	}
	if ch.sipNear != nil {
		ch.sipHangupFar(cause)
	}
	if ch.sipFar != nil {
		ch.sipHangupNear()
	}
	ch.sipLocalEnd()
	// A B leg tells its bridge/originate first.
	if ch.leg != nil {
		ch.leg.op.legHungUp(ch.leg)
	}
	// Bridged: the other side goes too (bridge app) or is told (B leg ended).
	if o := ch.other; o != nil && o.bridge == nil && ch.bridge != nil {
		// A hung up while bridged: B follows, knowing why (03-bridge-answer).
		o.vars.set("last_bridge_hangup_cause", cause)
		o.hangup("NORMAL_CLEARING")
	}
	if a := ch.cur; a != nil {
		if a.onHangup != nil {
			a.onHangup()
		}
		ch.finishApp(a)
	}
	for _, a := range ch.apps {
		a.signalDone(s)
	}
	ch.apps = nil
	if ch.other != nil && ch.bridge == nil && ch.otherType == "originatee" && ch.leg == nil {
		// uuid_bridge pair: the partner has nothing left to do.
		o := ch.other
		uuidUnbridge(ch)
		o.hangup("NORMAL_CLEARING")
	}
	if ch.parked {
		ch.parked = false
		ch.fireSimple("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1166)
	}
	if p := ch.parkApp; p != nil {
		ch.parkApp = nil
		if r, ok := ch.vars.get("current_application_response"); ok {
			p.response = r
		}
		ch.finishApp(p)
	}
	ch.setState("CS_HANGUP")
	ch.vars.set("hangup_cause", cause)
	ch.vars.set("hangup_cause_q850", fmt.Sprint(q850[cause]))
	ch.setCallState("HANGUP")
	ch.presence("CS_HANGUP", "idle")
	if ch.peer != nil {
		ch.peer.hangup(cause)
	}
	ch.setState("CS_REPORTING")
	ch.applyPostHangupVars()
	ch.vars.set("end_stamp", ch.hangupAt.Format("2006-01-02 15:04:05"))
	ch.vars.set("billsec", fmt.Sprint(billsec(ch)))
	ch.s.fire(ch.event("CHANNEL_HANGUP_COMPLETE", "switch_core_state_machine.c", "switch_core_session_reporting_state", 943,
		[]Header{{"Hangup-Cause", cause}}, nil))
	if sock := ch.sock; sock != nil {
		sock.channelGone()
	}
	if ch.sock != nil {
		ch.destroyPending = true
		return
	}
	ch.destroy()
}

func (ch *Channel) applyPostHangupVars() {
	for _, h := range ch.postHangupVars {
		ch.vars.set(h.Name, h.Value)
	}
	ch.postHangupVars = nil
}

// socketEnded: the socket application returns because its connection ended (closed by the
// client, `exit`) while the channel is up: UNPARK, the socket's EXECUTE_COMPLETE, then the
// dialplan is over and the channel hangs up NORMAL_CLEARING (09-outbound-client-closes-socket).
func (ch *Channel) socketEnded() {
	if ch.hungup {
		return
	}
	if ch.parked {
		ch.parked = false
		ch.fireSimple("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1166)
	}
	if p := ch.parkApp; p != nil && p.name == "socket" {
		ch.parkApp = nil
		ch.apps = nil
		ch.finishApp(p)
	}
	ch.hangup("NORMAL_CLEARING")
}

// expand replaces ${name} with the channel's variable, else the global one.
func (ch *Channel) expand(s string) string {
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return s
		}
		j += i
		k := strings.IndexByte(s[j:], '}')
		if k < 0 {
			return s
		}
		name := s[j+2 : j+k]
		v, ok := ch.vars.get(name)
		if !ok {
			v = ch.s.globalVar(name)
		}
		s = s[:j] + v + s[j+k+1:]
		i = j + len(v)
	}
}

// destroy fires CHANNEL_DESTROY and forgets the channel.
func (ch *Channel) destroy() {
	ch.destroyPending = false
	for _, h := range ch.destroyVars {
		ch.vars.set(h.Name, h.Value)
	}
	ch.s.fire(ch.event("CHANNEL_DESTROY", "switch_core_session.c", "switch_core_session_perform_destroy", 1600, nil, nil))
	ch.state = "CS_DESTROY"
	ch.fireSimple("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_destroy_state", 700)
	delete(ch.s.channels, ch.UUID)
}

// detach ends a connection's hold on its channel; callers hold s.mu. A channel whose
// hangup waited for the socket (sync mode) finishes it, one kept for a lingering socket
// is destroyed.
func (c *conn) detach() {
	ch := c.ch
	if ch == nil || ch.sock != c {
		return
	}
	ch.sock = nil
	switch {
	case ch.restPending:
		ch.hangupRest()
	case ch.destroyPending:
		ch.destroy()
	}
}

func billsec(ch *Channel) int {
	if ch.answeredAt.IsZero() {
		return 0
	}
	return int(ch.hangupAt.Sub(ch.answeredAt) / time.Second)
}

// channelGone runs after the controlled channel's HANGUP_COMPLETE: linger notice (and,
// with `linger N`, the disconnect N s later) or the disconnect notice and close.
func (c *conn) channelGone() {
	if c.gone {
		return
	}
	ch := c.ch
	if !c.linger {
		c.disconnect()
		return
	}
	lt := "-1"
	if c.lingerSec > 0 {
		lt = fmt.Sprint(c.lingerSec)
	}
	c.queue([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + ch.UUID +
		"\nContent-Disposition: linger\nChannel-Name: " + ch.Name + "\nLinger-Time: " + lt + "\nContent-Length: 0\n\n"))
	c.lingering = true
	if c.lingerSec > 0 {
		s := c.s
		s.clock.AfterFunc(time.Duration(c.lingerSec)*time.Second, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !c.gone {
				c.disconnect()
			}
		})
	}
}

// staticHangup: sync-mode socket at hangup (see hangup).
func (c *conn) staticHangup() {
	if c.gone {
		return
	}
	if c.linger {
		ch := c.ch
		lt := "-1"
		if c.lingerSec > 0 {
			lt = fmt.Sprint(c.lingerSec)
		}
		c.queue([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + ch.UUID +
			"\nContent-Disposition: linger\nChannel-Name: " + ch.Name + "\nLinger-Time: " + lt + "\nContent-Length: 0\n\n"))
		c.lingering = true
		// The CHANNEL_HANGUP already fired was queued before the notice; move it after, as
		// traced, by re-sending order: the notice came first on the wire.
		c.qmu.Lock()
		if n := len(c.q); n >= 2 && isHangupFrame(c.q[n-2]) {
			c.q[n-1], c.q[n-2] = c.q[n-2], c.q[n-1]
		}
		c.mutedEvents = true
		c.qmu.Unlock()
		return
	}
	c.disconnect()
}

func isHangupFrame(b []byte) bool {
	return bytes.Contains(b, []byte("Event-Name: CHANNEL_HANGUP\n")) || bytes.Contains(b, []byte(`"Event-Name":"CHANNEL_HANGUP"`))
}
