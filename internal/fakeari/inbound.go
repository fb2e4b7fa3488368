package fakeari

import (
	"errors"
	"fmt"
	"time"
)

// ErrAppNotActive is returned by Inbound when no WebSocket is connected for
// the app: Stasis() fails at once and the dialplan hangs the call up (16).
var ErrAppNotActive = errors.New("fakeari: Stasis app not active")

// InboundCall describes a call arriving at Stasis(app,args) from the dialplan.
type InboundCall struct {
	// App is the Stasis app (default "sophia"); Args its arguments (nil means
	// ["inbound"], use []string{} for none).
	App  string
	Args []string
	// CallerNumber and CallerName are the caller ID the app sees.
	CallerNumber, CallerName string
	// Exten is the dialed extension (default "s"); Context the dialplan
	// context that ran Stasis (default "inbound").
	Exten, Context string
	// PJSIP makes the call come from a SIP phone (13c): one channel
	// PJSIP/<Endpoint>-NNNNNNNN instead of the harness's Local/<exten>@<context>
	// pair. Endpoint defaults to "alice"; an unset CallerNumber is then the
	// endpoint's name, as traced.
	PJSIP    bool
	Endpoint string
	// ChannelID optionally fixes the Stasis channel's id.
	ChannelID string

	// Caller-side script once the app answers: press Presses PressAfter
	// after the answer ("1" to accept, "12#"…), hang up HangsUpAfter after
	// it (0: the caller waits until someone hangs up).
	Presses      string
	PressAfter   time.Duration
	HangsUpAfter time.Duration
}

// Call is an injected inbound call.
type Call struct {
	f     *Fake
	in    InboundCall
	id    string // the channel in Stasis
	phone string // the ;1 half ("" for PJSIP)
	ended bool
}

// ID is the id of the channel the app sees in StasisStart.
func (c *Call) ID() string { return c.id }

// CallerChannelID is the Local ;1 half standing for the phone ("" for PJSIP).
func (c *Call) CallerChannelID() string { return c.phone }

// Hangup makes the caller hang up: Local calls give the Stasis channel
// ChannelHangupRequest{cause 16} then StasisEnd (07); SIP calls a BYE
// (no cause) once answered, a CANCEL {cause 127, tech_cause 487} before (13c).
func (c *Call) Hangup() error { return c.f.FarEnd(c.id).Hangup() }

// Press makes the caller press digits now.
func (c *Call) Press(digits string) error { return c.f.FarEnd(c.id).Press(digits) }

// Ended reports whether the Stasis channel is gone.
func (c *Call) Ended() bool {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.ended
}

// Inbound injects a call entering Stasis(app,args), as the traces' harness
// did (POST /channels Local/s@inbound …, [inbound] runs Stasis(sophia,inbound))
// or as a SIP phone does. The app gets StasisStart with state Ring and the
// caller ID. With no WebSocket for the app the call fails at once and
// Inbound returns ErrAppNotActive (16).
func (f *Fake) Inbound(in InboundCall) (*Call, error) {
	if in.App == "" {
		in.App = "sophia"
	}
	if in.Args == nil {
		in.Args = []string{"inbound"}
	}
	if in.Exten == "" {
		in.Exten = "s"
	}
	if in.Context == "" {
		in.Context = "inbound"
	}
	if in.PJSIP && in.Endpoint == "" {
		in.Endpoint = "alice"
	}
	if in.PJSIP && in.CallerNumber == "" {
		in.CallerNumber = in.Endpoint
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	call := &Call{f: f, in: in}
	var c *channel
	if in.PJSIP {
		f.ensureEndpoint("PJSIP", in.Endpoint)
		var ok bool
		if c, ok = f.newChannel("PJSIP", in.Endpoint, in.ChannelID, ""); !ok {
			return nil, fmt.Errorf("fakeari: channel id %q taken", in.ChannelID)
		}
		c.protocolID = fmt.Sprintf("%016x", f.counter*7919+0x3fa89b97f8b22a30)
		c.caller = Party{Name: in.CallerName, Number: in.CallerNumber}
	} else {
		one, ok := f.newChannel("Local", in.Exten+"@"+in.Context, "", in.ChannelID)
		if !ok {
			return nil, fmt.Errorf("fakeari: channel id %q taken", in.ChannelID)
		}
		p := Party{Name: in.CallerName, Number: in.CallerNumber}
		one.origin, one.caller, one.connected = originCaller, p, p
		one.dp = dialplan{Context: in.Context, Exten: in.Exten, Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"}
		call.phone = one.id
		c = one.peer
		c.caller, c.connected = p, p
	}
	c.origin, c.call, c.afterStasisHangup = originInbound, call, true
	c.state = "Ring"
	c.dp = dialplan{Context: in.Context, Exten: in.Exten, Priority: 1}
	c.dp.Priority = 2
	call.id = c.id
	f.calls = append(f.calls, call)
	f.record(c, "inbound", formatCallerID(c.caller)+" → "+in.Exten)
	if !f.enterStasis(c, in.App, in.Args, false) {
		return call, ErrAppNotActive
	}
	return call, nil
}

// callerHangup: the caller of inbound channel c hangs up. f.mu held.
func (f *Fake) callerHangup(c *channel) {
	if c == nil || c.destroyed || c.hangingUp {
		return
	}
	if c.tech == "PJSIP" {
		if c.state == "Up" {
			f.hangupReq(c, -1, false, 0) // BYE: no cause (13c)
			f.finish(c, 16, 0)
			return
		}
		f.hangupReq(c, 127, false, 487) // CANCEL
		f.finish(c, 127, 487)
		return
	}
	if p := c.peer; p != nil && !p.destroyed {
		// The ;1 "phone" goes first; nobody listens to it.
		p.hangingUp = true
		p.timersStop(f.sched)
		f.destroyed(p, 16, 0)
	}
	f.hangupReq(c, 16, false, 0)
	f.finish(c, 16, 0)
}
