package dialplan

// dnd is DESIGN §2.2: do not disturb takes the busy path (§2.5): the busy forward, else
// voicemail with the busy greeting, else the busy sound. A forward made here carries the
// diversion reason "dnd".
func dnd(b *builder) bool {
	if !b.s.DND {
		return false
	}
	f := &b.s.Forwards.Busy
	b.chain(RuleDND, f.Enabled, f.Target, ReasonDND, GreetingBusy, ActBusy)
	return true
}
