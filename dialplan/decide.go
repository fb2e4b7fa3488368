package dialplan

import (
	"github.com/sophia-pbx/sophia/config"
)

// rule is one DESIGN §2 rule: try builds the plan and returns true when the rule applies,
// or returns false, leaving the plan untouched except for skips, to pass to the next.
type rule struct {
	name Rule
	try  func(b *builder) bool
}

// inbound holds DESIGN §2's inbound rules in their order; the first that applies
// decides. ring always applies, so it is last; no-answer (§2.7) is what follows a ring.
var inbound = [...]rule{
	{RuleLoopGuard, loopGuard},
	{RuleDND, dnd},
	{RuleUnconditional, unconditional},
	{RuleScheduled, scheduled},
	{RuleNotConnected, notConnected},
	{RuleBusy, busy},
	{RuleRing, ring},
}

// Decide returns the plan for an inbound call: pure, the same Input gives the same Plan.
// It allocates the Plan and its storage (about 5 KB); the call path decides into reused
// Plans instead (DecideInto allocates nothing), as callflow does.
func Decide(in *Input) *Plan {
	// One allocation for the Plan and its storage.
	x := new(struct {
		p Plan
		b planBuf
	})
	x.p.buf = &x.b
	DecideInto(in, &x.p)
	return &x.p
}

// DecideInto is Decide building into p, which it resets first: a caller routing many
// calls, or one call through several users, reuses one Plan.
func DecideInto(in *Input, p *Plan) {
	if in.User == nil || in.User.Sheet == nil || in.User.Site == nil {
		// No sheet to route by: never panic on the call path, refuse the call.
		p.reset("")
		b := &p.buf.b
		*b = builder{in: in, p: p}
		b.step(RuleNone, ActUnavailable)
		p.buf.done(1, 0, 0)
		*b = builder{}
		return
	}
	p.reset(in.User.Sheet.ID)
	b := &p.buf.b
	self := b.selfTarget
	if len(self) != len(config.TargetUserPrefix)+len(in.User.Sheet.ID) || self[len(config.TargetUserPrefix):] != in.User.Sheet.ID {
		self = config.TargetUserPrefix + in.User.Sheet.ID
	}
	*b = builder{in: in, p: p, c: in.User, s: in.User.Sheet, hops: HopLimit(in.User.Site), selfTarget: self}
	b.hit = in.Call.Hit
	if b.hit.Kind == HitUnknown {
		b.hit = MatchNumber(b.c, in.Call.To)
	}
	for i := range inbound {
		if inbound[i].try(b) {
			break
		}
	}
	p.buf.done(len(p.Steps), len(b.legList), len(b.skipList))
	*b = builder{selfTarget: self} // drop references to the input
}

// builder holds what the rules share while one plan is built.
type builder struct {
	in   *Input
	p    *Plan
	c    *config.Compiled
	s    *config.Sheet
	hit  Hit
	hops int
	// selfTarget is "user:<id>" of the user, kept across decisions into the same Plan
	// for the same user so that building it costs no allocation.
	selfTarget string
	// skipMark is where the skips not yet attached to a step start in p's skip list.
	skipMark int
	skipList []Skip
	legList  []Leg
}

// step appends a step with every outcome ending the call, attaches the skips recorded
// since the last step, and returns its index.
func (b *builder) step(r Rule, a Action) int {
	p := b.p
	i := len(p.Steps)
	p.Steps = append(p.Steps, Step{Rule: r, Action: a})
	s := &p.Steps[i]
	for o := range s.Next {
		s.Next[o] = End
	}
	if b.skipList == nil {
		b.skipList = p.buf.skips[:0]
	}
	if len(b.skipList) > b.skipMark {
		s.Skips = b.skipList[b.skipMark:len(b.skipList):len(b.skipList)]
		b.skipMark = len(b.skipList)
	}
	return i
}

// skip records that target was left out by rule r, and why.
func (b *builder) skip(r Rule, target, reason string) {
	if b.skipList == nil {
		b.skipList = b.p.buf.skips[:0]
	}
	b.skipList = append(b.skipList, Skip{Rule: r, Target: target, Reason: reason})
}

// setLegs gives step i the legs appended to the leg list since mark.
func (b *builder) setLegs(i, mark int) {
	if len(b.legList) > mark {
		b.p.Steps[i].Legs = b.legList[mark:len(b.legList):len(b.legList)]
	}
}

func (b *builder) addLeg(l Leg) {
	if b.legList == nil {
		b.legList = b.p.buf.legs[:0]
	}
	b.legList = append(b.legList, l)
}

func (b *builder) legMark() int {
	if b.legList == nil {
		b.legList = b.p.buf.legs[:0]
	}
	return len(b.legList)
}

// link sets step from's successor for outcome o.
func (b *builder) link(from int, o Outcome, to int) { b.p.Steps[from].Next[o] = int8(to) }

// Why a target is left out (Skip.Reason), besides the outside-call policy's own words.
const (
	whyNoTarget         = "no target set"
	whySelf             = "the target is the user itself"
	whyOwnMainNumber    = "the target is the user's own main number"
	whyVoicemailOff     = "voicemail is disabled"
	whyNoUser           = "no user named"
	whyNotANumber       = "voicemail cannot ring with the device"
	whyDuplicate        = "already rung by another leg"
	whyLoopGuardNoExtra = "the loop guard rings the device only"
	whyBadSchedule      = "invalid schedule (start, end, dates or days)"
	whyInHistory        = "the user already forwarded this call"
	whyHopLimit         = "the call reached the forward hop limit"
)

// usable reports whether target may be used as a forward of rule r now; when it may not,
// it records why, and the forward is skipped as if unset.
func (b *builder) usable(r Rule, target string) bool {
	switch {
	case target == "":
		b.skip(r, target, whyNoTarget)
		return false
	case target == config.TargetVoicemail:
		if !b.s.Voicemail.Enabled {
			b.skip(r, target, whyVoicemailOff)
			return false
		}
		return true
	}
	if id, ok := config.UserTarget(target); ok {
		switch id {
		case "":
			b.skip(r, target, whyNoUser)
			return false
		case b.s.ID:
			b.skip(r, target, whySelf)
			return false
		}
		return true
	}
	return b.numberUsable(r, target)
}

// numberUsable checks a number target: not the user's own main number (which would ring
// the user again through the network), and allowed by the site's outside-call policy.
func (b *builder) numberUsable(r Rule, num string) bool {
	if num == b.s.MainNumber {
		b.skip(r, num, whyOwnMainNumber)
		return false
	}
	if ok, why := b.c.Site.OutsideCalls.Allows(num, b.c.Class(num)); !ok {
		b.skip(r, num, why)
		return false
	}
	return true
}

// chain builds DESIGN §2's "forward target, else voicemail, else final" for rule r: the
// forward if enabled and usable, else the user's voicemail with greeting if enabled, else
// the terminal action final. It returns the chain's first step.
func (b *builder) chain(r Rule, enabled bool, target string, why Reason, g Greeting, final Action) int {
	if enabled && b.usable(r, target) {
		return b.forward(r, target, why, g, final)
	}
	return b.fallback(r, g, final)
}

// fallback builds "voicemail, else final" for rule r.
func (b *builder) fallback(r Rule, g Greeting, final Action) int {
	if !b.s.Voicemail.Enabled {
		return b.terminal(r, final)
	}
	vm := b.voicemail(r, g)
	b.link(vm, Unreachable, b.terminal(r, final))
	return vm
}

// voicemail adds a step sending the caller to the user's own mailbox.
func (b *builder) voicemail(r Rule, g Greeting) int {
	i := b.step(r, ActVoicemail)
	b.p.Steps[i].Mailbox = b.s.ID
	b.p.Steps[i].Greeting = g
	return i
}

// terminal adds a step that ends the call.
func (b *builder) terminal(r Rule, a Action) int {
	i := b.step(r, a)
	if a == ActBusy {
		b.p.Steps[i].Media = b.s.Audio.Busy
	}
	return i
}

// forward adds a forward of rule r to a usable target. To "voicemail" it is the user's
// voicemail, falling back to final when there is none; to a user, a re-route that ends
// with the unavailable announcement if that user cannot be loaded; to a number, a ring of
// one outside leg whose failures end the call (package doc).
func (b *builder) forward(r Rule, target string, why Reason, g Greeting, final Action) int {
	if target == config.TargetVoicemail {
		vm := b.voicemail(r, g)
		b.link(vm, Unreachable, b.terminal(r, final))
		return vm
	}
	i := b.step(r, ActForward)
	st := &b.p.Steps[i]
	st.Target = target
	from := b.divertingParty()
	st.Divert = Diversion{User: b.s.ID, Number: from.Number, Name: from.Name, Reason: why}
	if _, ok := config.UserTarget(target); ok {
		b.link(i, Unreachable, b.terminal(r, ActUnavailable))
		return i
	}
	mark := b.legMark()
	b.addLeg(b.outsideLeg(target, why, false))
	b.setLegs(i, mark)
	st = &b.p.Steps[i]
	st.TimeoutS = ForwardTimeoutS
	st.Ringback = b.s.Audio.Ringback
	b.link(i, Busy, b.terminal(r, ActBusy))
	b.link(i, NoAnswer, b.terminal(r, ActMissed))
	b.link(i, Unreachable, b.terminal(r, ActUnavailable))
	return i
}

// divertingParty is the user as a diverting party: the number of theirs the call reached
// (else their main number) and their name.
func (b *builder) divertingParty() Party {
	num := b.s.MainNumber
	if b.hit.Kind == HitAssociated && b.hit.Index >= 0 && b.hit.Index < len(b.s.AssociatedNumbers) {
		num = b.s.AssociatedNumbers[b.hit.Index].Number
	}
	return Party{Number: num, Name: b.s.Name}
}

// outsideLeg builds a leg to an outside number rung on the user's behalf (package doc):
// the original caller's identity, else the user's own presented one, with diversion
// information always.
func (b *builder) outsideLeg(num string, why Reason, confirm bool) Leg {
	cid, asserted := b.in.Call.From, ""
	switch {
	case cid.Number == "":
		cid = Party{}
	case config.IsExtension(cid.Number):
		// An internal caller's extension means nothing outside: present the user's
		// number, keeping the caller's name.
		cid.Number = ""
	}
	if cid.Number == "" {
		if pn, hidden := defaultPresented(b.c); !hidden {
			cid.Number = pn
		} else {
			asserted, _ = defaultPresentedNumber(b.c)
		}
	}
	return Leg{
		Kind:     LegNumber,
		Target:   num,
		Dial:     num,
		CallerID: cid,
		Display:  cid.Name,
		Asserted: asserted,
		Redirect: Redirect{From: b.divertingParty(), User: b.s.ID, Reason: why, Count: len(b.in.Call.History) + 1},
		Confirm:  confirm,
	}
}

// isBusy is DESIGN §2.5's test: active calls at the maximum, or any call with call
// waiting off.
func (b *builder) isBusy() bool {
	limit := b.s.Advanced.MaxSimultaneousCalls
	if limit <= 0 {
		limit = config.DefaultMaxSimultaneousCalls
	}
	return b.in.Active >= limit || (b.in.Active >= 1 && !b.s.Advanced.CallWaiting)
}

// connected reports whether the user has a device that may be rung (DESIGN §2.4): one is
// set, with an endpoint, and not reported offline.
func (b *builder) connected() bool {
	d := b.s.Device
	return d != nil && d.Endpoint != "" && b.in.Device != config.DeviceOffline
}
