package dialplan

// notConnected is DESIGN §2.4: a user with no device, or whose device is reported offline
// (unregistered, unreachable), gets the not-connected forward, else voicemail with the
// unavailable greeting, else the unavailable announcement. A device whose state is
// unknown counts as connected: the dial result decides (ring's unreachable outcome).
func notConnected(b *builder) bool {
	if b.connected() {
		return false
	}
	notConnectedChain(b)
	return true
}

// notConnectedChain is the not-connected path, also taken when a ring finds the device
// unreachable (§2.7).
func notConnectedChain(b *builder) int {
	f := &b.s.Forwards.NotConnected
	return b.chain(RuleNotConnected, f.Enabled, f.Target, ReasonNotConnected, GreetingUnavailable, ActUnavailable)
}
