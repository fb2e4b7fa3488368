package ari

import (
	"context"
	"strconv"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
)

// toneS is how long a PBX tone plays (busy, or the information tone of "unavailable")
// when the user has no sound of their own: Asterisk's tone: media plays until stopped.
const toneS = 3

// Play implements callflow.Driver: the user's media, or Asterisk's busy / information
// tone for a while, as early media (the caller is not answered for it).
func (c *call) Play(ctx context.Context, p *callflow.Playback) error {
	if c.callerGone {
		return callflow.ErrCallerHangup
	}
	c.playCount++
	kind := p.Kind.String()
	id := kind + "-" + c.id + "-" + strconv.Itoa(c.playCount)
	uri, tone := c.a.o.mediaURI(p.Media), false
	if p.Media == "" {
		uri, tone = "tone:busy", true
		if p.Kind == callflow.PlayUnavailable {
			uri = "tone:info"
		}
	}
	if err := c.a.rest.play(ctx, c.id, id, uri); err != nil {
		if statusOf(err) == 404 {
			c.callerGone = true
			return callflow.ErrCallerHangup
		}
		// A sound that cannot play is no reason to keep the caller: go on to the hangup.
		c.restFailed("play", err)
		return nil
	}
	var stop <-chan time.Time
	if tone {
		t := time.NewTimer(c.a.o.Seconds(toneS))
		defer t.Stop()
		stop = t.C
	}
	for !c.finished[id] {
		if c.callerGone {
			return callflow.ErrCallerHangup
		}
		_, timedOut, err := c.next(ctx, stop)
		if err != nil {
			return err
		}
		if timedOut {
			stop = nil
			if err := c.a.rest.stopPlayback(ctx, id); err != nil && statusOf(err) != 404 {
				c.restFailed("play_stop", err)
				return nil
			}
		}
	}
	return nil
}

// Voicemail implements callflow.Driver: sophia has no voicemail on Asterisk yet, so the
// engine's fallback applies (what it does with voicemail off).
func (c *call) Voicemail(context.Context, *callflow.VoicemailRequest) error {
	return callflow.ErrVoicemailUnavailable
}

// Hangup implements callflow.Driver: the caller's channel is hung up with the cause's
// Q.850 code (what the caller's network hears: 17 busy, 20 subscriber absent…).
func (c *call) Hangup(ctx context.Context, cause callflow.Cause) error {
	if c.callerGone || c.hungUp {
		return nil
	}
	c.hungUp = true
	if err := c.a.rest.hangup(ctx, c.id, cause.Q850()); err != nil && statusOf(err) != 404 {
		return err
	}
	return nil
}

// Continue implements switchboard.Driver: the caller goes on in the dialplan after
// Stasis().
func (c *call) Continue(ctx context.Context) error {
	if c.callerGone {
		return nil
	}
	c.handedOff = true
	if err := c.a.rest.continueInDialplan(ctx, c.id); err != nil && statusOf(err) != 404 {
		return err
	}
	return nil
}

// Talk implements switchboard.Driver: it waits until the caller or the answered leg
// hangs up, then hangs up the other and destroys the bridge.
func (c *call) Talk(ctx context.Context) error {
	w := c.winner
	for !c.callerGone && (w == nil || !w.ended) {
		if _, _, err := c.next(ctx, nil); err != nil {
			return err
		}
	}
	cctx := context.WithoutCancel(ctx)
	if w != nil && !w.ended {
		c.stopLeg(cctx, w, callflow.CauseNormal)
	}
	if !c.callerGone && !c.hungUp {
		c.hungUp = true
		if err := c.a.rest.hangup(cctx, c.id, callflow.CauseNormal.Q850()); err != nil && statusOf(err) != 404 {
			c.restFailed("hangup", err)
		}
	}
	if c.bridge != "" {
		if err := c.a.rest.destroyBridge(cctx, c.bridge); err != nil && statusOf(err) != 404 {
			c.restFailed("bridge_destroy", err)
		}
		c.bridge = ""
	}
	return nil
}
