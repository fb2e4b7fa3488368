package dialplan

// noAnswerChain is DESIGN §2.7: a ring nobody answered gets the no-answer forward, else
// voicemail with the no-answer greeting, else the call is missed.
func noAnswerChain(b *builder) int {
	f := &b.s.Forwards.NoAnswer
	return b.chain(RuleNoAnswer, f.Enabled, f.Target, ReasonNoAnswer, GreetingNoAnswer, ActMissed)
}
