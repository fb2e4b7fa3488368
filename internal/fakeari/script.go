package fakeari

import (
	"fmt"
	"strings"
	"time"
)

type outcome int

const (
	outAnswer      outcome = iota + 1
	outBusy                // Local: Dial BUSY, leg stays; PJSIP: rejected with 486
	outCongestion          // Local: Dial CONGESTION, leg stays; PJSIP: rejected with 503
	outReject              // rejected with a SIP status (PJSIP) / hung up with its cause (Local)
	outNoAnswer            // rings until the dial timeout (or forever)
	outOffline             // channel creation fails: 500 Allocation failed
	outUnreachable         // Local: the dialplan behind it finds the device gone (cause 20)
	outMissing             // Local to an extension that does not exist
)

// Behavior scripts the far end of a dial target: what the phone, trunk or
// dialplan behind PJSIP/alice, Local/100@phones or PJSIP/+33612345678@trunk
// does when the adapter dials it. Build one with Answers, AnswersAfter, Busy,
// Congestion, Rejects, NoAnswer, Offline, Unreachable or Missing, then
// optionally add ThenHangsUp / ThenPresses.
type Behavior struct {
	out         outcome
	after       time.Duration
	ring        *bool
	sipCode     int
	hangupAfter time.Duration
	hangsUp     bool
	dtmf        string
	dtmfAfter   time.Duration
}

// Answers answers at once (Local: Answer(); PJSIP: 180 then 200 at once).
func Answers() Behavior { return Behavior{out: outAnswer} }

// AnswersAfter rings for d, then answers.
func AnswersAfter(d time.Duration) Behavior { return Behavior{out: outAnswer, after: d} }

// Busy is a busy far end. Local targets behave like Busy() in the dialplan
// (03): Dial BUSY, the leg stays up (state Down) until the app hangs it up.
// PJSIP targets reject the INVITE with 486 (13b): ChannelHangupRequest
// {cause 17, tech_cause 486}, StasisEnd, ChannelDestroyed 17 — no BUSY event.
func Busy() Behavior { return Behavior{out: outBusy} }

// Congestion: Local targets behave like Congestion() (05): Dial CONGESTION,
// the leg stays; PJSIP targets reject with 503 (cause 34).
func Congestion() Behavior { return Behavior{out: outCongestion} }

// Rejects makes the far end refuse the call with a SIP status (603, 404…)
// after ringing for the Behavior's After (default: at once, no ringing).
// The leg is hung up with the mapped cause: HangupRequest{cause,
// tech_cause}, StasisEnd, ChannelDestroyed (13b shape). On a Local target
// the cause comes without tech_cause (not traced; modelled on 13b).
func Rejects(sipCode int) Behavior { return Behavior{out: outReject, sipCode: sipCode} }

// NoAnswer rings forever: the dial timeout ends it (04, 13b): HangupRequest
// {32, soft}, StasisEnd, ChannelDestroyed 19 (PJSIP: tech_cause 480), and no
// NOANSWER Dial event.
func NoAnswer() Behavior { return Behavior{out: outNoAnswer} }

// Offline is an unregistered PJSIP device (or unknown endpoint): channel
// creation answers 500 {"error":"Allocation failed"} and nothing else
// happens (06). Scripting it on PJSIP/x marks endpoint x offline.
func Offline() Behavior { return Behavior{out: outOffline} }

// Unreachable is a Local target whose dialplan finds the device gone
// (Dial() → CHANUNAVAIL, then Hangup): after the Dial "" event the leg gets
// HangupRequest{cause 20}, StasisEnd, ChannelDestroyed 20 "Subscriber
// absent". Not traced; modelled on how a Local ;2 hangup reaches ;1.
func Unreachable() Behavior { return Behavior{out: outUnreachable} }

// Missing is a Local target whose extension does not exist (06): creation
// works, the dial ends it at once: StasisEnd, ChannelDestroyed 16, no Dial
// event. Unscripted Local targets behave like this.
func Missing() Behavior { return Behavior{out: outMissing} }

// After delays the outcome: for Busy, Congestion and Rejects the far end
// rings for d first. (AnswersAfter(d) is Answers().After(d).)
func (b Behavior) After(d time.Duration) Behavior { b.after = d; return b }

// Ringing forces (true) or suppresses (false) the RINGING Dial event and the
// Ringing state before the outcome. By default PJSIP targets ring, Local
// targets ring when the outcome comes after a delay.
func (b Behavior) Ringing(on bool) Behavior { b.ring = &on; return b }

// ThenHangsUp makes the far end hang up d after answering (02: Local
// HangupRequest{cause 0}; PJSIP HangupRequest{cause 16}), then StasisEnd and
// ChannelDestroyed 16; a bridged leg leaves its bridge first.
func (b Behavior) ThenHangsUp(d time.Duration) Behavior { b.hangsUp, b.hangupAfter = true, d; return b }

// ThenPresses makes the far end press digits d after answering, one
// ChannelDtmfReceived (duration_ms 100) per digit, DTMFGap apart — "press 1
// to accept".
func (b Behavior) ThenPresses(digits string, d time.Duration) Behavior {
	b.dtmf, b.dtmfAfter = digits, d
	return b
}

func (b Behavior) rings(tech string) bool {
	if b.ring != nil {
		return *b.ring
	}
	if tech == "PJSIP" {
		return true
	}
	return b.after > 0 || b.out == outNoAnswer
}

func (b Behavior) String() string {
	names := map[outcome]string{outAnswer: "answers", outBusy: "busy", outCongestion: "congestion",
		outReject: "rejects", outNoAnswer: "no answer", outOffline: "offline", outUnreachable: "unreachable",
		outMissing: "missing"}
	s := names[b.out]
	if b.out == outReject {
		s += fmt.Sprintf(" %d", b.sipCode)
	}
	if b.after > 0 {
		s += " after " + b.after.String()
	}
	if b.hangsUp {
		s += ", hangs up after " + b.hangupAfter.String()
	}
	if b.dtmf != "" {
		s += fmt.Sprintf(", presses %q after %s", b.dtmf, b.dtmfAfter)
	}
	return s
}

// endpoint is a PJSIP endpoint (a phone or a trunk).
type endpoint struct {
	tech, resource string
	context        string
	online         bool
	contact        string
	channels       []string
}

func (e *endpoint) key() string { return e.tech + "/" + e.resource }

func (e *endpoint) json() obj {
	state := "offline"
	if e.online {
		state = "online"
	}
	ids := append([]string{}, e.channels...)
	return obj{{"technology", e.tech}, {"resource", e.resource}, {"state", state}, {"channel_ids", ids}}
}

// parseTarget splits a dial string: "PJSIP/+336…@trunk" → ("PJSIP", "+336…@trunk").
func parseTarget(s string) (tech, resource string, ok bool) {
	tech, resource, ok = strings.Cut(s, "/")
	return tech, resource, ok && tech != "" && resource != ""
}

// pjsipEndpointName is the endpoint a PJSIP dial string uses: "alice" for
// "alice", "trunk" for "+33612345678@trunk".
func pjsipEndpointName(resource string) string {
	if _, ep, ok := strings.Cut(resource, "@"); ok {
		return ep
	}
	if i := strings.IndexByte(resource, '/'); i >= 0 {
		return resource[:i]
	}
	return resource
}

// Script sets how a dial target behaves, keyed by the endpoint string the
// adapter creates channels with ("PJSIP/alice", "Local/100@phones",
// "PJSIP/+33612345678@trunk"). For PJSIP targets the endpoint (alice, trunk)
// is added if unknown: online, or offline for Offline(); scripting an
// existing endpoint online/offline registers/unregisters it (with events).
func (f *Fake) Script(target string, b Behavior) {
	tech, res, ok := parseTarget(target)
	if !ok {
		panic(fmt.Sprintf("fakeari: Script(%q): want Tech/resource", target))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[target] = b
	if tech == "PJSIP" {
		e := f.ensureEndpoint(tech, pjsipEndpointName(res))
		f.setOnline(e, b.out != outOffline)
	}
}

// AddEndpoint declares a PJSIP endpoint (as pjsip.conf does), with its
// dialplan context (default "default"), registered or not. No events.
func (f *Fake) AddEndpoint(name, context string, online bool) {
	tech, res, ok := parseTarget(name)
	if !ok {
		panic(fmt.Sprintf("fakeari: AddEndpoint(%q): want Tech/resource", name))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.ensureEndpoint(tech, res)
	if context != "" {
		e.context = context
	}
	e.online = online
}

// Register makes a PJSIP endpoint ("PJSIP/alice") register, with
// EndpointStateChange(online), PeerStatusChange(Reachable) and
// ContactStatusChange(NonQualified) for apps subscribed to it (13).
func (f *Fake) Register(name string) { f.register(name, true) }

// Unregister is the reverse: offline, Unreachable, Removed.
func (f *Fake) Unregister(name string) { f.register(name, false) }

func (f *Fake) register(name string, online bool) {
	tech, res, ok := parseTarget(name)
	if !ok {
		panic(fmt.Sprintf("fakeari: register %q: want Tech/resource", name))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setOnline(f.ensureEndpoint(tech, res), online)
}

func (f *Fake) ensureEndpoint(tech, res string) *endpoint {
	key := tech + "/" + res
	e := f.endpoints[key]
	if e == nil {
		e = &endpoint{tech: tech, resource: res, context: "default",
			contact: fmt.Sprintf("sip:%s-0x5653de880ec0@127.0.0.1:5070", res)}
		f.endpoints[key] = e
		f.epOrder = append(f.epOrder, e)
	}
	return e
}

// setOnline changes a registration, telling subscribed apps. f.mu held.
func (f *Fake) setOnline(e *endpoint, online bool) {
	if e.online == online {
		return
	}
	e.online = online
	peer, contact := "Reachable", "NonQualified"
	if !online {
		peer, contact = "Unreachable", "Removed"
	}
	f.endpointEvent(e, "EndpointStateChange", nil)
	f.endpointEvent(e, "PeerStatusChange", obj{{"peer", obj{{"peer_status", peer}}}})
	f.endpointEvent(e, "ContactStatusChange", obj{{"contact_info", obj{{"uri", e.contact},
		{"contact_status", contact}, {"aor", e.resource}, {"roundtrip_usec", "0"}}}})
}

// behaviorFor is the script of a target: unscripted Local targets are
// missing extensions, unscripted PJSIP targets ring forever when their
// endpoint is registered and fail allocation otherwise.
func (f *Fake) behaviorFor(target string) (Behavior, bool) {
	b, ok := f.scripts[target]
	if ok {
		return b, true
	}
	tech, res, _ := parseTarget(target)
	if tech == "Local" {
		return Missing(), false
	}
	if e := f.endpoints[tech+"/"+pjsipEndpointName(res)]; e != nil && e.online {
		return NoAnswer(), false // a registered phone nobody picks up
	}
	return Offline(), false
}
