package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	cyari "github.com/CyCoreSystems/ari/v6"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/dialplan"
	"github.com/sophia-pbx/sophia/switchboard"
)

// call is one call in the Stasis application: its caller's channel and the legs it
// rings. One goroutine owns it (run): it alone reads its events, in wire order, and
// drives it through switchboard.Board.Handle, implementing switchboard.Driver.
type call struct {
	a      *Adapter
	id     string // the caller's channel
	events *queue[inbox]
	sb     *switchboard.Call
	log    *slog.Logger

	callerGone, callerUp, handedOff, hungUp bool

	step       int
	legs       map[string]*leg
	cur        []*leg // legs of the ring step in progress, in Ring.Legs order
	winner     *leg
	bridge     string
	finished   map[string]bool // playbacks that finished
	onFinished func(playbackID string)
	playCount  int
}

// leg is one channel a ring step created.
type leg struct {
	id            string
	idx, step     int
	confirm       bool
	inStasis      bool
	dialed        bool
	answered      bool
	hangupSeen    bool // a ChannelHangupRequest came (our DELETE, a dial timeout, the far end)
	done          bool // no longer ringing (failed, stopped, or it won)
	ended         bool // gone from Stasis (StasisEnd, destroyed, vanished)
	cause         callflow.Cause
	confirmBy     time.Time // press-1 deadline once answered (confirm legs)
	stopRequested bool
}

func newCall(a *Adapter, e *cyari.StasisStart) *call {
	ch := e.Channel
	c := &call{a: a, id: ch.ID, events: newQueue[inbox](), legs: map[string]*leg{}, finished: map[string]bool{}}
	sc := &switchboard.Call{ID: ch.ID, Direction: switchboard.Inbound, Arrived: time.Now()}
	if e.Args[0] == "outbound" {
		sc.Direction = switchboard.Outbound
		sc.Endpoint = endpointOf(ch.Name)
	}
	if ch.Caller != nil {
		sc.From = dialplan.Party{Number: ch.Caller.Number, Name: ch.Caller.Name}
	}
	if ch.Dialplan != nil {
		sc.To = ch.Dialplan.Exten
	}
	// Stasis(sophia,inbound,<number>) names the dialed number when the extension does not.
	if len(e.Args) > 1 && e.Args[1] != "" {
		sc.To = e.Args[1]
	}
	c.sb = sc
	c.log = a.log.With("call_id", ch.ID, "direction", string(sc.Direction))
	return c
}

// endpointOf returns the endpoint of a channel name: PJSIP/alice-0000002a → PJSIP/alice,
// Local/100@phones-0000000b;2 → Local/100@phones.
func endpointOf(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

func (c *call) run(ctx context.Context) *switchboard.Result {
	res := c.a.b.Handle(ctx, c.sb, c)
	c.cleanup()
	c.log.Debug("call ended", "user", res.User, "outcome", res.Outcome.Kind, "by", res.Outcome.By,
		"reason", res.Outcome.Reason, "err", res.Err)
	return res
}

// cleanup frees what the call still holds on Asterisk (a failure path may leave a leg
// ringing or a bridge), whatever happened.
func (c *call) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), c.a.o.RequestTimeout)
	defer cancel()
	for _, l := range c.legs {
		if !l.ended && !l.stopRequested {
			c.stopLeg(ctx, l, callflow.CauseNormal)
		}
	}
	if c.bridge != "" {
		if err := c.a.rest.destroyBridge(ctx, c.bridge); err != nil && statusOf(err) != 404 {
			c.restFailed("bridge_destroy", err)
		}
		c.bridge = ""
	}
	if !c.callerGone && !c.handedOff && !c.hungUp {
		c.hungUp = true
		if err := c.a.rest.hangup(ctx, c.id, callflow.CauseNormal.Q850()); err != nil && statusOf(err) != 404 {
			c.restFailed("hangup", err)
		}
	}
}

func (c *call) restFailed(op string, err error) {
	c.a.m.restErrors.WithLabelValues(op).Inc()
	c.log.Warn("ARI request failed", "op", op, "err", err)
}

// next waits for the call's next event, a timer, or ctx. It applies the event to the
// call's state before returning it.
func (c *call) next(ctx context.Context, timer <-chan time.Time) (cyari.Event, bool, error) {
	for {
		if in, ok, _ := c.events.next(); ok {
			ev := in.ev
			if ev == nil {
				var err error
				if ev, err = cyari.DecodeEvent(in.raw); err != nil {
					c.a.m.dropped.WithLabelValues("undecodable").Inc()
					c.log.Warn("undecodable ARI event", "err", err)
					continue
				}
			}
			c.apply(ev)
			return ev, false, nil
		}
		select {
		case <-c.events.ready():
		case <-timer:
			return nil, true, nil
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// apply updates the call's state from one event. Every update is idempotent: an
// endpoint subscription delivers the events of its channels twice (traces, 13).
func (c *call) apply(ev cyari.Event) {
	switch e := ev.(type) {
	case *cyari.StasisStart:
		if l := c.legs[e.Channel.ID]; l != nil {
			l.inStasis = true
		}
	case *cyari.Dial:
		l := c.legs[e.Peer.ID]
		if l == nil || l.done {
			return
		}
		switch e.Dialstatus {
		case "ANSWER":
			l.answered = true
		case "BUSY":
			l.fail(callflow.CauseBusy)
		case "CONGESTION", "CHANUNAVAIL":
			l.fail(callflow.CauseCongestion)
		case "NOANSWER":
			l.fail(callflow.CauseNoAnswer)
		}
	case *cyari.ChannelHangupRequest:
		if e.Channel.ID == c.id {
			c.callerGone = true
			return
		}
		if l := c.legs[e.Channel.ID]; l != nil {
			l.hangupSeen = true
			if e.Cause != 0 && e.Cause != 32 { // a cause that says something
				if !l.done {
					l.fail(callflow.FromQ850(e.Cause))
				}
			}
			if l == c.winner {
				l.ended = true
			}
		}
	case *cyari.StasisEnd:
		c.gone(e.Channel.ID)
	case *cyari.ChannelDestroyed:
		c.gone(e.Channel.ID)
	case *cyari.PlaybackFinished:
		c.finished[e.Playback.ID] = true
		if c.onFinished != nil {
			c.onFinished(e.Playback.ID)
		}
	}
}

// gone records that a channel left the application.
func (c *call) gone(id string) {
	if id == c.id {
		c.callerGone = true
		return
	}
	l := c.legs[id]
	if l == nil {
		return
	}
	l.ended = true
	if l.done {
		return
	}
	switch {
	case l.answered:
		// Answered, then gone before it was confirmed or bridged: nobody took the call.
		l.fail(callflow.CauseNoAnswer)
	case l.hangupSeen:
		// A hangup without a cause worth a route: the dial timeout's {32, soft} (no
		// NOANSWER event comes, traces 04), or our own DELETE.
		l.fail(callflow.CauseNoAnswer)
	default:
		// Left Stasis without ringing nor a hangup request: the dial found nothing to
		// ring (a Local extension that does not exist, traces 06).
		l.fail(callflow.CauseUnreachable)
	}
}

func (l *leg) fail(cause callflow.Cause) {
	l.done, l.cause = true, cause
}

// stopLeg hangs a leg up (its StasisEnd comes later; it counts as done now).
func (c *call) stopLeg(ctx context.Context, l *leg, cause callflow.Cause) {
	if !l.done {
		l.fail(cause)
	}
	if l.stopRequested || l.ended {
		return
	}
	l.stopRequested = true
	if err := c.a.rest.hangup(ctx, l.id, callflow.CauseNormal.Q850()); err != nil && statusOf(err) != 404 {
		c.restFailed("hangup_leg", err)
	}
}

// legVars are the variables a leg is created with: what the phone or the network is
// shown (the connected line: chan_pjsip builds the INVITE's From from it, a Local ;2
// sees it as its caller ID), and the diversion (REDIRECTING: chan_pjsip's Diversion
// header).
func legVars(l *dialplan.Leg) map[string]string {
	v := map[string]string{
		"CONNECTEDLINE(num)":  l.CallerID.Number,
		"CONNECTEDLINE(name)": l.Display,
	}
	if l.CallerID.Number == "" {
		// Withheld: anonymous to the far end; the network may still see the asserted
		// number (P-Asserted-Identity with privacy, trust_id_outbound).
		v["CONNECTEDLINE(num)"] = l.Asserted
		v["CONNECTEDLINE(name)"] = ""
		v["CONNECTEDLINE(pres)"] = "prohib"
	}
	if r := l.Redirect; r.Count > 0 {
		v["REDIRECTING(from-num)"] = r.From.Number
		v["REDIRECTING(from-name)"] = r.From.Name
		v["REDIRECTING(reason)"] = redirectingReason(r.Reason)
		v["REDIRECTING(count)"] = strconv.Itoa(r.Count)
	}
	return v
}

// redirectingReason is Asterisk's REDIRECTING(reason) name of a diversion reason
// (chan_pjsip sends it as the Diversion header's RFC 5806 reason).
func redirectingReason(r dialplan.Reason) string {
	switch r {
	case dialplan.ReasonUnconditional:
		return "cfu"
	case dialplan.ReasonScheduled:
		return "time_of_day"
	case dialplan.ReasonDND:
		return "dnd"
	case dialplan.ReasonBusy:
		return "cfb"
	case dialplan.ReasonNoAnswer:
		return "cfnr"
	case dialplan.ReasonNotConnected:
		return "unavailable"
	case dialplan.ReasonSimultaneous:
		return "follow_me"
	}
	return "unknown"
}

// Ring implements callflow.Driver: legs are created with their identity, each dialed
// once its own StasisStart arrived (a dial sent before gets 409 in a window, traces
// README), with the ring timeout as Asterisk's dial timeout; the caller hears the
// ringback; the first leg to answer (and press 1 on a confirm leg) is bridged with the
// caller, the others are hung up at once.
func (c *call) Ring(ctx context.Context, r *callflow.Ring) (int, error) {
	if c.callerGone {
		return -1, callflow.ErrCallerHangup
	}
	c.step++
	c.cur = c.cur[:0]
	causes := make([]callflow.Cause, len(r.Legs))
	for i := range r.Legs {
		l := &leg{id: c.id + "-" + strconv.Itoa(c.step) + "-" + strconv.Itoa(i), idx: i, step: c.step, confirm: r.Legs[i].Confirm}
		c.legs[l.id] = l
		c.cur = append(c.cur, l)
		c.a.route(l.id, c) // before the create: its StasisStart may come before the reply
	}
	stopRingback := c.startRingback(ctx, r.Ringback)
	for i, l := range c.cur {
		rl := &r.Legs[i]
		target := rl.Dial
		if rl.Kind == dialplan.LegNumber {
			target = c.a.o.trunkDial(rl.Dial)
		}
		if target == "" {
			l.fail(callflow.CauseUnreachable)
			continue
		}
		args := "leg," + c.id
		if l.confirm {
			args += ",confirm"
		}
		err := c.a.rest.createLeg(ctx, l.id, target, c.a.o.App, args, c.id, legVars(rl))
		switch {
		case err == nil:
		case statusOf(err) != 0:
			// Asterisk refused it, 500 "Allocation failed": an unregistered or unknown
			// endpoint (traces 06). No channel.
			l.fail(callflow.CauseUnreachable)
			l.ended = true
		default:
			// No answer (the link broke, the ring's deadline or shutdown cancelled the
			// request): Asterisk may have made the channel. Hang it up (a 404 is fine),
			// and unless the ring ended anyway, end the call on the failure, as a
			// FreeSWITCH command that fails does: it says nothing of the phone.
			c.stopLeg(context.WithoutCancel(ctx), l, callflow.CauseUnreachable)
			if ctx.Err() == nil {
				c.restFailed("create", err)
				stopRingback()
				c.stopAll(context.WithoutCancel(ctx))
				return -1, fmt.Errorf("create leg %s: %w", l.id, err)
			}
		}
	}
	i, err := c.ringLoop(ctx, r)
	stopRingback()
	if err != nil || i >= 0 {
		return i, err
	}
	for k, l := range c.cur {
		causes[k] = l.cause
	}
	return -1, &callflow.LegError{Causes: causes}
}

// ringLoop runs the ring step until a winner, every leg failed, the caller left or ctx
// ended.
func (c *call) ringLoop(ctx context.Context, r *callflow.Ring) (int, error) {
	var confirmTimer *time.Timer
	defer func() {
		if confirmTimer != nil {
			confirmTimer.Stop()
		}
	}()
	for {
		if c.callerGone {
			c.stopAll(context.WithoutCancel(ctx))
			return -1, callflow.ErrCallerHangup
		}
		for _, l := range c.cur {
			if l.inStasis && !l.dialed && !l.done {
				l.dialed = true // never twice: a second dial crashed Asterisk 22.10.1
				if err := c.a.rest.dial(ctx, l.id, r.TimeoutS); err != nil {
					if ctx.Err() == nil {
						c.restFailed("dial", err)
					}
					c.stopLeg(context.WithoutCancel(ctx), l, callflow.CauseUnreachable)
					continue
				}
				c.sb.Dialed()
			}
			if l.answered && !l.done {
				if !l.confirm {
					return c.win(context.WithoutCancel(ctx), r, l)
				}
				if l.confirmBy.IsZero() {
					l.confirmBy = time.Now().Add(c.a.o.Seconds(c.a.o.ConfirmTimeoutS))
					if err := c.a.rest.play(ctx, l.id, "confirm-"+l.id, c.a.o.mediaURI(c.a.o.ConfirmPrompt)); err != nil && statusOf(err) != 404 {
						c.restFailed("play", err)
					}
				} else if !time.Now().Before(l.confirmBy) {
					c.stopLeg(ctx, l, callflow.CauseNoAnswer) // answered, never pressed 1
				}
			}
		}
		allDone := true
		var soonest time.Time
		for _, l := range c.cur {
			if !l.done {
				allDone = false
				if !l.confirmBy.IsZero() && (soonest.IsZero() || l.confirmBy.Before(soonest)) {
					soonest = l.confirmBy
				}
			}
		}
		if allDone {
			return -1, nil
		}
		var tc <-chan time.Time
		if !soonest.IsZero() {
			if confirmTimer == nil {
				confirmTimer = time.NewTimer(time.Until(soonest))
			} else {
				confirmTimer.Reset(time.Until(soonest))
			}
			tc = confirmTimer.C
		}
		ev, _, err := c.next(ctx, tc)
		if err != nil {
			// The ring's deadline (or shutdown): whoever still rings did not answer.
			c.stopAll(context.WithoutCancel(ctx))
			if errors.Is(err, context.DeadlineExceeded) {
				return -1, nil
			}
			return -1, err
		}
		if d, ok := ev.(*cyari.ChannelDtmfReceived); ok && d.Digit == "1" {
			if l := c.legs[d.Channel.ID]; l != nil && l.step == c.step && l.confirm && l.answered && !l.done {
				return c.win(context.WithoutCancel(ctx), r, l)
			}
		}
	}
}

// stopAll hangs up every leg of the step still ringing.
func (c *call) stopAll(ctx context.Context) {
	for _, l := range c.cur {
		if !l.done || (!l.ended && !l.stopRequested) {
			c.stopLeg(ctx, l, callflow.CauseNoAnswer)
		}
	}
}

// win connects the caller with leg w (ctx without the ring's deadline: the call is
// answered, what follows must be done): the others stop at once, the caller is answered,
// gets the user's hold music as its music class, and enters a mixing bridge with w.
func (c *call) win(ctx context.Context, r *callflow.Ring, w *leg) (int, error) {
	c.winner = w
	w.done = true
	for _, l := range c.cur {
		if l != w {
			c.stopLeg(ctx, l, callflow.CauseNoAnswer)
		}
	}
	if w.confirm {
		_ = c.a.rest.stopPlayback(ctx, "confirm-"+w.id) // 404 once it has played
	}
	if !c.callerUp {
		if err := c.a.rest.answer(ctx, c.id); err != nil {
			if statusOf(err) == 404 || statusOf(err) == 409 {
				c.callerGone = true
				c.stopLeg(ctx, w, callflow.CauseNormal)
				return -1, callflow.ErrCallerHangup
			}
			return -1, fmt.Errorf("answer the caller: %w", err)
		}
		c.callerUp = true
	}
	if r.MusicOnHold != "" {
		for _, id := range []string{c.id, w.id} {
			if err := c.a.rest.setVar(ctx, id, "CHANNEL(musicclass)", r.MusicOnHold); err != nil && statusOf(err) != 404 {
				c.restFailed("variable", err)
			}
		}
	}
	c.bridge = "bridge-" + c.id
	if err := c.a.rest.createBridge(ctx, c.bridge); err != nil {
		c.bridge = ""
		return -1, fmt.Errorf("create bridge: %w", err)
	}
	if err := c.a.rest.addChannels(ctx, c.bridge, c.id, w.id); err != nil {
		if st := statusOf(err); st >= 400 && st < 500 {
			// A side left meanwhile (400 channel not found, 409/422 not in Stasis):
			// the call was answered; Talk sees the hangup and ends it.
			c.log.Debug("bridge: a side left before it was bridged", "err", err)
		} else {
			return -1, fmt.Errorf("bridge the caller and %s: %w", w.id, err)
		}
	}
	return w.idx, nil
}

// startRingback makes the caller hear the ringback: Asterisk's ring indication for "",
// the user's media otherwise (played again each time it ends). It returns the stop.
func (c *call) startRingback(ctx context.Context, media string) func() {
	if media == "" {
		if err := c.a.rest.ring(ctx, c.id, true); err != nil && statusOf(err) != 404 {
			c.restFailed("ring", err)
		}
		return func() {
			if c.callerGone || c.callerUp {
				return // answered: the ring indication is over anyway
			}
			if err := c.a.rest.ring(context.WithoutCancel(ctx), c.id, false); err != nil && statusOf(err) != 404 {
				c.restFailed("ring_stop", err)
			}
		}
	}
	uri := c.a.o.mediaURI(media)
	n := 0
	id := ""
	play := func() {
		n++
		id = "ringback-" + c.id + "-" + strconv.Itoa(c.step) + "-" + strconv.Itoa(n)
		if err := c.a.rest.play(ctx, c.id, id, uri); err != nil && statusOf(err) != 404 && ctx.Err() == nil {
			c.restFailed("play", err)
		}
	}
	play()
	c.onFinished = func(pid string) {
		if pid == id && !c.callerGone && c.winner == nil && ctx.Err() == nil {
			play()
		}
	}
	return func() {
		c.onFinished = nil
		if !c.finished[id] && !c.callerGone {
			_ = c.a.rest.stopPlayback(context.WithoutCancel(ctx), id)
		}
	}
}
