package esl

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/dialplan"
	"github.com/sophia-pbx/sophia/switchboard"
)

// callDriver carries out one call's plan on its outbound socket: switchboard.Driver.
// Every method runs in the call's goroutine.
type callDriver struct {
	s    *sock
	a    *Adapter
	sc   *switchboard.Call
	log  *slog.Logger
	vars bool   // continue_on_fail and hangup_after_bridge are set
	ring string // the ringback variable as last set ("" unset)
	hold string // hold_music as last set
	cont bool   // given back to the dialplan
}

var _ switchboard.Driver = (*callDriver)(nil)

// execute renders a sendmsg execute of app with arg, tagged with appUUID (it comes back
// as Application-UUID on the application's events) when not empty.
func execute(app, arg, appUUID string) string {
	return render(&call.Execute{AppName: app, AppArgs: arg, AppUUID: appUUID})
}

func setVar(k, v string) string {
	if v == "" {
		return execute("unset", k, "")
	}
	return execute("set", k+"="+v, "")
}

// Ring implements callflow.Driver: one bridge with the legs rung together (","), each
// with its own variables (timeout, caller ID and display, diversion, confirm), the
// caller hearing the ringback. continue_on_fail=true keeps the caller's channel up
// whatever the bridge's failure (without it FreeSWITCH hangs the caller up on USER_BUSY,
// ALLOTTED_TIMEOUT…: traces README, "Bridge results"), and the bridge's result comes in
// its CHANNEL_EXECUTE_COMPLETE, matched by Application-UUID.
func (d *callDriver) Ring(ctx context.Context, r *callflow.Ring) (int, error) {
	s := d.s
	if s.hungup || s.gone {
		return -1, callflow.ErrCallerHangup
	}
	legs := make([]bridgeLeg, len(r.Legs))
	uuids := make([]string, len(r.Legs))
	dialable := false
	for i := range r.Legs {
		legs[i] = d.leg(&r.Legs[i], r.TimeoutS)
		uuids[i] = legs[i].uuid
		dialable = dialable || legs[i].target != ""
	}
	if !dialable {
		return -1, undialable(legs, &callflow.LegError{Causes: make([]callflow.Cause, len(legs))})
	}
	var cmds []string
	if !d.vars {
		cmds = append(cmds, setVar("continue_on_fail", "true"), setVar("hangup_after_bridge", "true"))
	}
	if rb := d.uri(r.Ringback); rb != d.ring || !d.vars {
		cmds = append(cmds, setVar("ringback", rb))
		d.ring = rb
	}
	if h := d.uri(r.MusicOnHold); h != d.hold || !d.vars {
		cmds = append(cmds, setVar("hold_music", h))
		d.hold = h
	}
	d.vars = true
	global := []legVar{{"originate_timeout", strconv.Itoa(r.TimeoutS)}}
	appUUID := newUUID()
	cmds = append(cmds, execute("bridge", dialString(global, legs), appUUID))
	// The commands are not bounded by the ring's deadline (that is the ring's, below):
	// a slow reply must not leave a bridge started behind our back.
	if err := s.mustOK(context.WithoutCancel(ctx), cmds...); err != nil {
		if s.hungup || s.gone {
			return -1, callflow.ErrCallerHangup
		}
		return -1, fmt.Errorf("bridge: %w", err)
	}
	d.sc.Dialed()
	i, err := d.await(ctx, appUUID, uuids)
	if err == nil || !isCtxErr(err) {
		return i, undialable(legs, err)
	}
	// Our deadline passed before FreeSWITCH's own timer (or we are shutting down): stop
	// the legs and wait for the bridge to report, so the socket is in step for what
	// follows. A leg that answered meanwhile wins.
	kills := make([]string, 0, len(legs))
	for _, l := range legs {
		if l.target != "" { // a leg left out of the bridge has no channel to kill
			kills = append(kills, render(command.API{Command: "uuid_kill", Arguments: l.uuid + " NO_ANSWER"}))
		}
	}
	wctx := context.WithoutCancel(ctx)
	if _, kerr := s.commands(wctx, kills...); kerr != nil {
		return -1, fmt.Errorf("stop the legs: %w", kerr)
	}
	wctx, cancel := context.WithTimeout(wctx, d.a.o.CommandTimeout)
	defer cancel()
	i, werr := d.await(wctx, appUUID, uuids)
	switch {
	case werr == nil:
		return i, nil
	case errors.Is(werr, callflow.ErrCallerHangup):
		return -1, werr
	case errors.Is(err, context.DeadlineExceeded):
		causes := make([]callflow.Cause, len(uuids))
		for i := range causes {
			causes[i] = callflow.CauseNoAnswer
		}
		return -1, undialable(legs, &callflow.LegError{Causes: causes})
	}
	return -1, err
}

// undialable gives the legs left out of the bridge (no dial string: no gateway for a
// number, an endpoint that would add legs) their own cause, unreachable, as the ARI
// adapter does for a leg Asterisk cannot create: FreeSWITCH, not knowing them, would
// have them take the bridge's overall cause (another leg's busy, say).
func undialable(legs []bridgeLeg, err error) error {
	var le *callflow.LegError
	if errors.As(err, &le) && len(le.Causes) == len(legs) {
		for i, l := range legs {
			if l.target == "" {
				le.Causes[i] = callflow.CauseUnreachable
			}
		}
	}
	return err
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// await follows the bridge tagged appUUID until it answers (CHANNEL_BRIDGE: the leg is
// the other leg's uuid), fails (its CHANNEL_EXECUTE_COMPLETE), or the caller hangs up.
func (d *callDriver) await(ctx context.Context, appUUID string, uuids []string) (int, error) {
	for {
		e, err := d.s.event(ctx)
		if errors.Is(err, errGone) {
			return -1, callflow.ErrCallerHangup
		}
		if err != nil {
			return -1, err
		}
		switch e.name() {
		case "CHANNEL_BRIDGE":
			other := e.get("Other-Leg-Unique-ID")
			if other == "" {
				other = e.get("Bridge-B-Unique-ID")
			}
			for i, u := range uuids {
				if u == other {
					return i, nil
				}
			}
			return -1, fmt.Errorf("bridged to %q, which is none of the legs sophia dialed", other)
		case "CHANNEL_HANGUP":
			return -1, callflow.ErrCallerHangup
		case "CHANNEL_EXECUTE_COMPLETE":
			if e.get("Application-UUID") != appUUID {
				continue
			}
			return -1, &callflow.LegError{Causes: legCauses(uuids, e.variable("originate_causes"),
				e.variable("originate_failed_cause"), e.variable("originate_disposition"))}
		}
	}
}

// leg renders one plan leg: what to dial, and its variables.
func (d *callDriver) leg(l *dialplan.Leg, timeoutS int) bridgeLeg {
	bl := bridgeLeg{uuid: newUUID()}
	switch l.Kind {
	case dialplan.LegNumber:
		bl.target = d.a.o.gatewayDial(l.Dial)
	default:
		bl.target = l.Dial // a device's endpoint is its FreeSWITCH dial string, as stored
	}
	if strings.ContainsAny(bl.target, ",|") {
		bl.target = "" // one endpoint per leg: a stored string must not add legs
	}
	bl.vars = append(bl.vars, legVar{"origination_uuid", bl.uuid}, legVar{"leg_timeout", strconv.Itoa(timeoutS)})
	if l.CallerID.Number == "" {
		// Withheld: FreeSWITCH sends an anonymous From with the asserted identity in
		// P-Asserted-Identity (privacy id) when there is one.
		num := l.Asserted
		if num == "" {
			num = "anonymous"
		}
		bl.vars = append(bl.vars, legVar{"origination_caller_id_number", num},
			legVar{"origination_caller_id_name", "Anonymous"}, legVar{"origination_privacy", "hide_name:hide_number"})
	} else {
		bl.vars = append(bl.vars, legVar{"origination_caller_id_number", l.CallerID.Number},
			legVar{"origination_caller_id_name", l.Display})
	}
	if l.Redirect.Count > 0 {
		bl.vars = append(bl.vars, legVar{"sip_h_Diversion", diversion(l.Redirect, d.a.o.Domain)})
	}
	if l.Confirm {
		bl.vars = append(bl.vars, legVar{"group_confirm_key", "1"}, legVar{"group_confirm_file", d.a.o.ConfirmPrompt})
	}
	return bl
}

func (d *callDriver) uri(media string) string {
	if media == "" {
		return ""
	}
	return d.a.o.mediaURI(media)
}

// Play implements callflow.Driver: early media (pre_answer), then the sheet's sound or
// the adapter's tone, until its CHANNEL_EXECUTE_COMPLETE.
func (d *callDriver) Play(ctx context.Context, p *callflow.Playback) error {
	s := d.s
	if s.hungup || s.gone {
		return callflow.ErrCallerHangup
	}
	file := d.uri(p.Media)
	if file == "" {
		file = d.a.o.BusyTone
		if p.Kind == callflow.PlayUnavailable {
			file = d.a.o.UnavailableTone
		}
	}
	appUUID := newUUID()
	if err := s.mustOK(ctx, setVar("sophia_playing", p.Kind.String()), execute("pre_answer", "", ""),
		execute("playback", file, appUUID)); err != nil {
		if s.hungup || s.gone {
			return callflow.ErrCallerHangup
		}
		return fmt.Errorf("play %v: %w", p.Kind, err)
	}
	for {
		e, err := s.event(ctx)
		if errors.Is(err, errGone) {
			return callflow.ErrCallerHangup
		}
		if err != nil {
			return err
		}
		switch e.name() {
		case "CHANNEL_HANGUP":
			return callflow.ErrCallerHangup
		case "CHANNEL_EXECUTE_COMPLETE":
			if e.get("Application-UUID") == appUUID {
				return nil
			}
		}
	}
}

// Voicemail implements callflow.Driver: sophia has no voicemail on FreeSWITCH yet (nor
// on Asterisk), so the plan's fallback applies.
func (d *callDriver) Voicemail(context.Context, *callflow.VoicemailRequest) error {
	return callflow.ErrVoicemailUnavailable
}

// Hangup implements callflow.Driver: sendmsg hangup with FreeSWITCH's cause name, then
// its CHANNEL_HANGUP. A caller already gone is nil.
func (d *callDriver) Hangup(ctx context.Context, cause callflow.Cause) error {
	s := d.s
	if s.hungup || s.gone {
		return nil
	}
	if err := s.mustOK(ctx, render(call.Hangup{Cause: cause.FreeSWITCH()})); err != nil {
		if s.hungup || s.gone {
			return nil
		}
		return fmt.Errorf("hang up: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.a.o.CommandTimeout)
	defer cancel()
	for !s.hungup {
		if _, err := s.event(ctx); err != nil {
			if errors.Is(err, errGone) {
				return nil
			}
			return fmt.Errorf("hang up: waiting for CHANNEL_HANGUP: %w", err)
		}
	}
	return nil
}

// Continue implements switchboard.Driver: socket_resume makes the socket application
// hand the call back to the dialplan (the next action after `socket`) when the socket
// closes, instead of hanging it up (mod_event_socket's socket_function).
func (d *callDriver) Continue(ctx context.Context) error {
	if d.s.hungup || d.s.gone {
		return nil
	}
	if err := d.s.mustOK(ctx, setVar("socket_resume", "true")); err != nil {
		return fmt.Errorf("give the call back to the dialplan: %w", err)
	}
	d.cont = true
	return nil
}

// Talk implements switchboard.Driver: the conversation lasts until the caller's channel
// hangs up (hangup_after_bridge=true: FreeSWITCH hangs it up when the other leg leaves).
func (d *callDriver) Talk(ctx context.Context) error {
	for !d.s.hungup {
		if _, err := d.s.event(ctx); err != nil {
			if errors.Is(err, errGone) {
				return nil
			}
			return err
		}
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
	return string(out)
}

// callOf builds the switchboard call from the connect reply (CHANNEL_DATA): who calls,
// the number dialed, and, for a call a user places, the device it comes from. The
// dialplan says the direction with the channel variable sophia_direction=outbound; the
// device is sophia_endpoint when the dialplan sets it, else user/${user_name} (the
// directory user FreeSWITCH authenticated).
func callOf(data headers, arrived time.Time) *switchboard.Call {
	c := &switchboard.Call{ID: data.get("Unique-ID"), Direction: switchboard.Inbound,
		To: data.get("Caller-Destination-Number"), Arrived: arrived}
	// A withheld number (anonymous, 0000000000…) is the switchboard's to read; the
	// privacy flags are FreeSWITCH's own way of saying it.
	num, name := data.get("Caller-Caller-ID-Number"), data.get("Caller-Caller-ID-Name")
	if strings.EqualFold(data.get("Caller-Privacy-Hide-Number"), "true") {
		num = ""
	}
	if strings.EqualFold(data.get("Caller-Privacy-Hide-Name"), "true") {
		name = ""
	}
	c.From = dialplan.Party{Number: num, Name: name}
	if strings.EqualFold(data.get("variable_sophia_direction"), "outbound") {
		c.Direction = switchboard.Outbound
		c.Endpoint = data.get("variable_sophia_endpoint")
		if c.Endpoint == "" {
			if u := data.get("variable_user_name"); u != "" {
				c.Endpoint = "user/" + u
			}
		}
	}
	return c
}
