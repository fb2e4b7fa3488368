package fakeari

import (
	"fmt"
	"strings"
	"time"
)

func (f *Fake) listBridges(q *req) {
	out := make([]obj, 0, len(f.brOrder))
	for _, b := range f.brOrder {
		out = append(out, b.snapshot())
	}
	q.reply(200, out)
}

func (f *Fake) getBridge(q *req) {
	b := f.bridges[q.pathParam("id")]
	if b == nil {
		q.fail(404, "Bridge not found")
		return
	}
	q.reply(200, b.snapshot())
}

func (f *Fake) createBridge(q *req) {
	id := q.pathParam("id")
	if id == "" {
		id = q.str("bridgeId")
	}
	typ, tech := "mixing", "simple_bridge"
	for _, t := range strings.Split(q.str("type"), ",") {
		switch strings.TrimSpace(t) {
		case "", "mixing", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label":
		case "holding":
			typ, tech = "holding", "holding_bridge"
		default:
			shown := id
			if shown == "" {
				shown = "(null)"
			}
			q.fail(500, "Unable to create bridge. Possible duplicate bridge id '"+shown+"'")
			return
		}
	}
	if b := f.bridges[id]; id != "" && b != nil {
		q.reply(200, b.snapshot())
		return
	}
	if id == "" {
		id = f.uuid()
	}
	b := &bridge{id: id, name: q.str("name"), typ: typ, tech: tech, created: f.sched.Now(), subs: map[string]int{}}
	f.bridges[id] = b
	f.brOrder = append(f.brOrder, b)
	f.actions = append(f.actions, Action{At: f.sched.Now(), BridgeID: id, Kind: "bridge_create", Detail: typ})
	q.reply(200, b.snapshot())
}

func (f *Fake) destroyBridge(q *req) {
	b := f.bridges[q.pathParam("id")]
	if b == nil {
		q.fail(404, "Bridge not found")
		return
	}
	for _, p := range append([]*playback(nil), b.playbacks...) {
		f.endPlayback(p)
	}
	for _, id := range append([]string(nil), b.channels...) {
		if c := f.channels[id]; c != nil {
			f.leaveBridge(c)
		}
	}
	delete(f.bridges, b.id)
	for i, x := range f.brOrder {
		if x == b {
			f.brOrder = append(f.brOrder[:i], f.brOrder[i+1:]...)
			break
		}
	}
	f.actions = append(f.actions, Action{At: f.sched.Now(), BridgeID: b.id, Kind: "bridge_destroy"})
	f.bridgeEvent(b, nil, "BridgeDestroyed")
	q.noContent()
}

// bridgeRequest returns the bridge of /bridges/{id}/… and its ?channel= list, as
// Asterisk checks them (400 without a channel, 404 for an unknown bridge); nil when it
// answered the request with a failure.
func (f *Fake) bridgeRequest(q *req) (*bridge, []string) {
	ids := q.list("channel")
	if len(ids) == 0 {
		q.fail(400, "Missing parameter channel")
		return nil, nil
	}
	b := f.bridges[q.pathParam("id")]
	if b == nil {
		q.fail(404, "Bridge not found")
		return nil, nil
	}
	return b, ids
}

func (f *Fake) addChannel(q *req) {
	b, ids := f.bridgeRequest(q)
	if b == nil {
		return
	}
	var chans []*channel
	for _, id := range ids {
		c := f.channels[id]
		if c == nil {
			q.fail(400, "Channel not found")
			return
		}
		if !c.inStasis {
			q.fail(422, "Channel not in Stasis application")
			return
		}
		chans = append(chans, c)
	}
	for _, c := range chans {
		if c.bridge == b {
			continue
		}
		if c.bridge != nil {
			f.leaveBridge(c)
		}
		b.channels = append(b.channels, c.id)
		c.bridge = b
		for _, a := range f.appOrder {
			if f.chanSubs(a, c) > 0 && b.subs[a.name] == 0 {
				b.subs[a.name] = 1
			}
		}
		f.actions = append(f.actions, Action{At: f.sched.Now(), ChannelID: c.id, BridgeID: b.id, Kind: "bridge_enter"})
		f.bridgeEvent(b, c, "ChannelEnteredBridge")
	}
	f.bridgePeers(b)
	q.noContent()
}

// bridgePeers sets BRIDGEPEER on every member (the others' names) and, in a
// two-party bridge, each side's connected line to the other's caller ID (17).
func (f *Fake) bridgePeers(b *bridge) {
	var members []*channel
	for _, id := range b.channels {
		if c := f.channels[id]; c != nil {
			members = append(members, c)
		}
	}
	parties := len(members)
	if b.announcer != "" {
		parties++
	}
	if parties < 2 {
		return
	}
	for _, c := range members {
		var others []string
		for _, o := range members {
			if o != c {
				others = append(others, o.name)
			}
		}
		if b.announcer != "" {
			others = append(others, b.announcer)
		}
		v := strings.Join(others, ",")
		if c.vars["BRIDGEPEER"] != v {
			c.vars["BRIDGEPEER"] = v
			f.chanEvent(c, obj{{"variable", "BRIDGEPEER"}, {"value", v}}, "ChannelVarset", nil)
		}
	}
	if parties == 2 {
		for i, c := range members {
			var peer Party // the announcer has no caller ID
			if len(members) == 2 {
				peer = members[1-i].caller
			}
			if c.connected != peer {
				c.connected = peer
				f.chanEvent(c, nil, "ChannelConnectedLine", nil)
			}
		}
	}
}

// leaveBridge takes c out of its bridge: BRIDGEPEER cleared, ChannelLeftBridge.
func (f *Fake) leaveBridge(c *channel) {
	b := c.bridge
	if b == nil {
		return
	}
	if c.vars["BRIDGEPEER"] != "" {
		c.vars["BRIDGEPEER"] = ""
		f.chanEvent(c, obj{{"variable", "BRIDGEPEER"}, {"value", ""}}, "ChannelVarset", nil)
	}
	for i, id := range b.channels {
		if id == c.id {
			b.channels = append(b.channels[:i], b.channels[i+1:]...)
			break
		}
	}
	c.bridge = nil
	f.actions = append(f.actions, Action{At: f.sched.Now(), ChannelID: c.id, BridgeID: b.id, Kind: "bridge_leave"})
	f.bridgeEvent(b, c, "ChannelLeftBridge")
}

func (f *Fake) removeChannel(q *req) {
	b, ids := f.bridgeRequest(q)
	if b == nil {
		return
	}
	var chans []*channel
	for _, id := range ids {
		c := f.channels[id]
		if c == nil {
			q.fail(400, "Channel not found")
			return
		}
		if c.bridge != b {
			q.fail(422, "Channel not in this bridge")
			return
		}
		chans = append(chans, c)
	}
	for _, c := range chans {
		f.leaveBridge(c)
	}
	q.noContent()
}

func (f *Fake) bridgeMOH(start bool) func(*req) {
	return func(q *req) {
		b := f.bridges[q.pathParam("id")]
		if b == nil {
			q.fail(404, "Bridge not found")
			return
		}
		kind, detail := "bridge_moh", q.str("mohClass")
		if !start {
			kind, detail = "bridge_moh_stop", ""
		}
		if start && b.announcer == "" {
			// Asterisk plays bridge MOH through an Announcer channel it puts in
			// the bridge (18): members see it as BRIDGEPEER and connected line.
			b.announcer = fmt.Sprintf("Announcer/ARI_MOH-%08x;2", f.localSeq)
			f.localSeq++
			f.counter += 2
			f.bridgePeers(b)
		} else if !start {
			// It leaves without any event; BRIDGEPEER stays as it was (18).
			b.announcer = ""
		}
		b.moh = detail
		f.actions = append(f.actions, Action{At: f.sched.Now(), BridgeID: b.id, Kind: kind, Detail: detail})
		q.noContent()
	}
}

// ---- playbacks

func (f *Fake) mediaLength(uri string) time.Duration {
	if d, ok := f.opts.PlaybackDurations[uri]; ok {
		return d
	}
	switch {
	case strings.HasPrefix(uri, "tone:"):
		return -1 // until stopped
	case uri == "sound:beep":
		return 250 * time.Millisecond
	case uri == "sound:hello-world":
		return 1030 * time.Millisecond
	case uri == "sound:please-hold":
		return 2980 * time.Millisecond
	}
	return f.opts.DefaultPlayback
}

func (f *Fake) playChannel(q *req) {
	c := f.findControl(q)
	if c == nil || stateInvalid(q, c) {
		return
	}
	f.play(q, c, nil, "channel:"+c.id)
}

func (f *Fake) playBridge(q *req) {
	b := f.bridges[q.pathParam("id")]
	if b == nil {
		q.fail(404, "Bridge not found")
		return
	}
	f.play(q, nil, b, "bridge:"+b.id)
}

func (f *Fake) play(q *req, c *channel, b *bridge, target string) {
	media := q.list("media")
	if len(media) == 0 {
		q.fail(400, "Missing parameter media")
		return
	}
	id := q.pathParam("pid")
	given := id != ""
	if id == "" {
		id = q.str("playbackId")
	}
	if id == "" {
		id = f.uuid()
	}
	if f.playbacks[id] != nil {
		q.fail(409, "Playback with this id already exists")
		return
	}
	lang := q.str("lang")
	if lang == "" {
		lang = "en"
		if c != nil {
			lang = c.language
		}
	}
	p := &playback{id: id, media: media, target: target, language: lang, state: "queued", ch: c, br: b}
	f.playbacks[id] = p
	var queue *[]*playback
	if c != nil {
		queue = &c.playbacks
	} else {
		queue = &b.playbacks
	}
	*queue = append(*queue, p)
	f.actions = append(f.actions, Action{At: f.sched.Now(), ChannelID: chanID(c), BridgeID: bridgeID(b),
		Kind: "play", Detail: strings.Join(media, ","), PlaybackID: id})
	snap := p.json()
	if len(*queue) == 1 {
		f.startMedia(p)
	}
	if given {
		// With its id in the path, the traced 201 already said "playing".
		snap = p.json()
	}
	q.header.Set("Location", "/ari/playbacks/"+id)
	q.reply(201, snap)
}

func chanID(c *channel) string {
	if c == nil {
		return ""
	}
	return c.id
}

func bridgeID(b *bridge) string {
	if b == nil {
		return ""
	}
	return b.id
}

// startMedia plays p's current media: PlaybackStarted, then at its end
// PlaybackContinuing + the next, or PlaybackFinished. f.mu held.
func (f *Fake) startMedia(p *playback) {
	p.state = "playing"
	f.playbackEvent(p, "PlaybackStarted")
	d := f.mediaLength(p.media[p.idx])
	if d < 0 {
		return
	}
	p.timer = f.afterLocked(d, func() {
		if p.state == "done" {
			return
		}
		if p.idx+1 < len(p.media) {
			p.state = "continuing"
			f.playbackEvent(p, "PlaybackContinuing")
			p.idx++
			f.startMedia(p)
			return
		}
		f.endPlayback(p)
	})
}

// endPlayback finishes p (state done, as traced even when stopped) and
// starts the next queued playback of its target. f.mu held.
func (f *Fake) endPlayback(p *playback) {
	if p.state == "done" {
		return
	}
	f.sched.cancel(p.timer)
	wasPlaying := p.state != "queued"
	p.state = "done"
	f.playbackEvent(p, "PlaybackFinished")
	delete(f.playbacks, p.id)
	var queue *[]*playback
	if p.ch != nil {
		queue = &p.ch.playbacks
	} else {
		queue = &p.br.playbacks
	}
	for i, x := range *queue {
		if x == p {
			*queue = append((*queue)[:i], (*queue)[i+1:]...)
			break
		}
	}
	if wasPlaying && len(*queue) > 0 && (*queue)[0].state == "queued" {
		f.startMedia((*queue)[0])
	}
}

func (f *Fake) getPlayback(q *req) {
	p := f.playbacks[q.pathParam("id")]
	if p == nil {
		q.fail(404, "Playback not found")
		return
	}
	q.reply(200, p.json())
}

func (f *Fake) stopPlayback(q *req) {
	p := f.playbacks[q.pathParam("id")]
	if p == nil {
		q.fail(404, "Playback not found")
		return
	}
	f.actions = append(f.actions, Action{At: f.sched.Now(), ChannelID: chanID(p.ch), BridgeID: bridgeID(p.br),
		Kind: "play_stop", PlaybackID: p.id})
	f.endPlayback(p)
	q.noContent()
}
