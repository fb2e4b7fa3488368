package callflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// Call is an inbound call to route.
type Call struct {
	User string         // the callee's user id
	From dialplan.Party // the caller; Number "" when withheld
	To   string         // the number dialed
	// History is the diversion history the call arrived with (a call diverted before
	// it reached sophia), oldest first; usually empty.
	History []dialplan.Diversion
	// View is the callee's view when the adapter has already read it (finding the user
	// by number does): Run then reads nothing more for the first decision.
	View *config.CallView
}

// Options tune Run. The zero value is the production setting.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seconds turns a plan's seconds into a duration for ring deadlines; nil means
	// s × time.Second. Tests of adapters against fake PBXs may shrink every time
	// uniformly (their scripted endpoints the same way).
	Seconds func(s int) time.Duration
}

func (o *Options) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) seconds(s int) time.Duration {
	if o != nil && o.Seconds != nil {
		return o.Seconds(s)
	}
	return time.Duration(s) * time.Second
}

// OutcomeKind is how a call ended for sophia.
type OutcomeKind string

// Outcome kinds (the explain answer's outcome.kind, the call log's, the metrics' label).
const (
	OutcomeAnswered    OutcomeKind = "answered"
	OutcomeVoicemail   OutcomeKind = "voicemail"
	OutcomeBusy        OutcomeKind = "busy"
	OutcomeUnavailable OutcomeKind = "unavailable"
	OutcomeMissed      OutcomeKind = "missed"
)

// Outcome is how a call ended: answered By a target ("user:<id>" or a number), voicemail
// of By (a user id), or busy / unavailable / missed at user By, with Reason: the rule of
// the step that ended it (busy, dnd, not_connected, no_answer, loop_guard,
// unconditional…), "caller_hangup" when the caller left while it rang, or, on outbound
// calls, the refusal (max_calls, cli_prefix, invalid_number, outside_policy).
type Outcome struct {
	Kind   OutcomeKind `json:"kind"`
	By     string      `json:"by"`
	Reason string      `json:"reason,omitempty"`
}

// TraceStep is one step Run carried out: whose plan, the rule that produced it, the
// action, its targets (the legs rung, the forward's target, "voicemail") and ring
// timeout, and what was left out and why.
type TraceStep struct {
	User     string    `json:"user"`
	Rule     string    `json:"rule"`
	Action   string    `json:"action"`
	Targets  []string  `json:"targets,omitempty"`
	TimeoutS int       `json:"timeout_s,omitempty"`
	Skipped  []Skipped `json:"skipped,omitempty"`
}

// Skipped is a forward or leg left out of a step, and why.
type Skipped struct {
	Rule   string `json:"rule"`
	Target string `json:"target,omitempty"`
	Reason string `json:"reason"`
}

// Result is what Run did.
type Result struct {
	Trace   []TraceStep
	Outcome Outcome
	// History is the call's diversion history at the end (the forwards made).
	History []dialplan.Diversion
}

// plans recycles Plans: a decision into a reused Plan allocates nothing.
var plans = sync.Pool{New: func() any { return new(dialplan.Plan) }}

// outboundTimeoutS bounds an outbound call's ring (the network usually gives up first).
const outboundTimeoutS = 180

// Run routes an inbound call: it decides the plan for call.User (dialplan.DecideInto), carries
// out each step with d, follows the step's outcome to the next, routes again for a
// forward to another user with the diversion history extended, until the call ends. It
// returns the trace and the outcome; an error when the first user cannot be loaded, ctx
// is cancelled, or the driver fails (the trace so far is returned with it).
//
// Run terminates: a plan's transitions only go forward, and every forward to a user adds
// a diversion, which the engine's loop guard bounds (dialplan.HopLimit).
func Run(ctx context.Context, call *Call, d Driver, dir Directory, opt *Options) (*Result, error) {
	r := &runner{d: d, dir: dir, opt: opt, res: &Result{}}
	r.res.History = slices.Clone(call.History)
	view := call.View
	if view == nil {
		v, err := dir.CallView(ctx, call.User)
		if err != nil {
			return r.res, fmt.Errorf("route call to %q: %w", call.User, err)
		}
		view = v
	}
	p := plans.Get().(*dialplan.Plan)
	defer plans.Put(p)
	uid := call.User
	if uid == "" && view.User != nil && view.User.Sheet != nil {
		uid = view.User.Sheet.ID
	}
	for {
		if view.User == nil || view.User.Sheet == nil {
			return r.res, fmt.Errorf("route call to %q: no sheet", uid)
		}
		in := dialplan.Input{
			User:   view.User,
			Call:   dialplan.Call{From: call.From, To: call.To, History: r.res.History},
			Device: view.Device,
			Active: view.ActiveCalls,
			Now:    opt.now(),
		}
		dialplan.DecideInto(&in, p)
		r.cur = view
		next, err := r.walk(ctx, uid, call, p)
		if err != nil || next == nil {
			return r.res, err
		}
		uid, view = next.uid, next.view
		if len(r.res.History) > dialplan.MaxHops+1 {
			// Unreachable while the engine keeps its loop guard; never loop on a bug.
			return r.res, fmt.Errorf("route call to %q: %d diversions", call.User, len(r.res.History))
		}
	}
}

type runner struct {
	d   Driver
	dir Directory
	opt *Options
	res *Result
	cur *config.CallView // the view of the user whose plan runs
}

// reroute is where a forward to a user goes.
type reroute struct {
	uid  string
	view *config.CallView
}

// walk carries out plan p of user uid from its first step; it returns the next user when
// a forward routes the call again, nil when the call has ended.
func (r *runner) walk(ctx context.Context, uid string, call *Call, p *dialplan.Plan) (*reroute, error) {
	i := 0
	for {
		st := &p.Steps[i]
		o, err := r.step(ctx, uid, call, st)
		if err != nil {
			return nil, err
		}
		if o.reroute != nil || o.done {
			return o.reroute, nil
		}
		n := st.Next[o.outcome]
		if n == dialplan.End {
			// Plans link every failure; end as the failure says if one ever does not.
			r.finish(outcomeOf(o.outcome), uid, st.Rule.String())
			return nil, r.hangup(ctx, causeOf(o.outcome))
		}
		i = int(n)
	}
}

type stepResult struct {
	outcome dialplan.Outcome
	done    bool // the call has ended (Result.Outcome is set)
	reroute *reroute
}

func (r *runner) trace(uid string, st *dialplan.Step, legs []dialplan.Leg, extra []Skipped) {
	ts := TraceStep{User: uid, Rule: st.Rule.String(), Action: st.Action.String()}
	switch st.Action {
	case dialplan.ActRing:
		for _, l := range legs {
			ts.Targets = append(ts.Targets, l.Target)
		}
		ts.TimeoutS = st.TimeoutS
	case dialplan.ActForward:
		ts.Targets = []string{st.Target}
		if len(st.Legs) > 0 {
			ts.TimeoutS = st.TimeoutS
		}
	case dialplan.ActVoicemail:
		ts.Targets = []string{"voicemail"}
	}
	for _, k := range st.Skips {
		ts.Skipped = append(ts.Skipped, Skipped{Rule: k.Rule.String(), Target: k.Target, Reason: k.Reason})
	}
	ts.Skipped = append(ts.Skipped, extra...)
	r.res.Trace = append(r.res.Trace, ts)
}

func (r *runner) finish(kind OutcomeKind, by, reason string) {
	r.res.Outcome = Outcome{Kind: kind, By: by, Reason: reason}
}

func (r *runner) hangup(ctx context.Context, c Cause) error {
	if err := r.d.Hangup(ctx, c); err != nil {
		return fmt.Errorf("hang up (%v): %w", c, err)
	}
	return nil
}

func (r *runner) step(ctx context.Context, uid string, call *Call, st *dialplan.Step) (stepResult, error) {
	rule := st.Rule.String()
	switch st.Action {
	case dialplan.ActRing:
		legs, skipped, err := r.resolve(ctx, st.Legs)
		if err != nil {
			return stepResult{}, err
		}
		r.trace(uid, st, legs, skipped)
		return r.ring(ctx, uid, st, legs, false)

	case dialplan.ActForward:
		r.trace(uid, st, nil, nil)
		if id, ok := config.UserTarget(st.Target); ok {
			r.res.History = append(r.res.History, st.Divert)
			v, err := r.dir.CallView(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return stepResult{}, fmt.Errorf("forward to %q: %w", id, ctx.Err())
				}
				// The target user is gone (or cannot be read): the plan's fallback.
				r.res.Trace[len(r.res.Trace)-1].Skipped = append(r.res.Trace[len(r.res.Trace)-1].Skipped,
					Skipped{Rule: rule, Target: st.Target, Reason: err.Error()})
				return stepResult{outcome: dialplan.Unreachable}, nil
			}
			return stepResult{reroute: &reroute{uid: id, view: v}}, nil
		}
		return r.ring(ctx, uid, st, st.Legs, true)

	case dialplan.ActVoicemail:
		r.trace(uid, st, nil, nil)
		err := r.d.Voicemail(ctx, &VoicemailRequest{Mailbox: st.Mailbox, Greeting: st.Greeting, Caller: call.From, Dialed: call.To})
		switch {
		case errors.Is(err, ErrVoicemailUnavailable):
			return stepResult{outcome: dialplan.Unreachable}, nil
		case err != nil && !errors.Is(err, ErrCallerHangup):
			return stepResult{}, fmt.Errorf("voicemail of %q: %w", st.Mailbox, err)
		}
		r.finish(OutcomeVoicemail, st.Mailbox, "")
		if err == nil {
			return stepResult{done: true}, r.hangup(ctx, CauseNormal)
		}
		return stepResult{done: true}, nil

	case dialplan.ActBusy, dialplan.ActUnavailable:
		r.trace(uid, st, nil, nil)
		pb := &Playback{User: uid, Kind: PlayBusy, Media: st.Media}
		kind, cause := OutcomeBusy, CauseBusy
		if st.Action == dialplan.ActUnavailable {
			pb.Kind, kind, cause = PlayUnavailable, OutcomeUnavailable, CauseUnreachable
		}
		err := r.d.Play(ctx, pb)
		if err != nil && !errors.Is(err, ErrCallerHangup) {
			return stepResult{}, fmt.Errorf("play %v: %w", pb.Kind, err)
		}
		r.finish(kind, uid, rule)
		if err == nil {
			return stepResult{done: true}, r.hangup(ctx, cause)
		}
		return stepResult{done: true}, nil

	case dialplan.ActMissed:
		r.trace(uid, st, nil, nil)
		r.finish(OutcomeMissed, uid, rule)
		return stepResult{done: true}, r.hangup(ctx, CauseNoAnswer)

	case dialplan.ActReject:
		r.trace(uid, st, nil, nil)
		r.finish(OutcomeUnavailable, uid, rule)
		return stepResult{done: true}, r.hangup(ctx, CauseRejected)
	}
	r.trace(uid, st, nil, nil)
	r.finish(OutcomeUnavailable, uid, rule)
	return stepResult{done: true}, r.hangup(ctx, CauseRejected)
}

// ring carries out a ring step (the user's own, or a forward to a number).
func (r *runner) ring(ctx context.Context, uid string, st *dialplan.Step, legs []dialplan.Leg, forward bool) (stepResult, error) {
	if len(legs) == 0 {
		return stepResult{outcome: dialplan.Unreachable}, nil
	}
	req := &Ring{
		User: uid, Rule: st.Rule, Forward: forward, Legs: legs,
		Timeout: r.opt.seconds(st.TimeoutS), TimeoutS: st.TimeoutS, Ringback: st.Ringback,
	}
	if r.cur != nil && r.cur.User != nil && r.cur.User.Sheet != nil {
		req.MusicOnHold = r.cur.User.Sheet.Audio.Hold
	}
	rctx, cancel := context.WithTimeout(ctx, req.Timeout)
	i, err := r.d.Ring(rctx, req)
	cancel()
	var le *LegError
	switch {
	case err == nil:
		if i < 0 || i >= len(legs) {
			return stepResult{}, fmt.Errorf("ring: driver answered leg %d of %d", i, len(legs))
		}
		r.finish(OutcomeAnswered, legs[i].Target, "")
		return stepResult{done: true}, nil
	case errors.Is(err, ErrCallerHangup):
		r.finish(OutcomeMissed, uid, "caller_hangup")
		return stepResult{done: true}, nil
	case errors.As(err, &le):
		return stepResult{outcome: Classify(legs, le.Causes)}, nil
	}
	return stepResult{}, fmt.Errorf("ring %d legs: %w", len(legs), err)
}

// resolve gives another user's device legs (simultaneous ring to "user:<id>") their
// endpoint, leaving out a user who cannot be loaded, has no device, whose device is
// offline or who is in do not disturb.
func (r *runner) resolve(ctx context.Context, legs []dialplan.Leg) ([]dialplan.Leg, []Skipped, error) {
	var out []dialplan.Leg
	var skipped []Skipped
	for _, l := range legs {
		if l.Kind != dialplan.LegUserDevice {
			out = append(out, l)
			continue
		}
		why := ""
		v, err := r.dir.CallView(ctx, l.User)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, nil, fmt.Errorf("ring %s: %w", l.Target, ctx.Err())
		case err != nil:
			why = err.Error()
		case v.User == nil || v.User.Sheet == nil || v.User.Sheet.Device == nil || v.User.Sheet.Device.Endpoint == "":
			why = "the user has no device"
		case v.Device == config.DeviceOffline:
			why = "the user's device is offline"
		case v.User.Sheet.DND:
			why = "the user is in do not disturb"
		default:
			l.Dial = v.User.Sheet.Device.Endpoint
			out = append(out, l)
			continue
		}
		skipped = append(skipped, Skipped{Rule: dialplan.RuleRing.String(), Target: l.Target, Reason: why})
	}
	return out, skipped, nil
}

func outcomeOf(o dialplan.Outcome) OutcomeKind {
	switch o {
	case dialplan.Busy:
		return OutcomeBusy
	case dialplan.Unreachable:
		return OutcomeUnavailable
	}
	return OutcomeMissed
}

func causeOf(o dialplan.Outcome) Cause {
	switch o {
	case dialplan.Busy:
		return CauseBusy
	case dialplan.Unreachable:
		return CauseUnreachable
	}
	return CauseNoAnswer
}
