package fakeari

import (
	"time"
)

// DialRecord is one dial the adapter asked for: what the far end was offered.
type DialRecord struct {
	At         time.Time
	ChannelID  string
	Name       string
	Target     string   // the endpoint the channel was created for: "PJSIP/alice"
	App        string   // Stasis app of the leg ("" for an originate to an extension)
	AppArgs    []string // its appArgs
	Originator string   // create/originate originator channel id
	Caller     string   // /dial caller= channel id
	// Timeout is the dial timeout in effect (0: none). /dial without timeout
	// (or timeout=0 / garbage) means 30 s, as in Asterisk.
	Timeout time.Duration
	// CallerID is the leg's own caller ID at dial time (CALLERID(), create
	// variables, originate callerId).
	CallerID Party
	// Connected is the leg's connected line at dial time, after /dial caller=
	// copied the caller channel's caller ID over it. It is what the far end
	// is shown: chan_pjsip builds the INVITE's From from it, and a Local ;2
	// sees it as its caller ID.
	Connected Party
	// Redirecting is the leg's REDIRECTING() at dial time (after /dial
	// caller= copied the caller channel's over it).
	Redirecting Redirecting
	Vars        map[string]string // plain channel variables at dial time
	Originated  bool              // POST /channels rather than create + dial
	Behavior    string            // the script that answered it ("missing" if unscripted Local)
}

// Dials lists every dial so far, in order.
func (f *Fake) Dials() []DialRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]DialRecord, len(f.dials))
	copy(out, f.dials)
	return out
}

func (f *Fake) recordDial(c *channel, caller string, timeout time.Duration, originated bool, originator string) {
	vars := map[string]string{}
	for k, v := range c.vars {
		if k != "STASISSTATUS" && k != "BRIDGEPEER" {
			vars[k] = v
		}
	}
	appName, args := c.app, c.stasisArgs
	f.dials = append(f.dials, DialRecord{At: f.sched.Now(), ChannelID: c.id, Name: c.name,
		Target: c.tech + "/" + c.resource, App: appName, AppArgs: append([]string(nil), args...),
		Originator: originator, Caller: caller, Timeout: timeout, CallerID: c.caller, Connected: c.connected,
		Redirecting: c.redirect, Vars: vars, Originated: originated, Behavior: c.behavior.String()})
}

// dialTimeout is Asterisk's: >0 seconds, -1 none, anything else 30 s.
func dialTimeout(n int) time.Duration {
	switch {
	case n > 0:
		return time.Duration(n) * time.Second
	case n == -1:
		return 0
	}
	return 30 * time.Second
}

func (f *Fake) dialChannel(q *req) {
	c := f.findControl(q)
	if c == nil {
		return
	}
	caller := f.channels[q.str("caller")]
	if c.dialCount > 0 {
		// Asterisk 22.10.1 answered 204 and crashed when the channel was hung up (15b).
		f.crashed = append(f.crashed, c.id)
		f.fail("channel %s (%s) dialed twice: this crashed Asterisk 22.10.1 once the channel was hung up", c.id, c.name)
		if f.opts.CrashOnDoubleDial {
			c.crashOnHangup = true
		}
	}
	c.dialCount++
	if c.dialCount > 1 && c.origin == originCreate {
		// The second dial was queued behind the first while the channel was
		// still Down: Asterisk said 204 and published a second Dial "" (15b).
		f.dialEvent(c, "", c.resource)
		q.noContent()
		return
	}
	if c.state != "Down" && c.state != "Rsrvd" {
		q.fail(409, "Channel is not in the 'Down' state")
		return
	}
	if c.origin != originCreate {
		q.fail(409, "Dialing a channel not created by ARI")
		return
	}
	c.dialed = true
	if caller != nil {
		// ast_ari_channels_dial copies the caller's identity onto the callee.
		c.redirect = caller.redirect
		c.language = caller.language
		if c.connected != caller.caller {
			c.connected = caller.caller
			f.chanEvent(c, nil, "ChannelConnectedLine", nil)
		}
	}
	timeout := dialTimeout(q.int("timeout"))
	callerID := ""
	if caller != nil {
		callerID = caller.id
	}
	f.recordDial(c, callerID, timeout, false, c.originator)
	f.record(c, "dial", q.str("timeout"))
	f.startDial(c, timeout)
	q.noContent()
}

// startDial plays the far end's script for a created leg. f.mu held.
func (f *Fake) startDial(c *channel, timeout time.Duration) {
	b := c.behavior
	if b.out == outMissing {
		f.finish(c, 16, 0)
		return
	}
	f.dialEvent(c, "", c.resource)
	if c.peer != nil {
		c.peer.state = "Ring"
	}
	if b.out == outUnreachable {
		f.hangupReq(c, 20, false, 0)
		f.finish(c, 20, 0)
		return
	}
	if b.rings(c.tech) {
		f.ringing(c)
	}
	if timeout > 0 {
		c.dialTimer = f.afterLocked(timeout, func() {
			if c.destroyed || c.answered {
				return
			}
			tech := 0
			if c.tech == "PJSIP" {
				tech = 480
			}
			f.hangupReq(c, 32, true, 0)
			f.finish(c, 19, tech)
		})
	}
	if b.out == outNoAnswer {
		return
	}
	outcome := func() { f.outcome(c) }
	if b.after > 0 {
		c.timers = append(c.timers, f.afterLocked(b.after, outcome))
	} else {
		outcome()
	}
}

func (f *Fake) ringing(c *channel) {
	if c.state == "Ringing" {
		return
	}
	f.setState(c, "Ringing")
	f.dialEvent(c, "RINGING", "")
}

// outcome is the far end's answer to a dial of a created leg. f.mu held.
func (f *Fake) outcome(c *channel) {
	if c.destroyed || c.answered {
		return
	}
	b := c.behavior
	switch b.out {
	case outAnswer:
		f.legAnswers(c)
	case outBusy, outCongestion:
		if c.tech == "Local" {
			f.sched.cancel(c.dialTimer)
			status := "BUSY"
			if b.out == outCongestion {
				status = "CONGESTION"
			}
			f.dialEvent(c, status, "")
			return
		}
		code := 486
		if b.out == outCongestion {
			code = 503
		}
		f.reject(c, code)
	case outReject:
		f.reject(c, b.sipCode)
	}
}

func (f *Fake) reject(c *channel, code int) {
	cause, tech := sipCause(code), code
	if c.tech != "PJSIP" {
		tech = 0
	}
	f.hangupReq(c, cause, false, tech)
	f.finish(c, cause, tech)
}

// legAnswers: ChannelStateChange Up, Dial ANSWER, then the far end's
// after-answer script. f.mu held.
func (f *Fake) legAnswers(c *channel) {
	f.sched.cancel(c.dialTimer)
	c.dialTimer = nil
	c.answered = true
	f.setState(c, "Up")
	if c.peer != nil {
		c.peer.state = "Up"
	}
	f.dialEvent(c, "ANSWER", "")
	f.afterAnswerScript(c, c.behavior)
}

func (f *Fake) afterAnswerScript(c *channel, b Behavior) {
	if b.dtmf != "" {
		f.soon(c, b.dtmfAfter, func() { f.pressDigits(c, b.dtmf) })
	}
	if b.hangsUp {
		f.soon(c, b.hangupAfter, func() { f.farHangup(c) })
	}
}

// pressDigits: the far end of c sends digits, DTMFGap apart. f.mu held.
func (f *Fake) pressDigits(c *channel, digits string) {
	for i, d := range digits {
		digit := string(d)
		send := func() {
			if c.destroyed {
				return
			}
			f.record(c, "dtmf_received", digit)
			f.chanEvent(c, nil, "ChannelDtmfReceived", obj{{"digit", digit}, {"duration_ms", 100}})
		}
		if i == 0 {
			send()
			continue
		}
		c.timers = append(c.timers, f.afterLocked(time.Duration(i)*f.opts.DTMFGap, send))
	}
}

// farHangup: the far end of a created/originated leg hangs up (02: Local
// HangupRequest{cause 0}; 13: PJSIP HangupRequest{cause 16}). f.mu held.
func (f *Fake) farHangup(c *channel) {
	if c == nil || c.destroyed || c.hangingUp {
		return
	}
	if c.origin == originInbound {
		f.callerHangup(c)
		return
	}
	cause := 0
	if c.tech == "PJSIP" {
		cause = 16
	}
	f.hangupReq(c, cause, false, 0)
	f.finish(c, 16, 0)
}

// FarEnd is the test's hand on the far end of one channel: the phone or
// trunk behind a dialed leg, or the caller behind an inbound call.
type FarEnd struct {
	f  *Fake
	id string
}

// FarEnd returns the far end of channel id (a leg or an inbound call).
func (f *Fake) FarEnd(channelID string) *FarEnd { return &FarEnd{f: f, id: channelID} }

func (r *FarEnd) with(fn func(c *channel) error) error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	c := r.f.channels[r.id]
	if c == nil {
		return errNoChannel(r.id)
	}
	return fn(c)
}

type errNoChannel string

func (e errNoChannel) Error() string { return "fakeari: no channel " + string(e) }

// Answer makes a ringing leg answer now (13b "phone answers").
func (r *FarEnd) Answer() error {
	return r.with(func(c *channel) error {
		if !c.dialed || c.answered {
			return errState(c, "is not being dialed")
		}
		if c.origin == originOriginate {
			r.f.originateAnswered(c)
			return nil
		}
		r.f.legAnswers(c)
		return nil
	})
}

// Reject makes a leg being dialed refuse the call with a SIP status (13b).
func (r *FarEnd) Reject(sipCode int) error {
	return r.with(func(c *channel) error {
		if !c.dialed || c.answered {
			return errState(c, "is not being dialed")
		}
		r.f.reject(c, sipCode)
		return nil
	})
}

// Hangup makes the far end hang up: a leg's phone/trunk (BYE, Local ;2
// hangup), or an inbound call's caller (Local ;1 hangup, SIP BYE or CANCEL).
func (r *FarEnd) Hangup() error {
	return r.with(func(c *channel) error {
		r.f.record(c, "far_hangup", "")
		r.f.farHangup(c)
		return nil
	})
}

// Press makes the far end press digits now (ChannelDtmfReceived on the channel).
func (r *FarEnd) Press(digits string) error {
	return r.with(func(c *channel) error {
		r.f.pressDigits(c, digits)
		return nil
	})
}

type stateErr struct{ id, name, what string }

func (e stateErr) Error() string { return "fakeari: channel " + e.id + " (" + e.name + ") " + e.what }

func errState(c *channel, what string) error { return stateErr{c.id, c.name, what} }

// originate is POST /channels and POST /channels/{id}: Asterisk dials the
// endpoint itself and puts the channel into Stasis only once it answered (20).
func (f *Fake) originate(q *req) {
	if !variablesValid(q) {
		return
	}
	id := q.pathParam("id")
	if id == "" {
		id = q.str("channelId")
	}
	appName, endpointStr, exten := q.str("app"), q.str("endpoint"), q.str("extension")
	if endpointStr == "" {
		q.fail(400, "Endpoint must be specified")
		return
	}
	if q.str("originator") != "" && q.str("formats") != "" {
		q.fail(400, "Originator and formats can't both be specified")
		return
	}
	tech, resource, ok := parseTarget(endpointStr)
	if !ok {
		q.fail(400, "Invalid endpoint specified")
		return
	}
	if appName == "" && exten == "" {
		q.fail(400, "Application or extension must be specified")
		return
	}
	var originator *channel
	if o := q.str("originator"); o != "" {
		if originator = f.channels[o]; originator == nil {
			q.fail(400, "Provided originator channel was not found")
			return
		}
	}
	b, scripted := f.behaviorFor(endpointStr)
	if !f.allocatable(tech, resource, b) {
		q.allocFailed()
		return
	}
	c, ok := f.newChannel(tech, resource, id, q.str("otherChannelId"))
	if !ok {
		q.fail(409, "Channel with given unique ID already exists")
		return
	}
	c.origin, c.behavior, c.scripted, c.dialed = originOriginate, b, scripted, true
	c.dp.AppName, c.dp.AppData = "AppDial2", "(Outgoing Line)"
	c.app, c.stasisArgs = appName, splitArgs(q.str("appArgs"))
	if appName == "" {
		c.stasisArgs = nil
		c.exten = [3]string{q.str("context"), exten, q.str("priority")}
	}
	if c.peer != nil {
		c.peer.origin = originPeer
		c.peer.state = "Ring"
	}
	if cid := q.str("callerId"); cid != "" {
		p := parseCallerID(cid)
		c.caller, c.connected = p, p
		if c.peer != nil {
			c.peer.caller, c.peer.connected = p, p
		}
	}
	for _, v := range q.vars {
		f.setVar(c, v.k, v.v.(string))
	}
	if appName != "" {
		f.subscribe(c, appName)
		if c.peer != nil {
			f.subscribe(c.peer, appName)
		}
	}
	if c.peer != nil && q.str("callerId") != "" {
		f.chanEvent(c.peer, nil, "ChannelCallerId", obj{{"caller_presentation", 0},
			{"caller_presentation_txt", "Presentation Allowed, Not Screened"}})
		f.chanEvent(c.peer, nil, "ChannelConnectedLine", nil)
	}
	timeout := dialTimeout(q.int("timeout"))
	originatorID := ""
	if originator != nil {
		originatorID = originator.id
	}
	f.recordDial(c, "", timeout, true, originatorID)
	f.record(c, "originate", endpointStr)
	snap := c.snapshot()
	f.startOriginate(c, timeout)
	q.reply(200, snap)
}

// startOriginate plays the far end's script for an originated channel.
func (f *Fake) startOriginate(c *channel, timeout time.Duration) {
	b := c.behavior
	f.dialEvent(c, "", c.resource)
	switch b.out {
	case outMissing, outUnreachable:
		f.dialEvent(c, "CHANUNAVAIL", c.resource)
		f.finish(c, 0, 0)
		return
	}
	if b.rings(c.tech) {
		f.setState(c, "Ringing")
		f.dialEvent(c, "RINGING", c.resource)
	}
	if timeout > 0 {
		c.dialTimer = f.afterLocked(timeout, func() {
			if c.destroyed || c.answered {
				return
			}
			// finish tells the subscribed ;2 first: HangupRequest{19} (20).
			f.finish(c, 19, 0)
		})
	}
	if b.out == outNoAnswer {
		return
	}
	outcome := func() {
		if c.destroyed || c.answered {
			return
		}
		switch b.out {
		case outAnswer:
			f.originateAnswered(c)
		default:
			cause, status := 17, "BUSY"
			switch b.out {
			case outCongestion:
				cause, status = 34, "CONGESTION"
			case outReject:
				cause, status = sipCause(b.sipCode), "BUSY"
				if cause != 17 {
					status = "CONGESTION"
				}
			}
			f.sched.cancel(c.dialTimer)
			if p := c.peer; p != nil {
				f.setState(p, "Busy")
			}
			f.dialEvent(c, status, c.resource)
			if p := c.peer; p != nil {
				f.hangupReq(p, 0, false, 0)
				p.hangingUp = true
				f.hangupReq(p, 16, true, 0)
				f.destroyed(p, cause, 0)
			}
			f.finish(c, 0, 0)
		}
	}
	if b.after > 0 {
		c.timers = append(c.timers, f.afterLocked(b.after, outcome))
	} else {
		outcome()
	}
}

// originateAnswered: both halves Up, Dial ANSWER, then Stasis (20).
func (f *Fake) originateAnswered(c *channel) {
	f.sched.cancel(c.dialTimer)
	c.dialTimer = nil
	c.answered = true
	if p := c.peer; p != nil {
		f.setState(p, "Up")
	}
	f.setState(c, "Up")
	f.dialEvent(c, "ANSWER", c.resource)
	if c.app != "" {
		c.dp.AppName, c.dp.AppData = "", ""
		if f.enterStasis(c, c.app, c.stasisArgs, false) {
			f.afterAnswerScript(c, c.behavior)
		}
		return
	}
	ctx, ext := c.exten[0], c.exten[1]
	if ctx == "" {
		ctx = "default"
	}
	c.dp = dialplan{Context: ctx, Exten: ext, Priority: 1}
	f.afterAnswerScript(c, c.behavior)
}
