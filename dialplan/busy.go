package dialplan

// busy is DESIGN §2.5: a user with as many calls as max_simultaneous_calls, or with any
// call while call waiting is off, gets the busy forward, else voicemail with the busy
// greeting, else the busy sound.
func busy(b *builder) bool {
	if !b.isBusy() {
		return false
	}
	busyChain(b)
	return true
}

// busyChain is the busy path, also taken when the device answers busy or declines (§2.7).
func busyChain(b *builder) int {
	f := &b.s.Forwards.Busy
	return b.chain(RuleBusy, f.Enabled, f.Target, ReasonBusy, GreetingBusy, ActBusy)
}
