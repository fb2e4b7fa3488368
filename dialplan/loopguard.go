package dialplan

// loopGuard is DESIGN §2.1: a user who already forwarded this call, or a call that
// reached the hop limit, is forwarded no further. The device rings if it is reachable —
// connected (§2.4), and the user neither busy (§2.5) nor in do not disturb (§2.2): a loop
// must not ring a phone its user silenced — else the caller reaches voicemail, else the
// call is rejected; a ring nobody answers ends in voicemail or missed, never in a forward.
func loopGuard(b *builder) bool {
	hist := b.in.Call.History
	why := ""
	for i := range hist {
		if hist[i].User == b.s.ID {
			why = whyInHistory
			break
		}
	}
	if why == "" && len(hist) >= b.hops {
		why = whyHopLimit
	}
	if why == "" {
		return false
	}
	b.skip(RuleLoopGuard, "", why)
	const r = RuleLoopGuard
	switch {
	case !b.connected():
		b.fallback(r, GreetingUnavailable, ActReject)
	case b.s.DND || b.isBusy():
		b.fallback(r, GreetingBusy, ActReject)
	default:
		sr := &b.s.Forwards.SimultaneousRing
		if sr.Enabled {
			for _, t := range sr.Targets {
				b.skip(r, t, whyLoopGuardNoExtra)
			}
		}
		mark := b.legMark()
		b.addLeg(b.deviceLeg(b.selfTarget, b.s.ID))
		i := b.step(r, ActRing)
		b.setLegs(i, mark)
		b.p.Steps[i].TimeoutS = ringTimeout(b.s)
		b.p.Steps[i].Ringback = b.s.Audio.Ringback
		b.link(i, NoAnswer, b.fallback(r, GreetingNoAnswer, ActMissed))
		b.link(i, Busy, b.fallback(r, GreetingBusy, ActBusy))
		b.link(i, Unreachable, b.fallback(r, GreetingUnavailable, ActReject))
	}
	return true
}
