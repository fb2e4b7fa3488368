package esl

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// TestScenarios runs the PBX-neutral scenario table end to end: sophia's call path on
// real Redis, this adapter, a fake FreeSWITCH 1.10.12 speaking the Event Socket on
// loopback. One table, two PBXs (ari runs it against a fake Asterisk), same outcomes.
func TestScenarios(t *testing.T) {
	scenario.RunAll(t, runner{})
}

type runner struct{}

// NoVoicemail: sophia has no voicemail on FreeSWITCH yet (nor on Asterisk).
func (runner) NoVoicemail() bool { return true }

// endpointOf is the FreeSWITCH dial string of a table user's device.
func endpointOf(uid string) string { return "user/" + uid }

func (runner) Run(t *testing.T, r *scenario.Row) scenario.Observation {
	t.Parallel()
	endpoints := map[string]fakeesl.Endpoint{}
	devices := map[string]fakeesl.Endpoint{}
	for target, s := range r.Endpoints {
		ep, online := fakeEndpoint(s)
		if uid, ok := strings.CutPrefix(target, "user:"); ok {
			if online {
				devices[uid] = ep
			}
			continue
		}
		endpoints["sofia/gateway/trunk/"+target] = ep
	}
	h := newHarness(t, harnessOptions{now: r.Clock(), endpoints: endpoints})
	ctx := context.Background()
	if err := scenario.Load(ctx, h.store, r, endpointOf); err != nil {
		t.Fatal(err)
	}
	// The phones register: their registrations reach sophia through the inbound socket.
	h.waitLinked()
	for _, uid := range []string{"alice", "bob", "carol"} {
		if s, listed := r.Endpoints["user:"+uid]; listed && s.Behavior == callflow.Offline {
			continue
		}
		ep, ok := devices[uid]
		if !ok {
			ep = fakeesl.NeverAnswers()
		}
		h.register(fakeesl.Registration{User: uid, Endpoint: ep})
	}
	spec := fakeesl.CallSpec{CallerIDNumber: r.Call.From.Number, CallerIDName: r.Call.From.Name,
		Destination: r.Call.To, ChannelName: "sofia/external/" + r.Call.From.Number + "@127.0.0.1"}
	if r.Call.From.Number == "" {
		spec.CallerIDNumber, spec.CallerIDName = "anonymous", "Anonymous"
	}
	if r.Call.Direction == scenario.Outbound {
		spec = fakeesl.CallSpec{CallerIDNumber: r.Call.User, CallerIDName: r.Call.User, Destination: r.Call.Dialed,
			ChannelName: "sofia/internal/" + r.Call.User + "@127.0.0.1", Context: "default",
			Variables: map[string]string{"sophia_direction": "outbound", "user_name": r.Call.User}}
	}
	id := h.inject(spec)
	if r.CallerHangupS > 0 {
		tm := h.clock.AfterFunc(time.Duration(r.CallerHangupS)*time.Second, func() { _ = h.fake.Hangup(id, "ORIGINATOR_CANCEL") })
		defer tm.Stop()
	}
	res := h.waitEnd(id)
	obs := observe(t, h, id)
	obs.Outcome = res.Outcome
	if res.Err != nil {
		t.Errorf("call ended on an error: %v", res.Err)
	}

	// Whatever the path, the call leaves nothing: no channel or socket on FreeSWITCH, no
	// lease in Redis beyond the row's own calls in progress, one record in the log.
	waitFor(t, "no channel or connection left but the inbound one", func() bool { return len(h.leftovers()) == 0 })
	for _, uid := range []string{"alice", "bob", "carol"} {
		if n, _ := h.store.ActiveCalls(ctx, uid); n != r.Active[uid] {
			t.Errorf("%s has %d active calls after the call, want %d", uid, n, r.Active[uid])
		}
	}
	if h.board.Leases() != 0 {
		t.Errorf("board still holds %d leases", h.board.Leases())
	}
	if res.User != "" {
		log, err := h.store.CallLog(ctx, res.User, 1)
		if err != nil || len(log) != 1 || log[0].ID != id || log[0].Outcome != string(res.Outcome.Kind) {
			t.Errorf("call log of %s: %v %+v, want this call, %s", res.User, err, log, res.Outcome.Kind)
		}
	}
	if t.Failed() || res.Outcome != r.Want.Outcome {
		for _, c := range h.commands(id) {
			t.Logf("sent: %s", c)
		}
	}
	return obs
}

// leftovers is what the fake still holds but the inbound connection.
func (h *harness) leftovers() []string {
	var out []string
	for _, l := range h.fake.Leftovers() {
		if strings.HasPrefix(l, "connection ") && strings.HasSuffix(l, " inbound") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// fakeEndpoint turns a table script into the fake FreeSWITCH's endpoint; false for an
// offline device (it does not register).
func fakeEndpoint(s callflow.Script) (fakeesl.Endpoint, bool) {
	ring := time.Duration(s.AfterS) * time.Second
	const talk = 5 * time.Second // the conversation, ended by the far end
	switch s.Behavior {
	case callflow.Answer:
		// A person answers, and presses 1 if a confirm prompt asks.
		return fakeesl.Endpoint{Progress: "ring", Ring: ring, Answer: true, HangupAfter: talk, DTMF: "1", DTMFAfter: 500 * time.Millisecond}, true
	case callflow.AnswerNoConfirm:
		return fakeesl.Endpoint{Progress: "ring", Ring: ring, Answer: true, HangupAfter: talk}, true
	case callflow.Busy:
		return fakeesl.Busy(), true
	case callflow.Reject:
		return fakeesl.Reject(), true
	case callflow.Congestion:
		return fakeesl.Endpoint{Cause: "NORMAL_CIRCUIT_CONGESTION"}, true
	case callflow.Offline:
		return fakeesl.Unknown(), false
	}
	return fakeesl.NeverAnswers(), true
}

// observe reads what the fake FreeSWITCH saw on the call's socket: each bridge's legs
// with their variables, what the caller heard, the cause sophia hung up with.
func observe(t *testing.T, h *harness, id string) scenario.Observation {
	var obs scenario.Observation
	for _, b := range h.fake.Bridges() {
		if b.UUID != id {
			continue
		}
		d := scenario.Dial{}
		fmt.Sscan(b.Global["originate_timeout"], &d.TimeoutS)
		for _, l := range b.Legs {
			obs := legOf(l.Target, l.Vars)
			if to := l.Vars["leg_timeout"]; to != b.Global["originate_timeout"] {
				t.Errorf("leg %s: leg_timeout %q, originate_timeout %q", l.Target, to, b.Global["originate_timeout"])
			}
			d.Legs = append(d.Legs, obs)
		}
		obs.Dials = append(obs.Dials, d)
	}
	ringback, playing := "", ""
	for _, c := range h.commands(id) {
		word, rest, _ := strings.Cut(c, " ")
		switch word {
		case "execute":
			app, arg, _ := strings.Cut(rest, " ")
			switch app {
			case "set":
				k, v, _ := strings.Cut(arg, "=")
				switch k {
				case "ringback":
					ringback = v
				case "sophia_playing":
					playing = v
				}
			case "unset":
				if arg == "ringback" {
					ringback = ""
				}
			case "bridge":
				obs.Heard = append(obs.Heard, "ringback:"+mediaName(&h.a.o, ringback))
			case "playback":
				obs.Heard = append(obs.Heard, playing+":"+mediaName(&h.a.o, arg))
			}
		case "hangup":
			obs.Hangup = callflow.FromFreeSWITCH(rest).String()
		}
	}
	return obs
}

// legOf reads a bridge leg back into the table's terms.
func legOf(target string, vars map[string]string) scenario.Leg {
	l := scenario.Leg{Target: target}
	if u, ok := strings.CutPrefix(target, "user/"); ok {
		l.Target = "user:" + u
	} else if n, ok := strings.CutPrefix(target, "sofia/gateway/trunk/"); ok {
		l.Target = n
	}
	l.Number, l.Name = vars["origination_caller_id_number"], vars["origination_caller_id_name"]
	if p := vars["origination_privacy"]; strings.Contains(p, "hide_number") {
		if l.Number != "anonymous" {
			l.Asserted = l.Number
		}
		l.Number = ""
	}
	if strings.Contains(vars["origination_privacy"], "hide_name") {
		l.Name = ""
	}
	if div := vars["sip_h_Diversion"]; div != "" {
		num := div[strings.Index(div, "sip:")+4:]
		num, _, _ = strings.Cut(num, "@")
		reason, count := param(div, "reason"), param(div, "counter")
		l.Redirect = num + ";" + reason + ";" + count
	}
	l.Confirm = vars["group_confirm_key"] == "1"
	return l
}

func param(h, name string) string {
	for _, p := range strings.Split(h, ";")[1:] {
		if k, v, ok := strings.Cut(p, "="); ok && strings.TrimSpace(k) == name {
			return v
		}
	}
	return ""
}

// mediaName is Options.mediaURI's inverse for what sophia itself set: the library name of a
// media URI ("" for anything else).
func mediaName(o *Options, uri string) string {
	var rest string
	var ok bool
	switch {
	case strings.HasPrefix(o.Media, "http"):
		rest, ok = strings.CutPrefix(uri, "http_cache://"+strings.TrimRight(o.Media, "/")+"/")
	case o.Media != "":
		rest, ok = strings.CutPrefix(uri, strings.TrimRight(o.Media, "/")+"/")
	}
	if !ok {
		return ""
	}
	name, _ := url.PathUnescape(strings.TrimSuffix(rest, ".wav"))
	return name
}
