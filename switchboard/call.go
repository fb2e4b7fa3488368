package switchboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// Direction is where a call comes from, as the PBX's dialplan said (Stasis(sophia,inbound)).
type Direction string

// Directions.
const (
	Inbound  Direction = "inbound"  // to a user's number
	Outbound Direction = "outbound" // placed by a user's device
)

// Call is a call an adapter hands over, normalized.
type Call struct {
	ID        string         // the PBX's id of the caller's channel: unique, names the leases
	Direction Direction      // inbound or outbound
	From      dialplan.Party // the caller (Number "" withheld)
	// To is the number dialed: inbound, one of a user's numbers (as the PBX has it:
	// E.164, national, an extension); outbound, what the user dialed, prefixes included.
	To string
	// Endpoint is, outbound, the device the call comes from as the sheet stores it
	// ("PJSIP/alice"): it finds the user.
	Endpoint string
	// Arrived is when the call reached the adapter (the setup latency starts there);
	// zero means when Handle starts.
	Arrived time.Time

	b      *Board
	dialed sync.Once
}

// Dialed tells the board the first leg has been dialed: the call-setup latency is
// Arrived → now. Later calls do nothing. The driver calls it.
func (c *Call) Dialed() {
	c.dialed.Do(func() {
		if c.b != nil {
			c.b.m.setup.WithLabelValues(string(c.Direction)).Observe(c.b.o.Now().Sub(c.Arrived).Seconds())
		}
	})
}

// Driver is what an adapter implements per call: callflow's Driver plus the two things
// only a live call has.
type Driver interface {
	callflow.Driver
	// Continue gives the call back to the PBX's dialplan, where it goes on after the
	// Stasis / socket application (a number no user owns, policy continue; sophia unable
	// to read Redis). The adapter no longer handles the call afterwards.
	Continue(ctx context.Context) error
	// Talk is called once Ring answered: it returns when the conversation has ended
	// (either side hung up; the driver has hung up the other and freed the bridge), or
	// with ctx's error when ctx ends first.
	Talk(ctx context.Context) error
}

// Result is what became of a call.
type Result struct {
	User    string // whose call it was (the called user, or the caller outbound); "" for none
	Outcome callflow.Outcome
	Trace   []callflow.TraceStep
	History []dialplan.Diversion
	// Continued is true when the call was given back to the dialplan; Rejected when it
	// was refused for lack of a user.
	Continued, Rejected bool
	Err                 error // the driver or store failure that ended the call, if any
}

// Handle carries call c through: who it is for, leases, callflow, the conversation, then
// the call log and metrics. It returns when the call has ended for sophia (hung up, given
// back to the dialplan, or ctx ended). d is the adapter's driver for this call.
func (b *Board) Handle(ctx context.Context, c *Call, d Driver) *Result {
	c.b = b
	if c.Arrived.IsZero() {
		c.Arrived = b.o.Now()
	}
	c.From = caller(c.From)
	b.m.active.Inc()
	defer b.m.active.Dec()
	log := b.log.With("call_id", c.ID, "direction", string(c.Direction))

	var view *config.CallView
	var err error
	var uid string
	var dir callflow.Directory = b.st
	switch c.Direction {
	case Outbound:
		// The caller and, in the same round trip, whoever the dialed number reaches (a
		// colleague, or nobody: a call outside), guessed from the caller's cached sheet.
		var ov *config.OutboundView
		ov, err = b.st.OutboundView(ctx, c.Endpoint, func(caller *config.Compiled) string {
			return destination(caller, c.To)
		})
		if err == nil {
			view, uid = ov.Caller, ov.Caller.User.Sheet.ID
			if ov.Number != "" {
				dir = &lookahead{Store: b.st, ov: ov}
			}
		}
	default:
		c.Direction = Inbound
		view, err = b.st.CallViewByNumber(ctx, b.lookupNumber(c.To))
		if err == nil {
			uid = view.User.Sheet.ID
		}
	}
	res := &Result{User: uid}
	if err != nil {
		return b.unknown(ctx, c, d, res, err, log)
	}
	log = log.With("user", uid)
	b.follow(uid, view)

	o := &observer{Driver: d, b: b, call: c, involved: []string{uid}}
	if c.Direction == Outbound {
		o.talking = []string{uid} // the caller is busy on the phone from the moment it dials
		b.p.update(uid, func(s *userState) { s.inCall++ })
	}
	// The lease is taken after the decision's view was read (the engine counts the
	// calls in progress before this one), beside the call: the first ring does not wait
	// for it.
	b.hold(ctx, uid, c.ID)
	defer func() { b.releaseAll(context.WithoutCancel(ctx), c.ID, o.involved) }()

	var r *callflow.Result
	if c.Direction == Outbound {
		r, err = callflow.RunOutbound(ctx, &callflow.OutboundCall{User: uid, Dialed: c.To, View: view}, o, dir, b.cfo)
	} else {
		r, err = callflow.Run(ctx, &callflow.Call{User: uid, From: c.From, To: c.To, View: view}, o, b.st, b.cfo)
	}
	if r != nil {
		res.Outcome, res.Trace, res.History = r.Outcome, r.Trace, r.History
	}
	if err == nil && res.Outcome.Kind == callflow.OutcomeAnswered {
		err = d.Talk(ctx)
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("talk: %w", err)
		}
	}
	o.endCall()
	res.Err = err
	if err != nil {
		b.m.errors.WithLabelValues("route").Inc()
		if ctx.Err() == nil {
			log.Warn("call failed", "err", err)
			// Leave the caller no worse than the PBX would: end the call.
			_ = d.Hangup(context.WithoutCancel(ctx), callflow.CauseCongestion)
		}
	}
	b.finish(ctx, c, res, o, log)
	return res
}

// destination is the number a call caller places to dialed reaches, as the engine
// decides it (CLI prefix, short numbers, the site's region), or "" for a call it refuses.
// The engine is pure and the number parsing remembered: guessing costs microseconds, a
// round trip saved.
func destination(caller *config.Compiled, dialed string) string {
	p := dialplan.DecideOutbound(&dialplan.OutboundInput{User: caller, Dialed: dialed})
	if p.Refused != dialplan.RefusedNone {
		return ""
	}
	return p.Number
}

// lookahead is the store, with the view of the user an outbound call's number reaches
// already read in the caller's round trip (config.Store.OutboundView): callflow's
// lookup of that number is answered from it. A guess the fresh sheet contradicts (the
// caller's short numbers changed) goes to the store.
type lookahead struct {
	*config.Store
	ov *config.OutboundView
}

func (l *lookahead) CallViewByNumber(ctx context.Context, num string) (*config.CallView, error) {
	if num == l.ov.Number {
		return l.ov.Callee, l.ov.CalleeErr
	}
	return l.Store.CallViewByNumber(ctx, num)
}

// unknown handles a call no user is found for (or whose lookup failed).
func (b *Board) unknown(ctx context.Context, c *Call, d Driver, res *Result, lookupErr error, log interface {
	Warn(string, ...any)
	Info(string, ...any)
}) *Result {
	policy := b.o.Unknown
	if !errors.Is(lookupErr, config.ErrNotFound) {
		// Redis unreachable or broken: the PBX's own dialplan is the best fallback.
		b.m.errors.WithLabelValues("lookup").Inc()
		log.Warn("cannot find whose call it is: giving it back to the dialplan", "to", c.To, "endpoint", c.Endpoint, "err", lookupErr)
		policy = UnknownContinue
	}
	b.m.unknown.WithLabelValues(string(c.Direction), policy.String()).Inc()
	if policy == UnknownReject {
		res.Rejected = true
		res.Outcome = callflow.Outcome{Kind: callflow.OutcomeUnavailable, Reason: "unknown_number"}
		if err := d.Hangup(ctx, callflow.CauseRejected); err != nil {
			res.Err = err
		}
		return res
	}
	res.Continued = true
	if err := d.Continue(ctx); err != nil {
		res.Err = err
	}
	return res
}

// finish records the call's end: call log of every user involved, metrics.
func (b *Board) finish(ctx context.Context, c *Call, res *Result, o *observer, log interface{ Warn(string, ...any) }) {
	kind := outcomeLabel(res.Outcome.Kind)
	if res.Err != nil && res.Outcome.Kind == "" {
		kind = "aborted"
	}
	b.m.calls.WithLabelValues(string(c.Direction), kind).Inc()
	if res.Outcome.Kind == callflow.OutcomeMissed {
		b.m.missed.WithLabelValues(boundedReason(res.Outcome.Reason)).Inc()
	}
	for _, st := range res.Trace {
		if st.Action == "forward" {
			b.m.forwards.WithLabelValues(boundedReason(st.Rule)).Inc()
		}
	}
	if res.Outcome.Kind == "" {
		return // aborted before any outcome (shutdown, PBX lost): nothing to log
	}
	rec := &config.CallRecord{ID: c.ID, Direction: string(c.Direction), From: c.From.Number, FromName: c.From.Name,
		To: c.To, Start: c.Arrived, End: b.o.Now(), Outcome: string(res.Outcome.Kind), By: res.Outcome.By,
		Reason: res.Outcome.Reason}
	for _, h := range res.History {
		rec.Forwards = append(rec.Forwards, h.User+"/"+h.Reason.String())
	}
	users, dirs := o.logUsers(res)
	if err := b.st.RecordCall(context.WithoutCancel(ctx), rec, users, dirs); err != nil {
		b.m.errors.WithLabelValues("calllog").Inc()
		log.Warn("record call", "err", err)
	}
}

// observer wraps the adapter's driver: it sees each ring (presence: ringing; the answering
// user: in call, and a lease) on the way through.
type observer struct {
	Driver
	b        *Board
	call     *Call
	involved []string // users holding a lease for this call, the first is the call's user
	talking  []string // the users in the conversation (in call)
}

func (o *observer) Ring(ctx context.Context, r *callflow.Ring) (int, error) {
	var ringing []string
	for _, l := range r.Legs {
		if l.User != "" && !slices.Contains(ringing, l.User) {
			ringing = append(ringing, l.User)
		}
	}
	for _, u := range ringing {
		o.b.p.update(u, func(s *userState) { s.ringing++ })
	}
	i, err := o.Driver.Ring(ctx, r)
	o.call.Dialed() // in case the driver did not say (nothing dialed: no effect on the histogram's meaning)
	for _, u := range ringing {
		o.b.p.update(u, func(s *userState) { s.ringing-- })
	}
	if err == nil && i >= 0 && i < len(r.Legs) {
		if u := r.Legs[i].User; u != "" && !slices.Contains(o.talking, u) {
			o.talking = append(o.talking, u)
			o.b.p.update(u, func(s *userState) { s.inCall++ })
			if !slices.Contains(o.involved, u) {
				o.involved = append(o.involved, u)
				o.b.hold(ctx, u, o.call.ID)
			}
		}
	}
	return i, err
}

// endCall ends the conversation's presence.
func (o *observer) endCall() {
	for _, u := range o.talking {
		o.b.p.update(u, func(s *userState) { s.inCall-- })
	}
	o.talking = nil
}

// logUsers returns the users whose call log gets the record, and the direction each saw:
// the call's user (its direction), every user whose plan ran (forwards; the callee of a
// call between users) and whoever answered, inbound.
func (o *observer) logUsers(res *Result) ([]string, []string) {
	users := []string{res.User}
	dirs := []string{string(o.call.Direction)}
	add := func(u string) {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
			dirs = append(dirs, string(Inbound))
		}
	}
	for _, st := range res.Trace {
		add(st.User)
	}
	if id, ok := config.UserTarget(res.Outcome.By); ok {
		add(id)
	} else if !strings.HasPrefix(res.Outcome.By, "+") && res.Outcome.Kind != callflow.OutcomeAnswered {
		add(res.Outcome.By)
	}
	return users, dirs
}

// caller returns the calling party as the engine reads it: a number that says "no
// number" (what PBXs put in the caller ID of a withheld call: anonymous, restricted…, or
// FreeSWITCH's 0000000000) is withheld (""), and so is the name "anonymous" that goes
// with it. Both adapters hand the PBX's caller ID over as is; this is the one place
// that reads it.
func caller(p dialplan.Party) dialplan.Party {
	switch strings.ToLower(strings.TrimSpace(p.Number)) {
	case "", "anonymous", "unknown", "restricted", "private", "0000000000":
		p.Number = ""
	}
	if p.Number == "" && strings.EqualFold(strings.TrimSpace(p.Name), "anonymous") {
		p.Name = ""
	}
	return p
}
