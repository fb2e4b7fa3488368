package callflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// OutboundCall is a call a user places.
type OutboundCall struct {
	User   string // the caller's user id
	Dialed string // what the user dialed, prefixes included
	// View is the caller's view when the adapter has already read it.
	View *config.CallView
}

// RunOutbound carries out a call user call.User places (dialplan.DecideOutbound): a
// refused call hears the busy sound (max simultaneous calls) or the unavailable
// announcement (the refusal's reason in Outcome.Reason) and is hung up with a matching
// cause; an allowed call to a number another user receives (the Directory is a
// NumberDirectory that knows it) becomes that user's inbound call, presented with the
// caller's presented identity (Run); any other rings one outside leg with the presented
// caller ID.
//
// The trace starts with the outbound step: rule "outbound", action "dial" (targets: the
// destination) or "refuse".
func RunOutbound(ctx context.Context, call *OutboundCall, d Driver, dir Directory, opt *Options) (*Result, error) {
	res := &Result{}
	view := call.View
	if view == nil {
		v, err := dir.CallView(ctx, call.User)
		if err != nil {
			return res, fmt.Errorf("outbound call from %q: %w", call.User, err)
		}
		view = v
	}
	p := dialplan.DecideOutbound(&dialplan.OutboundInput{User: view.User, Dialed: call.Dialed, Active: view.ActiveCalls})
	if p.Refused != dialplan.RefusedNone {
		res.Trace = append(res.Trace, TraceStep{User: call.User, Rule: "outbound", Action: "refuse",
			Skipped: []Skipped{{Rule: "outbound", Target: call.Dialed, Reason: p.Reason}}})
		pb := &Playback{User: call.User, Kind: PlayUnavailable}
		kind, cause := OutcomeUnavailable, CauseRejected
		switch p.Refused {
		case dialplan.RefusedMaxCalls:
			pb.Kind, pb.Media, kind, cause = PlayBusy, view.User.Sheet.Audio.Busy, OutcomeBusy, CauseBusy
		case dialplan.RefusedNumber:
			cause = CauseInvalidNumber
		case dialplan.RefusedPolicy:
			cause = CauseBarred
		}
		res.Outcome = Outcome{Kind: kind, By: call.User, Reason: p.Refused.String()}
		err := d.Play(ctx, pb)
		switch {
		case errors.Is(err, ErrCallerHangup):
			return res, nil
		case err != nil:
			return res, fmt.Errorf("play %v: %w", pb.Kind, err)
		}
		if err := d.Hangup(ctx, cause); err != nil {
			return res, fmt.Errorf("hang up (%v): %w", cause, err)
		}
		return res, nil
	}
	res.Trace = append(res.Trace, TraceStep{User: call.User, Rule: "outbound", Action: "dial", Targets: []string{p.Number}})
	if nd, ok := dir.(NumberDirectory); ok {
		callee, err := nd.CallViewByNumber(ctx, p.Number)
		switch {
		case err == nil && callee.User != nil && callee.User.Sheet != nil:
			in, err := Run(ctx, &Call{User: callee.User.Sheet.ID, From: p.CallerID, To: p.Number, View: callee}, d, dir, opt)
			in.Trace = append(res.Trace, in.Trace...)
			return in, err
		case ctx.Err() != nil:
			return res, fmt.Errorf("outbound call from %q: %w", call.User, ctx.Err())
		}
	}
	leg := dialplan.Leg{Kind: dialplan.LegNumber, Target: p.Number, Dial: p.Number, CallerID: p.CallerID,
		Display: p.CallerID.Name}
	if p.Hidden {
		leg.Asserted = p.Asserted
	}
	r := &runner{d: d, dir: dir, opt: opt, res: res, cur: view}
	st := &dialplan.Step{Rule: dialplan.RuleNone, Action: dialplan.ActForward, Target: p.Number, TimeoutS: outboundTimeoutS}
	o, err := r.ring(ctx, call.User, st, []dialplan.Leg{leg}, true)
	if err != nil || o.done {
		return res, err
	}
	res.Outcome = Outcome{Kind: outcomeOf(o.outcome), By: call.User, Reason: o.outcome.String()}
	return res, r.hangup(ctx, causeOf(o.outcome))
}
