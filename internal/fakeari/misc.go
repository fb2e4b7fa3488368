package fakeari

import (
	"sort"
	"strings"
)

// ---- device states (res_stasis_device_state)

var deviceStates = map[string]bool{"NOT_INUSE": true, "INUSE": true, "BUSY": true, "INVALID": true,
	"UNAVAILABLE": true, "RINGING": true, "RINGINUSE": true, "ONHOLD": true}

// deviceState is what GET /deviceStates/{name} shows.
func (f *Fake) deviceState(name string) string {
	if s, ok := f.devices[name]; ok {
		return s
	}
	switch {
	case strings.HasPrefix(name, "Stasis:"), strings.HasPrefix(name, "Custom:"):
		return "UNKNOWN"
	case strings.Contains(name, "/"):
		e := f.endpoints[name]
		switch {
		case e == nil:
			return "INVALID"
		case !e.online:
			return "UNAVAILABLE"
		case len(e.channels) > 0:
			return "INUSE"
		}
		return "NOT_INUSE"
	}
	return "INVALID"
}

func (f *Fake) listDeviceStates(q *req) {
	out := []obj{}
	for _, n := range f.devOrder {
		if strings.HasPrefix(n, "Stasis:") {
			out = append(out, obj{{"name", n}, {"state", f.devices[n]}})
		}
	}
	q.reply(200, out)
}

func (f *Fake) getDeviceState(q *req) {
	n := q.pathParam("name")
	q.reply(200, obj{{"name", n}, {"state", f.deviceState(n)}})
}

func (f *Fake) putDeviceState(q *req) {
	n := q.pathParam("name")
	if !strings.HasPrefix(n, "Stasis:") {
		q.fail(409, "Uncontrolled device specified")
		return
	}
	s := q.str("deviceState")
	if !deviceStates[s] {
		q.fail(500, "Unknown device")
		return
	}
	f.actions = append(f.actions, Action{At: f.sched.Now(), Kind: "device_state", Detail: n + "=" + s})
	f.setDevice(n, s)
	q.noContent()
}

// setDevice stores a device state, telling subscribers when it changed. f.mu held.
func (f *Fake) setDevice(name, state string) {
	old, known := f.devices[name]
	if !known {
		f.devOrder = append(f.devOrder, name)
	}
	f.devices[name] = state
	if old != state {
		f.deviceEvent(name, state)
	}
}

func (f *Fake) deleteDeviceState(q *req) {
	n := q.pathParam("name")
	if !strings.HasPrefix(n, "Stasis:") {
		q.fail(409, "Uncontrolled device specified")
		return
	}
	if _, ok := f.devices[n]; ok {
		delete(f.devices, n)
		for i, x := range f.devOrder {
			if x == n {
				f.devOrder = append(f.devOrder[:i], f.devOrder[i+1:]...)
				break
			}
		}
	}
	f.actions = append(f.actions, Action{At: f.sched.Now(), Kind: "device_state_delete", Detail: n})
	q.noContent()
}

// SetDeviceState changes a device state from outside ARI, like the CLI's
// `devstate change Custom:alice INUSE` (12): subscribed apps get
// DeviceStateChanged when it changed.
func (f *Fake) SetDeviceState(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setDevice(name, state)
}

// DeviceStates returns the stored device states (Stasis: set over ARI,
// others set with SetDeviceState).
func (f *Fake) DeviceStates() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.devices {
		out[k] = v
	}
	return out
}

// ---- endpoints

func (f *Fake) listEndpoints(q *req) {
	out := []obj{}
	for _, e := range f.sortedEndpoints() {
		out = append(out, e.json())
	}
	q.reply(200, out)
}

func (f *Fake) sortedEndpoints() []*endpoint {
	eps := append([]*endpoint(nil), f.epOrder...)
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].key() < eps[j].key() })
	return eps
}

func (f *Fake) listTechEndpoints(q *req) {
	tech := q.pathParam("tech")
	out := []obj{}
	for _, e := range f.sortedEndpoints() {
		if e.tech == tech {
			out = append(out, e.json())
		}
	}
	if tech != "PJSIP" && tech != "Local" && len(out) == 0 {
		q.fail(404, "No Endpoints found - invalid tech "+tech)
		return
	}
	q.reply(200, out)
}

func (f *Fake) getEndpoint(q *req) {
	e := f.endpoints[q.pathParam("tech")+"/"+q.pathParam("res")]
	if e == nil {
		q.fail(404, "Endpoint not found")
		return
	}
	q.reply(200, e.json())
}

// ---- applications

func (f *Fake) appJSON(a *app) obj {
	chans, bridges := []string{}, []string{}
	for _, c := range f.chanOrder {
		if c.subs[a.name] > 0 {
			chans = append(chans, c.id)
		}
	}
	for _, b := range f.brOrder {
		if b.subs[a.name] > 0 {
			bridges = append(bridges, b.id)
		}
	}
	return obj{{"name", a.name}, {"channel_ids", chans}, {"bridge_ids", bridges},
		{"endpoint_ids", append([]string{}, a.endpoints...)}, {"device_names", append([]string{}, a.devices...)},
		{"events_allowed", []string{}}, {"events_disallowed", []string{}}}
}

func (f *Fake) listApps(q *req) {
	out := []obj{}
	for _, a := range f.appOrder {
		out = append(out, f.appJSON(a))
	}
	q.reply(200, out)
}

func (f *Fake) getApp(q *req) {
	a := f.apps[q.pathParam("app")]
	if a == nil {
		q.fail(404, "Application not found")
		return
	}
	q.reply(200, f.appJSON(a))
}

func (f *Fake) subscribeApp(q *req)   { f.subscription(q, true) }
func (f *Fake) unsubscribeApp(q *req) { f.subscription(q, false) }

// subscription is POST/DELETE /applications/{app}/subscription.
func (f *Fake) subscription(q *req, on bool) {
	a := f.apps[q.pathParam("app")]
	if a == nil {
		q.fail(404, "Application not found")
		return
	}
	sources := q.list("eventSource")
	if len(sources) == 0 {
		q.fail(400, "Missing parameter eventSource")
		return
	}
	type change func()
	var changes []change
	for _, src := range sources {
		scheme, rest, _ := strings.Cut(src, ":")
		switch scheme {
		case "channel":
			c := f.channels[rest]
			if c == nil {
				q.fail(422, "Event source does not exist")
				return
			}
			if !on && c.subs[a.name] == 0 {
				q.fail(422, "Event source was not subscribed to")
				return
			}
			changes = append(changes, func() {
				if on {
					c.subs[a.name]++
				} else {
					c.subs[a.name]--
				}
			})
		case "bridge":
			b := f.bridges[rest]
			if b == nil {
				q.fail(422, "Event source does not exist")
				return
			}
			if !on && b.subs[a.name] == 0 {
				q.fail(422, "Event source was not subscribed to")
				return
			}
			changes = append(changes, func() {
				if on {
					b.subs[a.name]++
				} else {
					b.subs[a.name]--
				}
			})
		case "endpoint":
			if f.endpoints[rest] == nil {
				q.fail(422, "Event source does not exist")
				return
			}
			if !on && !a.hasEndpoint(rest) {
				q.fail(422, "Event source was not subscribed to")
				return
			}
			changes = append(changes, func() {
				if on {
					if !a.hasEndpoint(rest) {
						a.endpoints = append(a.endpoints, rest)
					}
				} else {
					a.endpoints = remove(a.endpoints, rest)
				}
			})
		case "deviceState":
			if !on && !a.hasDevice(rest) {
				q.fail(422, "Event source was not subscribed to")
				return
			}
			changes = append(changes, func() {
				if on {
					if !a.hasDevice(rest) {
						a.devices = append(a.devices, rest)
					}
				} else {
					a.devices = remove(a.devices, rest)
				}
			})
		default:
			q.fail(400, "Invalid event source URI scheme")
			return
		}
	}
	for _, ch := range changes {
		ch()
	}
	q.reply(200, f.appJSON(a))
}

func remove(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// SubscribedEndpoints returns the endpoints app is subscribed to (PJSIP/alice…), in
// the order of their subscription.
func (f *Fake) SubscribedEndpoints(appName string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.app(appName).endpoints...)
}

// SubscribeDevice subscribes app to a device state, as an earlier run's
// subscription left in place would be (12 starts with Custom:nobody).
func (f *Fake) SubscribeDevice(appName, device string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.app(appName)
	if !a.hasDevice(device) {
		a.devices = append(a.devices, device)
	}
}

// ---- mailboxes (res_stasis_mailbox)

type mailbox struct {
	name          string
	old, newCount int
}

func (f *Fake) listMailboxes(q *req) {
	out := []obj{}
	for _, n := range sortedKeys(f.mailboxes) {
		m := f.mailboxes[n]
		out = append(out, obj{{"name", m.name}, {"old_messages", m.old}, {"new_messages", m.newCount}})
	}
	q.reply(200, out)
}

func (f *Fake) getMailbox(q *req) {
	m := f.mailboxes[q.pathParam("name")]
	if m == nil {
		q.fail(404, "Mailbox is does not exist")
		return
	}
	q.reply(200, obj{{"name", m.name}, {"old_messages", m.old}, {"new_messages", m.newCount}})
}

// putMailbox: numbers come from the query or as JSON integers; a JSON string
// counts as 0, as in Asterisk (so ari/v6's Mailbox.Update, which sends
// strings, stores 0/0 on a real Asterisk too).
func (f *Fake) putMailbox(q *req) {
	n := q.pathParam("name")
	m := f.mailboxes[n]
	if m == nil {
		m = &mailbox{name: n}
		f.mailboxes[n] = m
	}
	m.old, m.newCount = q.int("oldMessages"), q.int("newMessages")
	f.actions = append(f.actions, Action{At: f.sched.Now(), Kind: "mailbox", Detail: n})
	q.noContent()
}

func (f *Fake) deleteMailbox(q *req) {
	n := q.pathParam("name")
	if f.mailboxes[n] == nil {
		q.fail(404, "Mailbox does not exist")
		return
	}
	delete(f.mailboxes, n)
	q.noContent()
}

// LoseReply makes the next n requests of method and path (relative to /ari:
// "channels/create") be carried out, then their connection closed without a reply, as
// when the link to Asterisk breaks mid-request.
func (f *Fake) LoseReply(method, path string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseReplies == nil {
		f.loseReplies = map[string]int{}
	}
	f.loseReplies[method+" "+path] += n
}
