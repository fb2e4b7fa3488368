package dialplan

// unconditional is DESIGN §2.3's first half: an unconditional forward that is on, and
// whose target may still be used, forwards every call. One that may not is skipped as if
// unset (the skip says why) and the next rules decide.
func unconditional(b *builder) bool {
	f := &b.s.Forwards.Unconditional
	if !f.Enabled || !b.usable(RuleUnconditional, f.Target) {
		return false
	}
	b.forward(RuleUnconditional, f.Target, ReasonUnconditional, GreetingUnavailable, ActUnavailable)
	return true
}
