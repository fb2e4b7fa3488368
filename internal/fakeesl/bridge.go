package fakeesl

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// q850 maps FreeSWITCH hangup causes to their Q.850 codes (switch_channel.c CAUSE_CHART).
var q850 = map[string]int{"UNSPECIFIED": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2,
	"NO_ROUTE_DESTINATION": 3, "CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7,
	"NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
	"SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
	"REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
	"DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
	"RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
	"NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
	"ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
	"FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
	"BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
	"BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
	"SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
	"INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
	"WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
	"RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
	"INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 700,
	"SYSTEM_SHUTDOWN": 701, "LOSE_RACE": 702, "MANAGER_REQUEST": 703, "BLIND_TRANSFER": 800,
	"ATTENDED_TRANSFER": 801, "ALLOTTED_TIMEOUT": 602, "USER_CHALLENGE": 603, "MEDIA_TIMEOUT": 604,
	"PICKED_OFF": 605, "USER_NOT_REGISTERED": 606, "PROGRESS_TIMEOUT": 607, "INVALID_GATEWAY": 608,
	"GATEWAY_DOWN": 609, "INVALID_URL": 610, "INVALID_PROFILE": 611, "NO_PICKUP": 612,
	"SRTP_READ_ERROR": 613}

func validCause(c string) bool { _, ok := q850[c]; return ok && c != "" }

// dialStatus is DIALSTATUS for an originate result (switch_ivr_originate.c).
func dialStatus(cause string) string {
	switch cause {
	case "SUCCESS":
		return "SUCCESS"
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return "NOANSWER"
	case "CALL_REJECTED":
		return "DONTCALL"
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	}
	return cause
}

// sipCause maps a SIP final response to the hangup cause FreeSWITCH derives.
func sipCause(code int) string {
	switch code {
	case 404, 485, 604:
		return "NO_ROUTE_DESTINATION"
	case 480:
		return "NORMAL_CLEARING"
	case 486, 600:
		return "USER_BUSY"
	case 408:
		return "RECOVERY_ON_TIMER_EXPIRE"
	case 487:
		return "ORIGINATOR_CANCEL"
	case 488, 606:
		return "INCOMPATIBLE_DESTINATION"
	case 603:
		return "CALL_REJECTED"
	case 503:
		return "NORMAL_TEMPORARY_FAILURE"
	}
	return "NORMAL_UNSPECIFIED"
}

// legSpec is one target of a dial string with its [per-leg] variables.
type legSpec struct {
	target string
	vars   *varList
}

// parseDialString splits "{g=1}[l=2]a,b|c" into global variables and failover groups of
// simultaneous legs. Separators inside {} [] and single quotes do not split.
func parseDialString(ds string) (*varList, [][]*legSpec) {
	ds = strings.TrimSpace(ds)
	global := newVars()
	for strings.HasPrefix(ds, "{") || strings.HasPrefix(ds, "<") {
		closeCh := "}"
		if ds[0] == '<' {
			closeCh = ">"
		}
		end := strings.Index(ds, closeCh)
		if end < 0 {
			break
		}
		parseVars(ds[1:end], global)
		ds = strings.TrimSpace(ds[end+1:])
	}
	var groups [][]*legSpec
	for _, g := range splitTop(ds, '|') {
		var legs []*legSpec
		for _, l := range splitTop(g, ',') {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			ls := &legSpec{vars: newVars()}
			for strings.HasPrefix(l, "[") || strings.HasPrefix(l, "{") {
				closeCh := "]"
				if l[0] == '{' {
					closeCh = "}"
				}
				end := strings.Index(l, closeCh)
				if end < 0 {
					break
				}
				parseVars(l[1:end], ls.vars)
				l = strings.TrimSpace(l[end+1:])
			}
			ls.target = l
			legs = append(legs, ls)
		}
		if len(legs) > 0 {
			groups = append(groups, legs)
		}
	}
	return global, groups
}

func splitTop(s string, sep byte) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quote = !quote
		case quote:
		case c == '{' || c == '[' || c == '<':
			depth++
		case c == '}' || c == ']' || c == '>':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseVars(s string, into *varList) {
	for _, kv := range splitTop(s, ',') {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		into.set(strings.TrimSpace(k), v)
	}
}

// BridgeRecord is what a bridge (or API originate) tried, for tests to assert on.
type BridgeRecord struct {
	UUID       string            // the A leg ("" for an API originate)
	DialString string            // as received
	Global     map[string]string // {…} variables
	Legs       []LegRecord       // every target attempted, in order
	Result     string            // originate_disposition: SUCCESS or the failure cause
	Winner     string            // the B leg bridged (uuid), if any
}

// LegRecord is one attempted target.
type LegRecord struct {
	Group  int               // failover group index (0 first)
	Target string            // "user/1000", "sofia/gateway/trunk/+33…"
	Vars   map[string]string // effective variables of the leg ({} + export + [])
	UUID   string            // the B channel ("" when none was created, e.g. error/…)
	Cause  string            // how it ended ("" while up; NONE for the winner)
}

// Bridges returns every bridge/originate attempt so far, in order.
func (s *Server) Bridges() []BridgeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BridgeRecord, len(s.bridges))
	for i, b := range s.bridges {
		out[i] = *b
		out[i].Legs = append([]LegRecord(nil), b.Legs...)
	}
	return out
}

type bridgeOp struct {
	s        *Server
	a        *Channel // nil for the originate API
	app      *appRun
	global   *varList
	groups   [][]*legSpec
	gi       int
	legs     []*legState
	tried    []*legState
	timer    Timer
	timedOut bool
	done     bool
	winner   *legState
	lastReal string // hangup cause reported as last_bridge_hangup_cause on failure
	// where lastReal came from (group, index in it)
	lastRealGroup, lastRealIdx int
	rec                        *BridgeRecord
	onResult                   func(ok bool, cause string, winner *Channel)
	cid                        [2]string // originate API caller id (name, number)
}

type legState struct {
	op       *bridgeOp
	spec     *legSpec
	idx      int
	vars     *varList
	ch       *Channel // the B channel (loopback: the -a leg)
	cause    string
	done     bool
	timer    Timer
	recIdx   int
	waitKey  string
	nested   bool   // user/ target: listed twice in originate_causes (10b)
	presence string // user/ target: the directory's presence_id
}

func appBridge(ch *Channel, a *appRun) {
	s := ch.s
	global, groups := parseDialString(a.arg)
	op := &bridgeOp{s: s, a: ch, app: a, global: global, groups: groups, lastRealGroup: -1}
	op.rec = &BridgeRecord{UUID: ch.UUID, DialString: a.arg, Global: global.snapshot()}
	s.bridges = append(s.bridges, op.rec)
	ch.bridge = op
	ch.vars.set("originate_disposition", "failure")
	ch.vars.set("DIALSTATUS", "INVALIDARGS")
	a.onHangup = func() { op.cancel() }
	if len(groups) == 0 {
		op.fail("DESTINATION_OUT_OF_ORDER")
		return
	}
	op.startGroup()
}

// lookup returns a variable from the leg's {}/[] set, then the A leg's channel variables.
func (op *bridgeOp) lookup(vars *varList, k string) (string, bool) {
	if vars != nil {
		if v, ok := vars.get(k); ok {
			return v, ok
		}
	}
	if v, ok := op.global.get(k); ok {
		return v, ok
	}
	if op.a != nil {
		return op.a.vars.get(k)
	}
	return "", false
}

func (op *bridgeOp) startGroup() {
	s := op.s
	if op.gi >= len(op.groups) {
		return
	}
	op.legs = nil
	op.timedOut = false
	timeout := 60 * time.Second
	if v, ok := op.lookup(nil, "originate_timeout"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	} else if v, ok := op.lookup(nil, "call_timeout"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	gi := op.gi
	// switch_ivr_originate measures its timeout in whole epoch seconds and looks every
	// few ms: it fires at the first poll of the second start+timeout falls in (10: a
	// bridge started at :396.545 with 60 s gave up at :456.028, the API originate started
	// at :396.534 at :456.053: 20 ms and 50 ms into the second keep that order).
	now := s.clock.Now()
	poll := originatePoll
	if op.a == nil {
		poll = 50 * time.Millisecond
	}
	timeout = now.Truncate(time.Second).Add(timeout).Add(poll).Sub(now)
	op.timer = s.clock.AfterFunc(timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if op.done || op.gi != gi {
			return
		}
		op.timedOut = true
		for _, l := range op.legs {
			if !l.done && l.ch != nil {
				l.ch.hangup("NO_ANSWER")
			}
		}
		op.checkGroup()
	})
	for i, spec := range op.groups[op.gi] {
		l := &legState{op: op, spec: spec, idx: i}
		op.legs = append(op.legs, l)
		op.tried = append(op.tried, l)
	}
	for _, l := range op.legs {
		if op.done || op.gi != gi {
			return
		}
		op.startLeg(l)
	}
	if !op.done && op.gi == gi {
		op.checkGroup()
	}
}

func (op *bridgeOp) startLeg(l *legState) {
	s := op.s
	l.vars = newVars()
	for _, k := range op.global.keys {
		l.vars.set(k, op.global.m[k])
	}
	if op.a != nil && op.a.exports != nil {
		for _, k := range op.a.exports.keys {
			l.vars.set(k, op.a.exports.m[k])
		}
	}
	for _, k := range l.spec.vars.keys {
		l.vars.set(k, l.spec.vars.m[k])
	}
	l.recIdx = len(op.rec.Legs)
	op.rec.Legs = append(op.rec.Legs, LegRecord{Group: op.gi, Target: l.spec.target, Vars: l.vars.snapshot()})

	target := l.spec.target
	kind, rest, _ := strings.Cut(target, "/")
	var ep *Endpoint
	name := target
	dest := rest
	switch kind {
	case "error":
		l.finish(strings.ToUpper(rest))
		return
	case "loopback":
		ext, ctx, _ := strings.Cut(rest, "/")
		if ctx == "" {
			ctx = "default"
		}
		op.startLoopback(l, ext, ctx)
		return
	case "user":
		user, domain, _ := strings.Cut(rest, "@")
		if domain == "" {
			domain = s.opts.Domain
		}
		if e, ok := s.endpointFor(target); ok {
			ep = &e
		} else if !s.inDirectory(user) {
			l.finish("SUBSCRIBER_ABSENT")
			return
		} else if reg, ok := s.regs[user+"@"+domain]; ok {
			e := reg.Endpoint
			ep = &e
			// The leg is named after the registered contact (10b:
			// sofia/internal/1001-0x55c58d4d32d0@127.0.0.1:15090).
			c := strings.TrimPrefix(reg.Contact, "sip:")
			c, _, _ = strings.Cut(c, ";")
			name = "sofia/internal/" + c
			dest, _, _ = strings.Cut(c, "@")
		} else {
			l.finish("USER_NOT_REGISTERED")
			return
		}
		if name == target {
			name = "sofia/internal/" + user + "@" + domain
			dest = user
		}
		// The directory's dial-string gives the leg presence_id=<user>@<domain>; sofia
		// publishes that presence itself (no PRESENCE_IN from the channel, 10).
		l.presence = user + "@" + domain
		// user/ dials the directory's dial-string: an originate inside the originate, so
		// the leg is listed twice in originate_causes and originated_legs (10b).
		l.nested = true
	case "sofia":
		e, ok := s.endpointFor(target)
		if !ok && strings.HasSuffix(target, "@"+SelfSIPAddr) {
			parts := strings.Split(rest, "/")
			op.startSofiaLoop(l, target, strings.Split(parts[len(parts)-1], "@")[0])
			return
		}
		if !ok {
			l.finish("SUBSCRIBER_ABSENT")
			return
		}
		ep = &e
		parts := strings.Split(rest, "/")
		dest = strings.Split(parts[len(parts)-1], "@")[0]
	default:
		if e, ok := s.endpointFor(target); ok {
			ep = &e
		} else {
			l.finish("CHAN_NOT_IMPLEMENTED")
			return
		}
	}
	uuid, _ := l.vars.get("origination_uuid")
	b := s.newChannel(uuid, name, "outbound")
	op.setupB(l, b, dest)
	b.ep = ep
	b.sipOut = strings.HasPrefix(name, "sofia/")
	if l.presence != "" {
		b.vars.set("presence_id", l.presence)
		b.noPresence = true
	}
	b.fireCreated(renamedFrom(uuid))
	op.armLegTimeout(l)
	if ep.RequireCodec != "" {
		if c, _ := op.lookup(l.vars, "absolute_codec_string"); c != ep.RequireCodec {
			b.sipRemoteFail("INCOMPATIBLE_DESTINATION") // 488 (10: the loopback caller's L16)
			return
		}
	}
	if ep.Progress != "" {
		b.markProgress(ep.Progress == "media")
	}
	if b.hungup || l.done {
		return
	}
	outcome := func() {
		switch {
		case ep.Answer:
			b.markAnswered()
			if ep.HangupAfter > 0 {
				b.after(ep.HangupAfter, func() { b.sipRemoteBye() })
			}
			if ep.DTMF != "" {
				b.after(ep.DTMFAfter, func() { b.receiveDTMF(ep.DTMF, "UNKNOWN") })
			}
		case ep.Cause != "":
			b.sipRemoteFail(ep.Cause)
		}
	}
	if ep.Ring > 0 {
		b.after(ep.Ring, outcome)
	} else {
		outcome()
	}
}

func (s *Server) endpointFor(target string) (Endpoint, bool) {
	if ep, ok := s.opts.Endpoints[target]; ok {
		return ep, true
	}
	best, found := "", false
	var bestEp Endpoint
	for k, ep := range s.opts.Endpoints {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(target, p) && len(p) >= len(best) {
			best, bestEp, found = p, ep, true
		}
	}
	return bestEp, found
}

// setupB gives a B channel its caller id and variables: origination_caller_id_* win over
// the A leg's effective_caller_id_*, which win over A's own caller id (04b).
func (op *bridgeOp) setupB(l *legState, b *Channel, dest string) {
	l.ch = b
	b.leg = l
	op.rec.Legs[l.recIdx].UUID = b.UUID
	b.dest = dest
	b.calleeNum = dest
	var name, num string
	if op.a != nil {
		name, num = op.a.cidName, op.a.cidNum
		if v, ok := op.a.vars.get("effective_caller_id_name"); ok {
			name = v
		}
		if v, ok := op.a.vars.get("effective_caller_id_number"); ok {
			num = v
		}
	} else {
		name, num = op.cid[0], op.cid[1]
	}
	if v, ok := l.vars.get("origination_caller_id_name"); ok {
		name = v
	}
	if v, ok := l.vars.get("origination_caller_id_number"); ok {
		num = v
	}
	b.cidName, b.cidNum = name, num
	for _, k := range l.vars.keys {
		b.vars.set(k, l.vars.m[k])
	}
	if op.a != nil {
		b.other = nil
		b.otherLeg, b.otherLegType = op.a, "originator"
		b.vars.set("originator", op.a.UUID)
		b.vars.set("signal_bond", op.a.UUID)
	}
	b.vars.set("is_outbound", "true")
	if p, ok := l.vars.get("presence_id"); ok {
		b.vars.set("presence_id", p)
	}
}

func (op *bridgeOp) armLegTimeout(l *legState) {
	v, ok := l.vars.get("leg_timeout")
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return
	}
	b := l.ch
	l.timer = op.s.clock.AfterFunc(time.Duration(n)*time.Second, func() {
		op.s.mu.Lock()
		defer op.s.mu.Unlock()
		if !l.done && !op.done && b.answer != "answered" {
			b.hangup("ALLOTTED_TIMEOUT")
		}
	})
}

// startLoopback creates loopback/<ext>-a (the leg) and loopback/<ext>-b (runs <ext>).
func (op *bridgeOp) startLoopback(l *legState, ext, ctx string) {
	s := op.s
	uuid, _ := l.vars.get("origination_uuid")
	a := s.newChannel(uuid, "loopback/"+ext+"-a", "outbound")
	op.setupB(l, a, ext)
	a.source, a.context, a.calleeNum = "mod_loopback", ctx, ctx
	b := s.newChannel("", "loopback/"+ext+"-b", "inbound")
	b.source, b.context, b.dest, b.hitDialplan = "mod_loopback", ctx, ext, true
	b.cidName, b.cidNum, b.calleeNum = a.cidName, a.cidNum, ctx
	for _, k := range l.vars.keys {
		if k != "origination_uuid" || true {
			b.vars.set(k, l.vars.m[k])
		}
	}
	a.vars.set("other_loopback_leg_uuid", b.UUID)
	a.vars.set("loopback_leg", "A")
	b.vars.set("other_loopback_leg_uuid", a.UUID)
	b.vars.set("loopback_leg", "B")
	b.vars.set("call_uuid", b.UUID)
	a.peer, b.peer = b, a
	a.fireCreated(renamedFrom(uuid))
	b.fireCreated("")
	op.armLegTimeout(l)
	// A loopback leg gives its originator early media at once (03: PROGRESS_MEDIA on A).
	if op.a != nil {
		op.a.markProgress(true)
	}
	list, ok := s.opts.Dialplan[ext]
	if !ok || ctx != "sophia" && ctx != "default" {
		b.hangup("NO_ROUTE_DESTINATION")
		return
	}
	for _, ap := range list {
		b.enqueue(&appRun{name: ap.Name, arg: ap.Arg, uuid: newUUID()})
	}
}

// originatePoll is how often switch_ivr_originate looks at its legs.
const originatePoll = 20 * time.Millisecond

// renamedFrom: a leg given an origination_uuid is created with a uuid of its own and
// renamed (CHANNEL_UUID with Old-Unique-ID).
func renamedFrom(uuid string) string {
	if uuid == "" {
		return ""
	}
	return newUUID()
}

func (l *legState) finish(cause string) {
	if l.done {
		return
	}
	l.done = true
	l.cause = cause
	if l.timer != nil {
		l.timer.Stop()
	}
	l.op.rec.Legs[l.recIdx].Cause = cause
}

func (op *bridgeOp) legProgress(l *legState, media bool) {
	if op.done || l.done {
		return
	}
	if op.a == nil {
		// The originate API takes early media as success unless ignore_early_media is set
		// (03-bridge-busy: +OK came with the caller leg's PROGRESS_MEDIA, never answered).
		// Its loop looks every 20 ms: a leg that fails within that time fails the
		// originate (03-bridge-busy calls 1-2: -ERR USER_BUSY).
		if v, _ := op.lookup(l.vars, "ignore_early_media"); media && v != "true" && l.ch != nil {
			b := l.ch
			b.after(originatePoll, func() {
				if !op.done && !l.done {
					op.win(l)
				}
			})
		}
		return
	}
	// A learns which legs it is dialling once one of them signals (03).
	if _, legs := op.causesVarF(nil, false); legs != "" {
		op.a.vars.set("originated_legs", legs)
	}
	if op.a.answer == "answered" {
		// An answered caller hears ringback while B rings (04: CALLSTATE RING_WAIT).
		if _, ok := op.a.vars.get("ringback"); ok && !media {
			op.a.setCallState("RING_WAIT")
		}
		return
	}
	op.a.markProgress(media)
}

func (op *bridgeOp) legAnswered(l *legState) {
	if op.done || l.done {
		return
	}
	if key, ok := op.lookup(l.vars, "group_confirm_key"); ok && key != "" {
		file, _ := op.lookup(l.vars, "group_confirm_file")
		op.s.plays = append(op.s.plays, Playback{UUID: l.ch.UUID, App: "group_confirm", File: file, At: op.s.clock.Now()})
		l.waitKey = key
		l.ch.dtmfWait = func(d string) {
			if d == l.waitKey && !op.done && !l.done {
				l.ch.dtmfWait = nil
				l.ch.vars.set("read_result", "success")
				op.win(l)
			}
		}
		return
	}
	op.win(l)
}

func (op *bridgeOp) legHungUp(l *legState) {
	b := l.ch
	if op.done {
		if op.winner == l && op.a != nil && op.a.other == b {
			op.bridgeEnded(b)
		}
		return
	}
	// last_bridge_hangup_cause: the first real leg (dial order) of the last group that
	// had one (simultaneous busy+reject: USER_BUSY; failover: the only real leg's cause).
	if op.lastRealGroup != op.gi || op.lastRealIdx > l.idx {
		op.lastReal, op.lastRealGroup, op.lastRealIdx = b.cause, op.gi, l.idx
	}
	if p, ok := b.vars.get("proto_specific_hangup_cause"); ok && op.a != nil {
		op.a.vars.set("last_bridge_proto_specific_hangup_cause", p)
		// A gets the refused INVITE's status too (README, 11).
		for _, k := range []string{"sip_invite_failure_status", "sip_invite_failure_phrase"} {
			if v, ok := b.vars.get(k); ok {
				op.a.vars.set(k, v)
			}
		}
	}
	l.finish(b.cause)
	op.checkGroup()
}

// checkGroup moves on when every leg of the current group failed.
func (op *bridgeOp) checkGroup() {
	if op.done {
		return
	}
	for _, l := range op.legs {
		if !l.done {
			return
		}
	}
	if op.timer != nil {
		op.timer.Stop()
	}
	cause := "NO_ANSWER"
	if !op.timedOut && len(op.legs) > 0 {
		cause = op.legs[0].cause
	}
	if op.gi+1 < len(op.groups) {
		// A shows each failed group's result until the next one decides (README: the
		// failover's CHANNEL_ANSWER still showed USER_BUSY/BUSY).
		if op.a != nil {
			op.a.vars.set("originate_disposition", cause)
			op.a.vars.set("DIALSTATUS", dialStatus(cause))
			if causes, _ := op.causesVar(nil); causes != "" {
				op.a.vars.set("originate_causes", causes)
			}
			if op.lastReal != "" {
				op.a.vars.set("last_bridge_hangup_cause", op.lastReal)
			}
		}
		op.gi++
		op.startGroup()
		return
	}
	op.fail(cause)
}

func (op *bridgeOp) causesVar(winner *legState) (string, string) {
	return op.causesVarF(winner, true)
}

// causesVarF: final=false is the interim value while legs ring (a nested user/ leg is
// listed once until its inner originate returns).
func (op *bridgeOp) causesVarF(winner *legState, final bool) (string, string) {
	var causes, legs []string
	for _, l := range op.tried {
		if l.ch == nil {
			continue
		}
		c := l.cause
		if l == winner {
			c = "NONE"
		}
		causes = append(causes, l.ch.UUID+";"+c)
		legs = append(legs, l.ch.UUID+";Outbound Call;"+l.ch.calleeNum)
		if l.nested && final && winner != nil {
			causes = append(causes, l.ch.UUID+";"+c)
			legs = append(legs, l.ch.UUID+";Outbound Call;"+l.ch.calleeNum)
		}
	}
	join := func(x []string) string {
		if len(x) == 1 {
			return x[0]
		}
		return "ARRAY::" + strings.Join(x, "|:")
	}
	if len(causes) == 0 {
		return "", ""
	}
	return join(causes), join(legs)
}

func (op *bridgeOp) stopTimers() {
	if op.timer != nil {
		op.timer.Stop()
	}
	for _, l := range op.legs {
		if l.timer != nil {
			l.timer.Stop()
		}
	}
}

func (op *bridgeOp) win(l *legState) {
	op.done = true
	op.winner = l
	op.stopTimers()
	l.done = true
	op.rec.Legs[l.recIdx].Cause = "NONE"
	op.rec.Result = "SUCCESS"
	op.rec.Winner = l.ch.UUID
	lost := false
	for _, o := range op.legs {
		if o != l && o.ch != nil && !o.ch.hungup {
			o.cause = "LOSE_RACE"
			op.rec.Legs[o.recIdx].Cause = "LOSE_RACE"
			o.ch.hangup("LOSE_RACE")
			lost = true
		}
	}
	if lost && op.a != nil {
		op.a.vars.set("last_bridge_hangup_cause", "LOSE_RACE") // 03-bridge-simultaneous
	}
	b := l.ch
	if op.a == nil {
		op.onResult(true, "", b)
		return
	}
	a := op.a
	causes, legs := op.causesVar(l)
	_, interim := op.causesVarF(l, false)
	a.vars.set("originated_legs", interim) // a nested user/ leg's inner result comes after A's ANSWER (10b)
	if a.answer != "answered" {
		a.markAnswered()
	} else if a.callState == "RING_WAIT" {
		a.otherLeg, a.otherLegType = b, "originatee"
		a.setCallState("ACTIVE")
	}
	a.vars.set("originated_legs", legs)
	a.vars.set("originate_disposition", "SUCCESS")
	a.vars.set("DIALSTATUS", "SUCCESS")
	a.vars.set("originate_causes", causes)
	a.vars.set("signal_bond", b.UUID)
	a.vars.set("last_sent_callee_id_name", "Outbound Call")
	a.vars.set("last_sent_callee_id_number", b.calleeNum)
	now := op.s.clock.Now()
	a.bridgedAt, b.bridgedAt = now, now
	a.other, a.otherType = b, "originatee"
	b.other, b.otherType = a, "originator"
	a.otherLeg, a.otherLegType = b, "originatee"
	b.vars.set("bridge_uuid", a.UUID)
	b.vars.set("last_bridge_to", a.UUID)
	b.vars.set("bridge_channel", a.Name)
	a.s.fire(a.event("CHANNEL_BRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689,
		[]Header{{"Bridge-A-Unique-ID", a.UUID}, {"Bridge-B-Unique-ID", b.UUID}}, nil))
	b.setState("CS_EXCHANGE_MEDIA")
	// Set once the bridge runs: CHANNEL_BRIDGE itself does not show them (03).
	a.vars.set("last_bridge_to", b.UUID)
	a.vars.set("bridge_channel", b.Name)
	a.vars.set("bridge_uuid", b.UUID)
}

// bridgeEnded: the bridged B leg hung up (or was hung up because A did).
func (op *bridgeOp) bridgeEnded(b *Channel) {
	a := op.a
	if a.hungup {
		a.vars.set("bridge_hangup_cause", "NORMAL_CLEARING")
		a.vars.set("last_bridge_role", "originator")
	} else {
		a.vars.set("bridge_hangup_cause", b.cause)
		a.vars.set("last_bridge_hangup_cause", b.cause)
		if p, ok := b.vars.get("proto_specific_hangup_cause"); ok {
			a.vars.set("last_bridge_proto_specific_hangup_cause", p) // sip:200 for a BYE (11)
		}
	}
	a.s.fire(a.event("CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879,
		[]Header{{"Bridge-A-Unique-ID", a.UUID}, {"Bridge-B-Unique-ID", b.UUID}}, nil))
	// The B leg learns it last: its CHANNEL_DESTROY shows it, its HANGUP_COMPLETE not (03).
	bc := b.cause
	if a.hungup {
		bc = a.cause
	}
	if a.hungup {
		b.destroyVars = append(b.destroyVars, Header{"bridge_hangup_cause", bc})
	}
	a.other = nil
	b.other = nil
	a.bridge = nil
	a.finishApp(op.app)
	if !a.hungup {
		if v, _ := a.vars.get("hangup_after_bridge"); v == "true" {
			a.hangup("NORMAL_CLEARING")
		}
	}
}

// cancel: the A leg hung up while the legs were ringing.
func (op *bridgeOp) cancel() {
	if op.done {
		return
	}
	op.done = true
	op.stopTimers()
	for _, l := range op.legs {
		if !l.done && l.ch != nil {
			l.finish("ORIGINATOR_CANCEL")
			l.ch.vars.set("last_bridge_hangup_cause", "ORIGINATOR_CANCEL")
			l.ch.hangup("ORIGINATOR_CANCEL")
		}
	}
	op.setFailVars("ORIGINATOR_CANCEL")
	op.a.bridge = nil
}

func (op *bridgeOp) setFailVars(cause string) {
	op.rec.Result = cause
	a := op.a
	causes, legs := op.causesVar(nil)
	if legs != "" {
		a.vars.set("originated_legs", legs)
	}
	if op.lastReal != "" && cause != "ORIGINATOR_CANCEL" {
		a.vars.set("last_bridge_hangup_cause", op.lastReal)
	}
	a.vars.set("originate_disposition", cause)
	a.vars.set("DIALSTATUS", dialStatus(cause))
	if causes != "" {
		a.vars.set("originate_causes", causes)
	}
	a.vars.set("originate_failed_cause", cause)
}

// fail ends the bridge with cause. Without continue_on_fail the A leg is hung up with it,
// except NO_ANSWER, NO_USER_RESPONSE and ORIGINATOR_CANCEL (switch_channel_handle_cause).
func (op *bridgeOp) fail(cause string) {
	op.done = true
	op.stopTimers()
	if op.a == nil {
		op.rec.Result = cause
		op.onResult(false, cause, nil)
		return
	}
	a := op.a
	op.setFailVars(cause)
	a.bridge = nil
	if continueOnFail(a, cause) {
		a.finishApp(op.app)
		return
	}
	switch cause {
	case "NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL":
		a.finishApp(op.app)
	default:
		a.hangup(cause)
	}
}

func continueOnFail(a *Channel, cause string) bool {
	v, ok := a.vars.get("continue_on_fail")
	if !ok {
		v, ok = a.vars.get("failure_causes")
		if ok {
			return !containsWord(strings.ReplaceAll(v, " ", ""), cause)
		}
		return false
	}
	if v == "true" {
		return true
	}
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if c == cause || (c != "" && c[0] >= '0' && c[0] <= '9' && c == fmt.Sprint(q850[cause])) {
			return true
		}
	}
	return false
}

// originate runs the originate API: legs as a bridge without an A leg. It returns the
// API body once a leg answers ("+OK <uuid>\n") or all fail ("-ERR <CAUSE>\n").
func (s *Server) originate(args string) string {
	f := splitOriginateArgs(args)
	if len(f) < 2 {
		return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
	}
	res := make(chan string, 1)
	s.mu.Lock()
	if s.closed || s.shutting {
		s.mu.Unlock()
		return "-ERR SYSTEM_SHUTDOWN\n"
	}
	global, groups := parseDialString(f[0])
	if len(f) > 6 {
		if _, ok := global.get("originate_timeout"); !ok {
			global.set("originate_timeout", f[6])
		}
	}
	op := &bridgeOp{s: s, global: global, groups: groups, lastRealGroup: -1}
	if len(f) > 4 {
		op.cid[0] = f[4]
	}
	if len(f) > 5 {
		op.cid[1] = f[5]
	}
	if op.cid[1] == "" {
		op.cid[1] = "0000000000"
	}
	op.rec = &BridgeRecord{DialString: f[0], Global: global.snapshot()}
	s.bridges = append(s.bridges, op.rec)
	what := f[1]
	op.onResult = func(ok bool, cause string, w *Channel) {
		s.busy.Add(1) // the waiter runs again (waitOn)
		if !ok {
			res <- "-ERR " + cause + "\n"
			return
		}
		w.leg = nil
		res <- "+OK " + w.UUID + "\n"
		// The originated leg leaves CS_CONSUME_MEDIA for its application (01, 03).
		w.s.fire(w.event("CALL_UPDATE", "switch_channel.c", "switch_channel_perform_mark_answered", 3900, nil, nil))
		w.setState("CS_EXECUTE")
		if app, ok := strings.CutPrefix(what, "&"); ok {
			name, arg, _ := strings.Cut(app, "(")
			arg = strings.TrimSuffix(arg, ")")
			w.enqueue(&appRun{name: name, arg: arg, uuid: newUUID()})
		} else {
			w.runExtension(what)
		}
	}
	if len(groups) == 0 {
		s.mu.Unlock()
		return "-ERR DESTINATION_OUT_OF_ORDER\n"
	}
	op.startGroup()
	s.mu.Unlock()
	return waitOn(s, res)
}

func splitOriginateArgs(s string) []string {
	parts := splitTop(strings.TrimSpace(s), ' ')
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
