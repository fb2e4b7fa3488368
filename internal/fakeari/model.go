package fakeari

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// asteriskID is the entity id of the Asterisk that produced the traces.
const asteriskID = "02:fc:00:00:00:01"

// tsLayout is Asterisk's timestamp: milliseconds, offset without a colon.
const tsLayout = "2006-01-02T15:04:05.000-0700"

func stamp(t time.Time) string { return t.UTC().Format(tsLayout) }

// kv and obj build JSON objects whose key order is Asterisk's: ARI clients
// must not care, but the replay compares bodies and a human reads them.
type kv struct {
	k string
	v any
}

type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Party is a caller-ID pair as ARI shows it.
type Party struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// Redirecting is the REDIRECTING() data of a channel (who forwarded the call).
type Redirecting struct {
	FromNum, FromName, ToNum, ToName string
	Reason                           string // Asterisk's canonical name: cfnr, cfb, cfu, unknown…
	Count                            int
}

type dialplan struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// channelJSON is the Channel model, fields in Asterisk's order.
type channelJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	State       string   `json:"state"`
	ProtocolID  string   `json:"protocol_id"`
	Caller      Party    `json:"caller"`
	Connected   Party    `json:"connected"`
	Accountcode string   `json:"accountcode"`
	Dialplan    dialplan `json:"dialplan"`
	Created     string   `json:"creationtime"`
	Language    string   `json:"language"`
	CallerRdnis string   `json:"caller_rdnis,omitempty"`
}

// Channel origins.
const (
	originInbound   = "inbound"   // injected call entering Stasis(app,…)
	originCaller    = "caller"    // the ;1 "phone" half of an injected Local call
	originCreate    = "create"    // POST /channels/create
	originOriginate = "originate" // POST /channels
	originPeer      = "peer"      // the ;2 half of a created/originated Local channel
)

type channel struct {
	id, name   string
	tech       string // "Local" or "PJSIP"
	resource   string // dial string after "Tech/": "answer@devices", "alice", "+336…@trunk"
	endpoint   *endpoint
	origin     string
	state      string
	protocolID string
	caller     Party
	connected  Party
	redirect   Redirecting
	dp         dialplan
	created    time.Time
	language   string
	vars       map[string]string
	peer       *channel // other half of a Local pair
	half       int      // 1 or 2 for Local pairs

	// Stasis
	app               string // app the channel is in (or entering)
	inStasis          bool
	stasisArgs        []string
	subs              map[string]int // app -> explicit subscriptions (create, originator, originate, REST)
	pending           bool           // created, waiting to enter Stasis (HoldStasis / StasisDelay)
	afterStasisHangup bool           // inbound channel: the dialplan goes on to Hangup() once Stasis ends

	// dialing
	originator    string // create/originate originator channel id
	dialCount     int
	dialed        bool
	behavior      Behavior
	scripted      bool
	dialTimer     *timer
	timers        []*timer
	answered      bool
	bridge        *bridge
	playbacks     []*playback
	destroyed     bool
	hangingUp     bool
	crashOnHangup bool

	// originate to an extension: context, extension, priority
	exten [3]string

	// inbound caller script (for origin inbound)
	call *Call
}

func (c *channel) snapshot() channelJSON {
	j := channelJSON{ID: c.id, Name: c.name, State: c.state, ProtocolID: c.protocolID,
		Caller: c.caller, Connected: c.connected, Dialplan: c.dp,
		Created: stamp(c.created), Language: c.language, CallerRdnis: c.redirect.FromNum}
	return j
}

func (c *channel) timersStop(s *scheduler) {
	for _, t := range c.timers {
		s.cancel(t)
	}
	c.timers = nil
	s.cancel(c.dialTimer)
	c.dialTimer = nil
}

type bridge struct {
	id, name, typ string
	tech          string
	channels      []string
	created       time.Time
	subs          map[string]int
	moh           string
	announcer     string // name of the MOH Announcer channel while bridge MOH plays
	playbacks     []*playback
}

func (b *bridge) snapshot() obj {
	chans := append([]string{}, b.channels...)
	tech := b.tech
	if b.typ == "mixing" && len(chans) > 2 {
		tech = "softmix"
	}
	return obj{{"id", b.id}, {"technology", tech}, {"bridge_type", b.typ}, {"bridge_class", "stasis"},
		{"creator", "Stasis"}, {"name", b.name}, {"channels", chans}, {"creationtime", stamp(b.created)},
		{"video_mode", "talker"}}
}

type playback struct {
	id       string
	media    []string
	idx      int
	target   string // "channel:<id>" or "bridge:<id>"
	language string
	state    string // queued, playing, continuing, done
	timer    *timer
	ch       *channel
	br       *bridge
}

func (p *playback) json() obj {
	o := obj{{"id", p.id}, {"media_uri", p.media[p.idx]}}
	if p.idx+1 < len(p.media) && p.state != "done" {
		o = append(o, kv{"next_media_uri", p.media[p.idx+1]})
	}
	return append(o, kv{"target_uri", p.target}, kv{"language", p.language}, kv{"state", p.state})
}

// causeText is ast_cause2str for the causes a call can end with.
func causeText(c int) string {
	switch c {
	case 1:
		return "Unallocated (unassigned) number"
	case 2:
		return "No route to specified transmit network"
	case 3:
		return "No route to destination"
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 18:
		return "No user responding"
	case 19:
		return "User alerting, no answer"
	case 20:
		return "Subscriber absent"
	case 21:
		return "Call Rejected"
	case 22:
		return "Number changed"
	case 26:
		return "Answered elsewhere"
	case 27:
		return "Destination out of order"
	case 28:
		return "Invalid number format"
	case 29:
		return "Facility rejected"
	case 31:
		return "Normal, unspecified"
	case 34:
		return "Circuit/channel congestion"
	case 38:
		return "Network out of order"
	case 41:
		return "Temporary failure"
	case 42:
		return "Switching equipment congestion"
	case 58:
		return "Bearer capability not available"
	case 102:
		return "Recovery on timer expiry"
	case 127:
		return "Interworking, unspecified"
	}
	return "Unknown"
}

// hangupReasons is Asterisk 22's DELETE /channels/{id}?reason= table.
var hangupReasons = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
	"unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
	"interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

// sipCause is res_pjsip's SIP status → Q.850 cause mapping.
func sipCause(code int) int {
	switch code {
	case 401, 403, 407, 603:
		return 21
	case 404, 485, 604:
		return 1
	case 408:
		return 18
	case 410:
		return 22
	case 420:
		return 3
	case 480, 483:
		return 19
	case 484:
		return 28
	case 486, 600:
		return 17
	case 488, 606:
		return 58
	case 500:
		return 38
	case 502:
		return 27
	case 503:
		return 34
	case 504:
		return 102
	}
	if code >= 500 && code < 600 {
		return 34
	}
	return 127
}

// redirectingReasons maps what REDIRECTING(reason) accepts to what it reads back.
var redirectingReasons = map[string]string{
	"no-answer": "cfnr", "no_answer": "cfnr", "noanswer": "cfnr", "cfnr": "cfnr",
	"busy": "cfb", "user-busy": "cfb", "cfb": "cfb",
	"unconditional": "cfu", "cfu": "cfu",
	"unavailable": "unavailable", "unknown": "unknown", "deflection": "deflection",
	"follow-me": "follow_me", "follow_me": "follow_me", "out-of-order": "out_of_order",
	"away": "away", "time-of-day": "time_of_day", "do-not-disturb": "dnd", "dnd": "dnd",
	"send_to_vm": "send_to_vm", "send-to-vm": "send_to_vm",
}

func splitArgs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
