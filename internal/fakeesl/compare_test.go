package fakeesl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// What the trace replay compares, and what it normalizes away (and why).
//
// Compared exactly, per connection:
//   - every non-event frame in order: header names in order, header values and body
//     (command/reply texts, api/response bodies, disconnect notices, the connect reply's
//     key headers and the order of its last four headers);
//   - the events, grouped by channel (in the order each channel first appears) and in
//     order within a channel: Event-Name (and Event-Subclass) and the headers and
//     variables listed below, wherever either side has them; channel-less events
//     (BACKGROUND_JOB, PRESENCE_IN from sendevent, CUSTOM, API…) form one group;
//   - whether FreeSWITCH closed the socket (and by which step).
//
// uuids: a channel's uuid is replaced by its Channel-Name and the rank of that channel
// among those of the same name (loopback/answer-a#2); a uuid the client chose (it appears
// in what we sent: origination_uuid, Event-UUID, Job-UUID) stays literal; any other uuid
// (generated Job-UUID, Application-UUID, Core-UUID) becomes <uuid>.

// ignoredEvents are events the fake does not produce, with the reason. Everything else a
// socket received is compared.
var ignoredEvents = map[string]string{
	// Media: codec negotiation of each leg (L16 on loopback, PCMU on SIP); no adapter
	// subscribes to it and the fake has no media.
	"CODEC": "media negotiation",
	// The switch's own periodic timers (every 20 s): whether one falls inside a trace is
	// a matter of wall-clock luck.
	"HEARTBEAT":   "periodic",
	"RE_SCHEDULE": "periodic",
	// Module teardown during fsctl shutdown (61 module names, sofia's gateways and
	// unpublished services): internal to the switch's modules; the adapter only sees its
	// sockets close, which is compared.
	"MODULE_UNLOAD":                "module teardown",
	"UNPUBLISH":                    "module teardown",
	"CUSTOM sofia::gateway_delete": "module teardown",
}

func eventKey(e *Event) string {
	n := e.Name()
	if n == "CUSTOM" {
		n += " " + e.Get("Event-Subclass")
	}
	return n
}

// significant says whether a frame takes part in the comparison.
func significant(m *Message) bool {
	if !isEventFrame(m) {
		return true
	}
	_, ignored := ignoredEvents[eventKey(decodeEvent(m))]
	return !ignored
}

func isEventFrame(m *Message) bool {
	ct := m.Get("Content-Type")
	return ct == "text/event-plain" || ct == "text/event-json"
}

var decoded sync.Map // *Message → *Event: every compared message is decoded once

var indexed sync.Map // *Event → hdrs

// hdrs is an event's headers by lower-cased name (first occurrence), for the compare's
// many lookups.
type hdrs map[string]string

func (h hdrs) get(k string) string { return h[strings.ToLower(k)] }

func (h hdrs) has(k string) bool { _, ok := h[strings.ToLower(k)]; return ok }

func index(e *Event) hdrs {
	if h, ok := indexed.Load(e); ok {
		return h.(hdrs)
	}
	h := make(hdrs, len(e.Headers))
	for _, x := range e.Headers {
		k := strings.ToLower(x.Name)
		if _, ok := h[k]; !ok {
			h[k] = x.Value
		}
	}
	indexed.Store(e, h)
	return h
}

// decodeEvent parses a plain or json event frame's body (cached: messages never change).
func decodeEvent(m *Message) *Event {
	if e, ok := decoded.Load(m); ok {
		return e.(*Event)
	}
	e := decodeEventOnce(m)
	decoded.Store(m, e)
	return e
}

func decodeEventOnce(m *Message) *Event {
	if m.Get("Content-Type") == "text/event-json" {
		var obj map[string]any
		if err := json.Unmarshal(m.Body, &obj); err != nil {
			return &Event{}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e := &Event{}
		for _, k := range keys {
			v := fmt.Sprint(obj[k])
			if k == "_body" {
				e.Body = v
				continue
			}
			e.add(k, v)
		}
		return e
	}
	e, err := ParseEvent(m.Body)
	if err != nil {
		return &Event{}
	}
	return e
}

// channelHeaders are compared on every event that has them.
var channelHeaders = []string{"Answer-State", "Hangup-Cause", "Application", "Application-Data",
	"Application-Response", "Application-UUID", "Other-Leg-Unique-ID", "Bridge-A-Unique-ID",
	"Bridge-B-Unique-ID", "DTMF-Digit", "DTMF-Source", "Job-UUID", "Job-Command", "Job-Command-Arg",
	"Job-Owner-UUID", "Old-Unique-ID", "API-Command", "API-Command-Argument"}

// perEventHeaders are compared on the named events only.
var perEventHeaders = map[string][]string{
	"CHANNEL_STATE":     {"Channel-State"},
	"CHANNEL_CALLSTATE": {"Channel-Call-State", "Original-Channel-Call-State"},
	"PRESENCE_IN": {"proto", "login", "from", "status", "rpid", "event_type", "alt_event_type", "event_count",
		"presence-call-direction", "presence-call-info-state", "Presence-Call-Direction", "Channel-Presence-ID",
		"Command"},
	"MESSAGE_WAITING": {"MWI-Messages-Waiting", "MWI-Message-Account", "MWI-Voice-Message", "Command"},
	"CUSTOM": {"profile-name", "from-user", "from-host", "to-user", "to-host", "status", "expires", "auth-result",
		"registration-type", "username", "realm", "user_context", "effective_caller_id_number", "Command"},
}

// comparedVars are the channel variables an adapter reads (results of bridge, caller id,
// headers it set), compared on every event that carries variables.
var comparedVars = []string{"originate_disposition", "DIALSTATUS", "originate_failed_cause", "originate_causes",
	"originated_legs", "last_bridge_hangup_cause", "bridge_hangup_cause", "last_bridge_proto_specific_hangup_cause",
	"endpoint_disposition", "hangup_cause", "continue_on_fail", "hangup_after_bridge", "bridge_uuid",
	"signal_bond", "last_bridge_to", "bridge_channel", "effective_caller_id_number", "effective_caller_id_name",
	"origination_caller_id_number", "origination_caller_id_name", "sip_h_Diversion", "sip_h_X-Sophia-Call",
	"presence_id", "ringback", "transfer_ringback", "hold_music", "read_result", "sophia_digits",
	// What a SIP leg's end looked like (11): the fake models them for its SIP self-loop.
	"sip_term_status", "sip_hangup_disposition", "proto_specific_hangup_cause", "sip_invite_failure_status",
	"sip_invite_failure_phrase"}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// namer renders the uuids of one stream (see the top of this file).
type namer struct {
	names  map[string]string
	client map[string]bool
}

func newNamer(ms []*Message, client map[string]bool) *namer {
	n := &namer{names: map[string]string{}, client: client}
	count := map[string]int{}
	for _, m := range ms {
		if !isEventFrame(m) || !significant(m) {
			continue
		}
		e := index(decodeEvent(m))
		id, name := e.get("Unique-ID"), e.get("Channel-Name")
		if id == "" || name == "" {
			continue
		}
		if _, ok := n.names[id]; !ok {
			if old := e.get("Old-Unique-ID"); old != "" && n.names[old] != "" {
				n.names[id] = n.names[old]
				continue
			}
			count[name]++
			n.names[id] = fmt.Sprintf("%s#%d", name, count[name])
		}
		if old := e.get("Old-Unique-ID"); old != "" {
			n.names[old] = n.names[id]
		}
		// A channel the stream never shows itself (no subscription) is still known by
		// the Other-Leg profile of its partner's events.
		if oid, oname := e.get("Other-Leg-Unique-ID"), e.get("Other-Leg-Channel-Name"); oid != "" && oname != "" {
			if _, ok := n.names[oid]; !ok {
				count[oname]++
				n.names[oid] = fmt.Sprintf("%s#%d", oname, count[oname])
			}
		}
	}
	return n
}

func (n *namer) fix(s string) string {
	return uuidRe.ReplaceAllStringFunc(s, func(u string) string {
		if l, ok := n.names[u]; ok {
			return l
		}
		if n.client[u] {
			return u
		}
		return "<uuid>"
	})
}

// item is one compared message.
type item struct {
	event bool
	group string // events: the channel label, or "(no channel)"
	text  string
}

func render(m *Message, n *namer) item {
	if !isEventFrame(m) {
		return item{text: n.fix(renderReply(m))}
	}
	ev := decodeEvent(m)
	e := index(ev)
	var b strings.Builder
	b.WriteString(eventKey(ev))
	if len(m.Headers) != 2 || m.Headers[0].Name != "Content-Length" || m.Headers[1].Name != "Content-Type" {
		fmt.Fprintf(&b, " [frame %v]", m.Headers)
	}
	if m.Get("Content-Type") == "text/event-plain" && ev.Body == "" && !strings.HasSuffix(string(m.Body), "\n\n") {
		b.WriteString(" [plain body not ended by a blank line]")
	}
	hs := append(append([]string(nil), channelHeaders...), perEventHeaders[e.get("Event-Name")]...)
	for _, k := range hs {
		if e.has(k) {
			fmt.Fprintf(&b, " %s=%s", k, n.fix(e.get(k)))
		}
	}
	for _, k := range comparedVars {
		if e.has("variable_" + k) {
			fmt.Fprintf(&b, " $%s=%s", k, n.fix(e.get("variable_"+k)))
		}
	}
	if ev.Body != "" {
		body := ev.Body
		if strings.HasPrefix(body, "UP ") {
			body = "UP …" // uptime and session counters of the capture machine
		}
		fmt.Fprintf(&b, " body=%q", n.fix(body))
	}
	group := "(no channel)"
	if id := e.get("Unique-ID"); id != "" {
		group = n.fix(id)
	} else if sub := e.get("Event-Subclass"); strings.HasPrefix(sub, "sofia::") && (e.has("from-user") || e.has("to-user")) {
		// Phones register concurrently: FreeSWITCH interleaves their events (10: 1001's
		// and 1002's REGISTERs in the same millisecond); each phone's own order is compared.
		user := e.get("from-user")
		if user == "" {
			user = e.get("to-user")
		}
		group = "registrations of " + user
	}
	return item{event: true, group: group, text: b.String()}
}

func renderReply(m *Message) string {
	if m.Get("Event-Name") == "CHANNEL_DATA" {
		var b strings.Builder
		b.WriteString("connect-reply")
		for _, k := range []string{"Channel-Name", "Caller-Caller-ID-Number", "Caller-Destination-Number", "Content-Type",
			"Reply-Text", "Socket-Mode", "Control"} {
			fmt.Fprintf(&b, " %s=%s", k, m.Get(k))
		}
		n := len(m.Headers)
		if n >= 4 {
			fmt.Fprintf(&b, " tail=%s,%s,%s,%s", m.Headers[n-4].Name, m.Headers[n-3].Name, m.Headers[n-2].Name, m.Headers[n-1].Name)
		}
		if _, ok := m.Lookup("Content-Length"); ok {
			b.WriteString(" [has Content-Length]")
		}
		return b.String()
	}
	if body := string(m.Body); strings.HasPrefix(body, "Event-Name: CHANNEL_DATA\n") {
		// uuid_dump: the channel's whole state, timestamps and codec included; compared
		// are the headers an adapter reads and the compared variables.
		var b strings.Builder
		b.WriteString("uuid_dump:")
		keep := setOf("Event-Name", "Channel-State", "Channel-Call-State", "Channel-Name", "Unique-ID",
			"Call-Direction", "Answer-State", "Caller-Caller-ID-Name", "Caller-Caller-ID-Number",
			"Caller-Destination-Number")
		for _, v := range comparedVars {
			keep["variable_"+v] = true
		}
		var vars []string
		for _, line := range strings.Split(body, "\n") {
			if k, _, _ := strings.Cut(line, ": "); keep[k] {
				if strings.HasPrefix(k, "variable_") {
					vars = append(vars, line) // their order is the order they were set in
					continue
				}
				b.WriteString("\n" + line)
			}
		}
		sort.Strings(vars)
		b.WriteString("\n" + strings.Join(vars, "\n"))
		return b.String()
	}
	var b strings.Builder
	for _, h := range m.Headers {
		if h.Name == "Content-Length" {
			b.WriteString("Content-Length\n")
			continue
		}
		b.WriteString(h.Name + ": " + h.Value + "\n")
	}
	body := string(m.Body)
	if strings.HasPrefix(body, "UP ") {
		body = "UP …" // uptime and session counters of the capture machine
	}
	b.WriteString("\n" + body)
	return b.String()
}

// compareStreams compares replies in order and events per channel.
func compareStreams(conn string, want, got []*Message, client map[string]bool) []string {
	var diffs []string
	split := func(ms []*Message) ([]string, map[string][]string, []string) {
		n := newNamer(ms, client)
		var replies []string
		groups := map[string][]string{}
		var order []string
		for _, m := range ms {
			if !significant(m) {
				continue
			}
			it := render(m, n)
			if !it.event {
				replies = append(replies, it.text)
				continue
			}
			if _, ok := groups[it.group]; !ok {
				order = append(order, it.group)
			}
			groups[it.group] = append(groups[it.group], it.text)
		}
		return replies, groups, order
	}
	wr, wg, worder := split(want)
	gr, gg, gorder := split(got)
	normalizeEarlyOriginate(wg)
	normalizeEarlyOriginate(gg)
	if strings.HasPrefix(conn, "outbound") {
		// The async socket application parks the channel as it connects; whether that
		// CHANNEL_PARK reaches the socket depends on a race inside FreeSWITCH between the
		// park and `myevents` (README: it did not in 02b case 1, 03-bridge-busy call 2,
		// 09-inbound-fs-shutdown). A leading PARK is not compared on outbound sockets.
		for _, g := range []map[string][]string{wg, gg} {
			for k, evs := range g {
				if len(evs) > 0 && strings.HasPrefix(evs[0], "CHANNEL_PARK ") {
					g[k] = evs[1:]
				}
			}
		}
	}
	for i := 0; i < len(wr) || i < len(gr); i++ {
		w, g := "(none)", "(none)"
		if i < len(wr) {
			w = wr[i]
		}
		if i < len(gr) {
			g = gr[i]
		}
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s reply %d:\n  FreeSWITCH: %q\n  fake:       %q", conn, i, w, g))
			break
		}
	}
	for _, k := range worder {
		w, g := wg[k], gg[k]
		if d := firstDiff(w, g); d >= 0 {
			at := func(x []string) string {
				if d < len(x) {
					return x[d]
				}
				return "(none)"
			}
			diffs = append(diffs, fmt.Sprintf("%s events of %s differ at #%d:\n  FreeSWITCH: %s\n  fake:       %s\n  FreeSWITCH sequence: %s\n  fake sequence:       %s",
				conn, k, d, at(w), at(g), names(w), names(g)))
		}
	}
	for _, k := range gorder {
		if _, ok := wg[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s events of %s: FreeSWITCH sent none, the fake:\n              %s", conn, k,
				strings.Join(gg[k], "\n              ")))
		}
	}
	return diffs
}

func firstDiff(a, b []string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

func names(x []string) string {
	var out []string
	for _, s := range x {
		n, rest, _ := strings.Cut(s, " ")
		if n == "CHANNEL_STATE" || n == "CHANNEL_CALLSTATE" {
			for _, f := range strings.Fields(rest) {
				if strings.HasPrefix(f, "Channel-State=") || strings.HasPrefix(f, "Channel-Call-State=") {
					n += "(" + f[strings.IndexByte(f, '=')+1:] + ")"
				}
			}
		}
		if n == "CHANNEL_EXECUTE" || n == "CHANNEL_EXECUTE_COMPLETE" {
			for _, f := range strings.Fields(rest) {
				if strings.HasPrefix(f, "Application=") {
					n += "(" + f[len("Application="):] + ")"
				}
			}
		}
		out = append(out, strings.TrimPrefix(n, "CHANNEL_"))
	}
	return strings.Join(out, " ")
}

var origUUIDRe = regexp.MustCompile(`origination_uuid=([^,}]+)`)

// normalizeEarlyOriginate: an originate whose leg got early media and then hung up
// without answering returns +OK or -ERR <cause> depending on whether its 20 ms polling
// loop saw the early media first, a race inside FreeSWITCH (03-bridge-busy: -ERR 20 ms
// after; 03-bridge-simultaneous: +OK 5 ms after). The fake decides with a 20 ms poll;
// the BACKGROUND_JOB body of such an originate is not compared when the stream shows the
// leg's PROGRESS_MEDIA and no ANSWER.
func normalizeEarlyOriginate(groups map[string][]string) {
	evs := groups["(no channel)"]
	for i, e := range evs {
		if !strings.HasPrefix(e, "BACKGROUND_JOB ") || !strings.Contains(e, "Job-Command=originate ") {
			continue
		}
		m := origUUIDRe.FindStringSubmatch(e)
		if m == nil {
			continue
		}
		leg := strings.Join(groups[m[1]], "\n")
		if strings.Contains(leg, "CHANNEL_PROGRESS_MEDIA ") && !strings.Contains(leg, "CHANNEL_ANSWER ") {
			if j := strings.Index(e, " body="); j >= 0 {
				evs[i] = e[:j] + " body=(early media then hangup: a race in FreeSWITCH)"
			}
		}
	}
}

// counted says whether the replay waits for this message: significant ones, except an
// outbound socket's CHANNEL_PARK (see compareStreams), which may or may not come.
func counted(m *Message, outbound bool) bool {
	if !significant(m) {
		return false
	}
	return !(outbound && isEventFrame(m) && decodeEvent(m).Name() == "CHANNEL_PARK")
}
