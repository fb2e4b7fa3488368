package fakeari

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func (f *Fake) uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// nextID is Asterisk's uniqueid: "<unix seconds>.<global counter>".
func (f *Fake) nextID() string {
	id := fmt.Sprintf("%d.%d", f.sched.Now().Unix(), f.counter)
	f.counter++
	return id
}

// newChannel allocates one channel (or a Local pair). id/otherID may be
// caller-chosen; a Local ;2 without its own id gets "<id>;2" as in
// Asterisk. Returns nil, false on an id that is taken. f.mu held.
func (f *Fake) newChannel(tech, resource, id, otherID string) (*channel, bool) {
	if id != "" && f.channels[id] != nil || otherID != "" && f.channels[otherID] != nil {
		return nil, false
	}
	now := f.sched.Now()
	mk := func(name, cid string) *channel {
		if cid == "" {
			cid = f.nextID()
		} else {
			f.counter++
		}
		c := &channel{id: cid, name: name, tech: tech, resource: resource, state: "Down",
			created: now, language: "en", vars: map[string]string{}, subs: map[string]int{}}
		f.channels[cid] = c
		f.chanOrder = append(f.chanOrder, c)
		return c
	}
	switch tech {
	case "Local":
		if otherID == "" && id != "" {
			otherID = id + ";2"
			if f.channels[otherID] != nil {
				return nil, false
			}
		}
		exten, ctx, ok := strings.Cut(resource, "@")
		if !ok {
			ctx = "default"
		}
		base := fmt.Sprintf("Local/%s-%08x", resource, f.localSeq)
		f.localSeq++
		one := mk(base+";1", id)
		two := mk(base+";2", otherID)
		one.peer, two.peer, one.half, two.half = two, one, 1, 2
		one.dp = dialplan{Context: ctx, Exten: exten, Priority: 1}
		two.dp = dialplan{Context: ctx, Exten: exten, Priority: 1}
		return one, true
	default:
		ep := pjsipEndpointName(resource)
		c := mk(fmt.Sprintf("%s/%s-%08x", tech, ep, f.pjsipSeq), id)
		f.pjsipSeq++
		if e := f.endpoints[tech+"/"+ep]; e != nil {
			c.endpoint = e
			c.dp = dialplan{Context: e.context, Exten: "s", Priority: 1}
			e.channels = append(e.channels, c.id)
			f.endpointEvent(e, "EndpointStateChange", nil)
		}
		f.chanEvent(c, nil, "ChannelCreated", nil)
		c.protocolID = f.uuid() // the SIP Call-ID comes after ChannelCreated (13)
		return c, true
	}
}

// allocatable says whether Asterisk's ast_request would give a channel.
func (f *Fake) allocatable(tech, resource string, b Behavior) bool {
	switch tech {
	case "Local":
		return b.out != outOffline
	case "PJSIP":
		e := f.endpoints[tech+"/"+pjsipEndpointName(resource)]
		return e != nil && e.online && b.out != outOffline
	}
	return false
}

func (f *Fake) subscribe(c *channel, appName string) {
	if appName != "" {
		c.subs[appName]++
	}
}

// findControl is find_control: 404 unknown, 409 not in Stasis.
func (f *Fake) findControl(q *req) *channel {
	c := f.channels[q.pathParam("id")]
	if c == nil {
		q.fail(404, "Channel not found")
		return nil
	}
	if !c.inStasis {
		q.fail(409, "Channel not in Stasis application")
		return nil
	}
	return c
}

// stateInvalid is channel_state_invalid: unanswered outbound channels (Down,
// Ringing) refuse media and state operations with 412.
func stateInvalid(q *req, c *channel) bool {
	if c.state == "Down" || c.state == "Rsrvd" || c.state == "Ringing" {
		q.fail(412, "Channel in invalid state")
		return true
	}
	return false
}

func (f *Fake) record(c *channel, kind, detail string) {
	id := ""
	if c != nil {
		id = c.id
	}
	f.actions = append(f.actions, Action{At: f.sched.Now(), ChannelID: id, Kind: kind, Detail: detail})
}

// setState changes the state, with ChannelStateChange. f.mu held.
func (f *Fake) setState(c *channel, state string) {
	if c.state == state || c.destroyed {
		return
	}
	c.state = state
	f.chanEvent(c, nil, "ChannelStateChange", nil)
}

// enterStasis runs Stasis(app,args) on c. Created channels were subscribed
// already and hear ChannelDialplan and STASISSTATUS first; an inbound channel
// is not subscribed until StasisStart. Without a WebSocket for the app
// Stasis fails at once (16) and the channel is hung up. f.mu held.
func (f *Fake) enterStasis(c *channel, appName string, args []string, dialplanEvent bool) bool {
	c.pending = false
	data := appName
	if len(args) > 0 {
		data += "," + strings.Join(args, ",")
	}
	c.dp.AppName, c.dp.AppData = "Stasis", data
	if dialplanEvent {
		f.chanEvent(c, nil, "ChannelDialplan", obj{{"dialplan_app", "Stasis"}, {"dialplan_app_data", data}})
	}
	c.vars["STASISSTATUS"] = ""
	f.chanEvent(c, obj{{"variable", "STASISSTATUS"}, {"value", ""}}, "ChannelVarset", nil)
	if !f.active(appName) {
		c.vars["STASISSTATUS"] = "FAILED"
		f.chanEvent(c, obj{{"variable", "STASISSTATUS"}, {"value", "FAILED"}}, "ChannelVarset", nil)
		f.finish(c, 16, 0)
		return false
	}
	c.app, c.stasisArgs, c.inStasis = appName, append([]string{}, args...), true
	if c.stasisArgs == nil {
		c.stasisArgs = []string{}
	}
	f.appEvent(c, "StasisStart", obj{{"args", c.stasisArgs}})
	c.subs[appName]++
	return true
}

// leaveStasis sends StasisEnd and drops the Stasis subscription; the
// STASISSTATUS that follows only reaches apps still subscribed. f.mu held.
func (f *Fake) leaveStasis(c *channel) {
	if !c.inStasis {
		return
	}
	c.inStasis = false
	f.appEvent(c, "StasisEnd", nil)
	c.subs[c.app]--
	c.vars["STASISSTATUS"] = "SUCCESS"
	f.chanEvent(c, obj{{"variable", "STASISSTATUS"}, {"value", "SUCCESS"}}, "ChannelVarset", nil)
}

// hangupReq publishes ChannelHangupRequest; cause < 0 leaves the cause out
// (a SIP BYE), tech adds tech_cause, soft adds soft.
func (f *Fake) hangupReq(c *channel, cause int, soft bool, tech int) {
	var pre obj
	if cause >= 0 {
		pre = append(pre, kv{"cause", cause})
	}
	if tech > 0 {
		pre = append(pre, kv{"tech_cause", tech})
	}
	if soft {
		pre = append(pre, kv{"soft", true})
	}
	f.chanEvent(c, pre, "ChannelHangupRequest", nil)
}

// finish ends c after its ChannelHangupRequest (if any) was published:
// playbacks stop, c leaves its bridge and Stasis, the inbound dialplan runs
// its Hangup(), ChannelDestroyed goes to whoever still listens, and the other
// half of a Local pair goes too. f.mu held.
func (f *Fake) finish(c *channel, cause, techCause int) {
	if c.destroyed || c.hangingUp {
		return
	}
	c.hangingUp = true
	c.timersStop(f.sched)
	for _, p := range append([]*playback(nil), c.playbacks...) {
		f.endPlayback(p)
	}
	if c.bridge != nil {
		f.leaveBridge(c)
	}
	if c.pending {
		c.pending = false
		for i, h := range f.held {
			if h == c {
				f.held = append(f.held[:i], f.held[i+1:]...)
				break
			}
		}
	}
	wasStasis := c.inStasis
	f.leaveStasis(c)
	if c.afterStasisHangup && wasStasis {
		f.hangupReq(c, 16, true, 0)
	}
	p := c.peer
	if p != nil && !p.destroyed && !p.hangingUp && f.anySubs(p) {
		// An originated pair's ;2 (subscribed) hears its half go first (20).
		f.hangupReq(p, cause, false, 0)
	}
	f.destroyed(c, cause, techCause)
	if p != nil && !p.destroyed && !p.hangingUp {
		p.hangingUp = true
		p.timersStop(f.sched)
		if f.anySubs(p) {
			f.hangupReq(p, 16, true, 0)
		}
		f.destroyed(p, cause, 0)
	}
	if c.crashOnHangup {
		f.crash()
	}
}

func (f *Fake) anySubs(c *channel) bool {
	for _, a := range f.appOrder {
		if f.chanSubs(a, c) > 0 {
			return true
		}
	}
	return false
}

// destroyed publishes ChannelDestroyed and forgets c. f.mu held.
func (f *Fake) destroyed(c *channel, cause, techCause int) {
	c.dp.AppName, c.dp.AppData = "", ""
	if c.origin == originOriginate {
		// An originated channel goes back to its dial app when Stasis ends (20).
		c.dp.AppName, c.dp.AppData = "AppDial2", "(Outgoing Line)"
	}
	body := obj{{"cause", cause}, {"cause_txt", causeText(cause)}}
	if techCause > 0 {
		body = append(body, kv{"tech_cause", techCause})
	}
	f.chanEvent(c, nil, "ChannelDestroyed", body)
	c.destroyed = true
	delete(f.channels, c.id)
	for i, x := range f.chanOrder {
		if x == c {
			f.chanOrder = append(f.chanOrder[:i], f.chanOrder[i+1:]...)
			break
		}
	}
	if e := c.endpoint; e != nil {
		for i, id := range e.channels {
			if id == c.id {
				e.channels = append(e.channels[:i], e.channels[i+1:]...)
				break
			}
		}
		f.endpointEvent(e, "EndpointStateChange", nil)
	}
	if c.call != nil {
		c.call.ended = true
	}
}

// crash is what hanging up a double-dialed channel did to Asterisk 22.10.1.
// Inside a REST request it waits until that request's reply is written
// (Asterisk answered the DELETE, then died).
func (f *Fake) crash() {
	if f.handling {
		f.crashPending = true
		return
	}
	go f.goDown(f.opts.RestartDowntime)
}

func (f *Fake) listChannels(q *req) {
	out := make([]channelJSON, 0, len(f.chanOrder))
	for _, c := range f.chanOrder {
		out = append(out, c.snapshot())
	}
	q.reply(200, out)
}

func (f *Fake) getChannel(q *req) {
	c := f.channels[q.pathParam("id")]
	if c == nil {
		q.fail(404, "Channel not found")
		return
	}
	q.reply(200, c.snapshot())
}

// variablesValid checks the "variables" object: string values only.
func variablesValid(q *req) bool {
	for _, v := range q.vars {
		if _, ok := v.v.(string); !ok {
			q.fail(400, "Only string values in the 'variables' object allowed")
			return false
		}
	}
	return true
}

func (f *Fake) createChannel(q *req) {
	if !variablesValid(q) {
		return
	}
	appName, endpointStr := q.str("app"), q.str("endpoint")
	if q.str("originator") != "" && q.str("formats") != "" {
		q.fail(400, "Originator and formats can't both be specified")
		return
	}
	if endpointStr == "" {
		q.fail(400, "Endpoint must be specified")
		return
	}
	tech, resource, ok := parseTarget(endpointStr)
	if !ok {
		q.fail(400, "Invalid endpoint specified")
		return
	}
	originator := f.channels[q.str("originator")]
	if originator != nil && appName != "" {
		f.subscribe(originator, appName)
	}
	b, scripted := f.behaviorFor(endpointStr)
	if !f.allocatable(tech, resource, b) {
		q.allocFailed()
		return
	}
	c, ok := f.newChannel(tech, resource, q.str("channelId"), q.str("otherChannelId"))
	if !ok {
		q.fail(409, "Channel with given unique ID already exists")
		return
	}
	c.origin, c.behavior, c.scripted = originCreate, b, scripted
	if originator != nil {
		c.originator = originator.id
	}
	if c.peer != nil {
		c.peer.origin = originPeer
	}
	f.subscribe(c, appName)
	for _, v := range q.vars {
		f.setVar(c, v.k, v.v.(string))
	}
	f.record(c, "create", endpointStr)
	snap := c.snapshot()
	if appName != "" {
		args := splitArgs(q.str("appArgs"))
		switch {
		case f.holdStasis:
			c.pending, c.app, c.stasisArgs = true, appName, args
			f.held = append(f.held, c)
		case f.stasisDelay > 0:
			c.pending, c.app, c.stasisArgs = true, appName, args
			c.timers = append(c.timers, f.afterLocked(f.stasisDelay, func() {
				if c.pending && !c.destroyed {
					f.enterStasis(c, appName, args, true)
				}
			}))
		default:
			f.enterStasis(c, appName, args, true)
		}
	}
	q.reply(200, snap)
}

// HoldStasis makes channels created from now on (POST /channels/create) wait
// before entering Stasis, until ReleaseStasis: the window in which a real
// Asterisk answers a dial sent right after the create's 200 with 409
// "Channel not in Stasis application". The adapter must dial on StasisStart.
func (f *Fake) HoldStasis() {
	f.mu.Lock()
	f.holdStasis = true
	f.mu.Unlock()
}

// ReleaseStasis lets every held channel enter Stasis (StasisStart now) and
// stops holding new ones.
func (f *Fake) ReleaseStasis() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdStasis = false
	held := f.held
	f.held = nil
	for _, c := range held {
		if c.pending && !c.destroyed {
			f.enterStasis(c, c.app, c.stasisArgs, true)
		}
	}
}

// SetStasisDelay makes created channels enter Stasis d (fake time) after
// their 200 instead of at once; 0 restores the default.
func (f *Fake) SetStasisDelay(d time.Duration) {
	f.mu.Lock()
	f.stasisDelay = d
	f.mu.Unlock()
}

func (f *Fake) hangupChannel(q *req) {
	c := f.channels[q.pathParam("id")]
	if c == nil {
		q.fail(404, "Channel not found")
		return
	}
	reason, code := q.str("reason"), q.str("reason_code")
	cause := 16
	switch {
	case reason != "" && code != "":
		q.fail(400, "The reason and reason_code can't both be specified")
		return
	case code != "":
		n, err := strconv.Atoi(strings.TrimSpace(code))
		if err != nil {
			q.fail(400, "Invalid reason for hangup reason code provided")
			return
		}
		cause = n
	case reason != "":
		n, ok := hangupReasons[reason]
		if !ok {
			q.fail(400, "Invalid reason for hangup reason provided")
			return
		}
		cause = n
	}
	detail := reason
	if code != "" {
		detail = "code " + code
	}
	f.record(c, "hangup", detail)
	switch c.origin {
	case originCaller:
		// The harness's way to make the caller hang up (01–10).
		f.callerHangup(c.peer)
	case originPeer:
		f.farHangup(c.peer)
	default:
		f.hangupReq(c, 32, true, 0)
		f.finish(c, cause, 0)
	}
	q.noContent()
}

func (f *Fake) answerChannel(q *req) {
	c := f.findControl(q)
	if c == nil || stateInvalid(q, c) {
		return
	}
	f.record(c, "answer", "")
	f.answer(c)
	q.noContent()
}

// answer puts an inbound channel Up, with its caller-side script. f.mu held.
func (f *Fake) answer(c *channel) {
	if c.state == "Up" {
		return
	}
	f.setState(c, "Up")
	if p := c.peer; p != nil {
		f.setState(p, "Up")
		if p.origin == originCaller {
			// The traces' phone half then runs [callers]: Wait(300).
			p.dp = dialplan{Context: "callers", Exten: "talk", Priority: 1, AppName: "Wait", AppData: "300"}
		}
	}
	if call := c.call; call != nil && !c.answered {
		c.answered = true
		if call.in.Presses != "" {
			f.soon(c, call.in.PressAfter, func() { f.pressDigits(c, call.in.Presses) })
		}
		if call.in.HangsUpAfter > 0 {
			f.soon(c, call.in.HangsUpAfter, func() { f.callerHangup(c) })
		}
	}
}

func (f *Fake) simpleAction(kind string) func(*req) {
	return func(q *req) {
		c := f.findControl(q)
		if c == nil || stateInvalid(q, c) {
			return
		}
		detail := ""
		switch kind {
		case "moh":
			detail = q.str("mohClass")
		case "mute", "mute_stop":
			detail = q.str("direction")
			if detail == "" {
				detail = "both"
			}
		}
		f.record(c, kind, detail)
		q.noContent()
	}
}

func (f *Fake) sendDTMF(q *req) {
	c := f.findControl(q)
	if c == nil || stateInvalid(q, c) {
		return
	}
	d := q.str("dtmf")
	if d == "" {
		q.fail(400, "DTMF is required")
		return
	}
	f.record(c, "dtmf", d)
	q.noContent()
}

func (f *Fake) continueChannel(q *req) {
	c := f.findControl(q)
	if c == nil || stateInvalid(q, c) {
		return
	}
	ctx, ext, pri := q.str("context"), q.str("extension"), q.int("priority")
	if label := q.str("label"); label != "" {
		pri = 0
		ext += " label " + label
	}
	if ctx == "" && ext == "" && pri == 0 {
		ctx, ext, pri = c.dp.Context, c.dp.Exten, c.dp.Priority+1
	}
	if pri == 0 {
		pri = 1
	}
	f.record(c, "continue", fmt.Sprintf("%s,%s,%d", ctx, ext, pri))
	// The fake has no dialplan: the channel leaves Stasis and its dialplan
	// ends the call at once (ChannelDestroyed 16 where anyone listens).
	f.leaveStasis(c)
	c.afterStasisHangup = false
	f.finish(c, 16, 0)
	q.noContent()
}

// parseCallerID is ast_callerid_parse: `"Name" <number>`, `<number>`, a bare number or a name.
func parseCallerID(s string) Party {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			name := strings.Trim(strings.TrimSpace(s[:i]), `"`)
			return Party{Name: name, Number: s[i+1 : i+j]}
		}
	}
	if s != "" && strings.Trim(s, "+0123456789*#-() .") == "" {
		return Party{Number: s}
	}
	return Party{Name: strings.Trim(s, `"`)}
}
