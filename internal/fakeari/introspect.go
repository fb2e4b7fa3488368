package fakeari

import (
	"fmt"
	"time"
)

// Action is one thing the adapter (or the far end) did, for assertions:
// Kind is one of create, originate, dial, answer, hangup (Detail: reason or
// "code N"), ring, ring_stop, moh (Detail: class), moh_stop, hold, hold_stop,
// silence, silence_stop, mute, mute_stop, dtmf (Detail: digits sent to the
// far end), dtmf_received (far end pressed), play (Detail: media, comma
// separated; PlaybackID), play_stop, variable (Detail: NAME=value),
// continue (Detail: context,exten,priority), bridge_create, bridge_destroy,
// bridge_enter, bridge_leave, bridge_moh, bridge_moh_stop, device_state
// (Detail: name=STATE), device_state_delete, mailbox, inbound, far_hangup.
type Action struct {
	At         time.Time
	ChannelID  string
	BridgeID   string
	PlaybackID string
	Kind       string
	Detail     string
}

func (a Action) String() string {
	s := a.Kind
	if a.ChannelID != "" {
		s += " ch=" + a.ChannelID
	}
	if a.BridgeID != "" {
		s += " br=" + a.BridgeID
	}
	if a.Detail != "" {
		s += " " + a.Detail
	}
	return s
}

// Actions lists every action so far, in order; with channel ids given, only
// those on these channels.
func (f *Fake) Actions(channelIDs ...string) []Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]bool{}
	for _, id := range channelIDs {
		want[id] = true
	}
	var out []Action
	for _, a := range f.actions {
		if len(want) == 0 || want[a.ChannelID] {
			out = append(out, a)
		}
	}
	return out
}

// ChannelInfo is a live channel as the fake sees it.
type ChannelInfo struct {
	ID, Name, State string
	Caller          Party
	Connected       Party
	Redirecting     Redirecting
	App             string // Stasis app, "" when not in Stasis
	Args            []string
	Bridge          string
	Vars            map[string]string
}

func (f *Fake) info(c *channel) ChannelInfo {
	vars := map[string]string{}
	for k, v := range c.vars {
		vars[k] = v
	}
	i := ChannelInfo{ID: c.id, Name: c.name, State: c.state, Caller: c.caller, Connected: c.connected,
		Redirecting: c.redirect, Vars: vars}
	if c.inStasis {
		i.App, i.Args = c.app, append([]string(nil), c.stasisArgs...)
	}
	if c.bridge != nil {
		i.Bridge = c.bridge.id
	}
	return i
}

// Channel returns a live channel, ok false once it is gone.
func (f *Fake) Channel(id string) (ChannelInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.channels[id]
	if c == nil {
		return ChannelInfo{}, false
	}
	return f.info(c), true
}

// Channels lists the live channels (both halves of Local pairs), oldest first.
func (f *Fake) Channels() []ChannelInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ChannelInfo, 0, len(f.chanOrder))
	for _, c := range f.chanOrder {
		out = append(out, f.info(c))
	}
	return out
}

// BridgeInfo is a live bridge.
type BridgeInfo struct {
	ID, Name, Type string
	Channels       []string
	MOH            string // class of the bridge's music on hold, "" when off
}

// Bridges lists the live bridges, oldest first.
func (f *Fake) Bridges() []BridgeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]BridgeInfo, 0, len(f.brOrder))
	for _, b := range f.brOrder {
		out = append(out, BridgeInfo{ID: b.id, Name: b.name, Type: b.typ,
			Channels: append([]string(nil), b.channels...), MOH: b.moh})
	}
	return out
}

// Leftovers describes every channel, bridge and playback still alive: a load
// test asserts it is empty once all calls ended.
func (f *Fake) Leftovers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.chanOrder {
		where := c.state
		if c.inStasis {
			where += " in Stasis(" + c.app + ")"
		}
		out = append(out, fmt.Sprintf("channel %s %s %s", c.id, c.name, where))
	}
	for _, b := range f.brOrder {
		out = append(out, fmt.Sprintf("bridge %s %q with %v", b.id, b.name, b.channels))
	}
	for _, id := range sortedKeys(f.playbacks) {
		p := f.playbacks[id]
		out = append(out, fmt.Sprintf("playback %s %s on %s", p.id, p.media[p.idx], p.target))
	}
	return out
}

// Missed counts the events dropped because their app had no WebSocket.
func (f *Fake) Missed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.missed
}
