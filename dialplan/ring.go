package dialplan

import (
	"github.com/sophia-pbx/sophia/config"
)

// ring is DESIGN §2.6, the last rule, which always applies: the device rings, with the
// simultaneous-ring targets in parallel, for the no-answer timeout while the caller hears
// the user's ringback; the first leg to answer wins. Nobody answering leads to §2.7's
// no-answer chain; the device answering busy (or declining) to the busy path (§2.5); the
// device turning out unreachable to the not-connected path (§2.4).
func ring(b *builder) bool {
	// Legs first, so that the skipped simultaneous targets attach to the ring step.
	mark := b.legMark()
	b.addLeg(b.deviceLeg(b.selfTarget, b.s.ID))
	if sr := &b.s.Forwards.SimultaneousRing; sr.Enabled {
		for _, t := range sr.Targets {
			b.simultaneousLeg(t, sr.Confirm, mark)
		}
	}
	i := b.step(RuleRing, ActRing)
	b.setLegs(i, mark)
	st := &b.p.Steps[i]
	st.TimeoutS = ringTimeout(b.s)
	st.Ringback = b.s.Audio.Ringback
	b.link(i, NoAnswer, noAnswerChain(b))
	b.link(i, Busy, busyChain(b))
	b.link(i, Unreachable, notConnectedChain(b))
	return true
}

// simultaneousLeg adds the leg for simultaneous-ring target t, or records why it is left
// out. Legs of the current step start at mark in the leg list.
func (b *builder) simultaneousLeg(t string, confirm bool, mark int) {
	const r = RuleRing
	uid, isUser := config.UserTarget(t)
	for _, l := range b.legList[mark:] {
		if l.Target == t || (isUser && l.User == uid) {
			b.skip(r, t, whyDuplicate)
			return
		}
	}
	switch {
	case t == "":
		b.skip(r, t, whyNoTarget)
		return
	case t == config.TargetVoicemail:
		b.skip(r, t, whyNotANumber)
		return
	}
	if isUser {
		switch id := uid; id {
		case "":
			b.skip(r, t, whyNoUser)
		case b.s.ID:
			b.skip(r, t, whySelf)
		default:
			l := b.deviceLeg(t, id)
			l.Kind, l.Dial = LegUserDevice, ""
			l.Redirect = Redirect{From: b.divertingParty(), User: b.s.ID, Reason: ReasonSimultaneous, Count: len(b.in.Call.History) + 1}
			b.addLeg(l)
		}
		return
	}
	if b.numberUsable(r, t) {
		b.addLeg(b.outsideLeg(t, ReasonSimultaneous, confirm))
	}
}

// deviceLeg is the leg to the user's own device, named target: the caller's number, the
// display asked for by incoming_display, and the last diversion when redirect_info is on.
func (b *builder) deviceLeg(target, user string) Leg {
	l := Leg{
		Kind:     LegDevice,
		Target:   target,
		User:     user,
		CallerID: b.in.Call.From,
		Display:  b.display(),
	}
	if d := b.s.Device; d != nil {
		l.Dial = d.Endpoint
	}
	if h := b.in.Call.History; b.s.Advanced.RedirectInfo && len(h) > 0 {
		last := &h[len(h)-1]
		l.Redirect = Redirect{From: Party{Number: last.Number, Name: last.Name}, User: last.User, Reason: last.Reason, Count: len(h)}
	}
	return l
}

// display is the calling name the user's phone shows, per advanced.incoming_display.
func (b *builder) display() string {
	switch b.s.Advanced.IncomingDisplay {
	case config.DisplayCalledNumber:
		if b.in.Call.To != "" {
			return b.in.Call.To
		}
		return b.s.MainNumber
	case config.DisplayContextName:
		if b.hit.Kind == HitAssociated && b.hit.Index >= 0 && b.hit.Index < len(b.s.AssociatedNumbers) {
			if l := b.s.AssociatedNumbers[b.hit.Index].Label; l != "" {
				return l
			}
		}
		return b.c.Site.Name
	}
	return b.in.Call.From.Name
}
