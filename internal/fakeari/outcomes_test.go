package fakeari

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// summary renders an event as Type(detail): the part of an event a call flow branches on.
func summary(e map[string]any) string {
	num := func(k string) string { return fmt.Sprint(e[k]) }
	s := fmt.Sprint(e["type"])
	switch s {
	case "Dial":
		return s + "(" + fmt.Sprint(e["dialstatus"]) + ")"
	case "ChannelStateChange":
		return s + "(" + fmt.Sprint(chanOf(e)["state"]) + ")"
	case "ChannelHangupRequest", "ChannelDestroyed":
		d := num("cause")
		if _, ok := e["cause"]; !ok {
			d = "-"
		}
		if _, ok := e["tech_cause"]; ok {
			d += "," + num("tech_cause")
		}
		if e["soft"] == true {
			d += ",soft"
		}
		return s + "(" + d + ")"
	case "ChannelDtmfReceived":
		return s + "(" + fmt.Sprint(e["digit"]) + ")"
	case "ChannelVarset":
		return s + "(" + fmt.Sprint(e["variable"]) + ")"
	}
	return s
}

// legEvents reads the events about channel id until want events were seen
// (other channels' events are skipped).
func legEvents(t *testing.T, c *client, id string, want int) []string {
	t.Helper()
	var out []string
	for len(out) < want {
		e := c.next()
		if chanOf(e)["id"] == id {
			out = append(out, summary(e))
		}
	}
	return out
}

func TestScriptedOutcomes(t *testing.T) {
	const cl, dial, ring = "ChannelConnectedLine", "Dial()", "ChannelStateChange(Ringing) Dial(RINGING)"
	end := func(hangup, destroyed string) string {
		h := ""
		if hangup != "" {
			h = "ChannelHangupRequest(" + hangup + ") "
		}
		return h + "StasisEnd ChannelVarset(STASISSTATUS) ChannelDestroyed(" + destroyed + ")"
	}
	tests := []struct {
		name    string
		target  string
		b       Behavior
		timeout string
		advance time.Duration
		want    string // leg events after the dial, space separated
		alive   string // the leg's state afterwards, "" if gone
	}{
		{"local answers", "Local/100@phones", Answers(), "20", 0,
			cl + " " + dial + " ChannelStateChange(Up) Dial(ANSWER)", "Up"},
		{"local answers after 5s", "Local/100@phones", AnswersAfter(5 * time.Second), "20", 5 * time.Second,
			cl + " " + dial + " " + ring + " ChannelStateChange(Up) Dial(ANSWER)", "Up"},
		{"dial timeout before the answer", "Local/100@phones", AnswersAfter(25 * time.Second), "20", 25 * time.Second,
			cl + " " + dial + " " + ring + " " + end("32,soft", "19"), ""},
		{"no timeout means 30s", "Local/100@phones", NoAnswer(), "", 30 * time.Second,
			cl + " " + dial + " " + ring + " " + end("32,soft", "19"), ""},
		{"local busy stays", "Local/100@phones", Busy(), "20", time.Minute,
			cl + " " + dial + " Dial(BUSY)", "Down"},
		{"local congestion stays", "Local/100@phones", Congestion(), "20", time.Minute,
			cl + " " + dial + " Dial(CONGESTION)", "Down"},
		{"local missing extension", "Local/100@phones", Missing(), "20", 0,
			cl + " " + end("", "16"), ""},
		{"local unreachable", "Local/100@phones", Unreachable(), "20", 0,
			cl + " " + dial + " " + end("20", "20"), ""},
		{"pjsip busy is a 486", "PJSIP/alice", Busy(), "20", 0,
			cl + " " + dial + " " + ring + " " + end("17,486", "17,486"), ""},
		{"pjsip declines after 2s", "PJSIP/alice", Rejects(603).After(2 * time.Second), "20", 2 * time.Second,
			cl + " " + dial + " " + ring + " " + end("21,603", "21,603"), ""},
		{"pjsip dial timeout", "PJSIP/alice", NoAnswer(), "3", 3 * time.Second,
			cl + " " + dial + " " + ring + " " + end("32,soft", "19,480"), ""},
		{"trunk answers", "PJSIP/+33612345678@trunk", Answers(), "20", 0,
			cl + " " + dial + " " + ring + " ChannelStateChange(Up) Dial(ANSWER)", "Up"},
		{"press 1 to accept", "PJSIP/+33612345678@trunk", Answers().ThenPresses("1", 2*time.Second), "20", 2 * time.Second,
			cl + " " + dial + " " + ring + " ChannelStateChange(Up) Dial(ANSWER) ChannelDtmfReceived(1)", "Up"},
		{"answers then hangs up", "Local/100@phones", Answers().ThenHangsUp(3 * time.Second), "20", 3 * time.Second,
			cl + " " + dial + " ChannelStateChange(Up) Dial(ANSWER) " + end("0", "16"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, Options{ManualClock: true})
			f.Script(tt.target, tt.b)
			c := connect(t, f, "sophia")
			call := inbound(t, f, c)
			leg := createLeg(t, c, tt.target, call.ID())
			c.expect("StasisStart")
			if r := c.do("POST", "/ari/channels/"+leg+"/dial", "caller="+call.ID()+"&timeout="+tt.timeout, nil); r.status != 204 {
				t.Fatalf("dial: %d %s", r.status, r.raw)
			}
			f.Advance(tt.advance)
			want := strings.Fields(strings.ReplaceAll(tt.want, "Dial()", "Dial()"))
			got := legEvents(t, c, leg, len(want))
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("events\n got %v\nwant %v", got, want)
			}
			info, ok := f.Channel(leg)
			switch {
			case tt.alive == "" && ok:
				t.Errorf("leg still alive: %+v", info)
			case tt.alive != "" && (!ok || info.State != tt.alive):
				t.Errorf("leg state %q (alive %v), want %q", info.State, ok, tt.alive)
			}
			if strings.HasPrefix(tt.target, "PJSIP/+336") {
				if !strings.HasPrefix(info.Name, "PJSIP/trunk-") {
					t.Errorf("trunk channel name %q", info.Name)
				}
			}
			c.quiet(20 * time.Millisecond)
		})
	}
}

func TestOfflineDevice(t *testing.T) {
	f := newFake(t, Options{ManualClock: true})
	f.Script("PJSIP/alice", Offline())
	c := connect(t, f, "sophia")
	for _, q := range []string{"endpoint=PJSIP/alice&app=sophia", "endpoint=PJSIP/nobody&app=sophia", "endpoint=Bogus/x&app=sophia"} {
		r := c.do("POST", "/ari/channels/create", q, nil)
		if r.status != 500 || string(r.raw) != `{"error":"Allocation failed"}` {
			t.Errorf("create %s: %d %s", q, r.status, r.raw)
		}
	}
	r := c.do("POST", "/ari/channels", "endpoint=PJSIP/alice&app=sophia&timeout=20", nil)
	if r.status != 500 || string(r.raw) != `{"error":"Allocation failed"}` {
		t.Errorf("originate: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/ari/endpoints/PJSIP/alice", "", nil); r.field("state") != "offline" {
		t.Errorf("endpoint: %s", r.raw)
	}
	c.quiet(20 * time.Millisecond)
}

// TestCallerIDAndRedirecting: what Dials() records is what the far end gets,
// including /dial caller= overwriting the leg's connected line and
// REDIRECTING (17).
func TestCallerIDAndRedirecting(t *testing.T) {
	f := newFake(t, Options{ManualClock: true})
	f.Script("PJSIP/+33612345678@trunk", NoAnswer())
	c := connect(t, f, "sophia")
	call := inbound(t, f, c)
	set := func(id, name, value string) {
		t.Helper()
		if r := c.do("POST", "/ari/channels/"+id+"/variable", "variable="+url.QueryEscape(name)+"&value="+url.QueryEscape(value), nil); r.status != 204 {
			t.Fatalf("set %s: %d %s", name, r.status, r.raw)
		}
	}
	// Forward with redirection info: set on the caller channel, since /dial
	// caller= copies the caller's REDIRECTING onto the leg.
	set(call.ID(), "REDIRECTING(from-num)", "+33478000001")
	set(call.ID(), "REDIRECTING(reason)", "no-answer")
	leg := createLeg(t, c, "PJSIP/+33612345678@trunk", call.ID())
	set(leg, "CALLERID(num)", "+33478000001")
	set(leg, "CONNECTEDLINE(num)", "+33999999999") // lost: caller= overwrites it
	if r := c.do("POST", "/ari/channels/"+leg+"/dial", "caller="+call.ID()+"&timeout=20", nil); r.status != 204 {
		t.Fatalf("dial: %d", r.status)
	}
	d := f.Dials()
	if len(d) != 1 {
		t.Fatalf("Dials() = %+v", d)
	}
	got := d[0]
	if got.CallerID.Number != "+33478000001" || got.Connected.Number != "+15551230001" ||
		got.Redirecting.FromNum != "+33478000001" || got.Redirecting.Reason != "cfnr" ||
		got.Caller != call.ID() || got.Originator != call.ID() || got.Timeout != 20*time.Second {
		t.Fatalf("Dials()[0] = %+v", got)
	}
	r := c.do("GET", "/ari/channels/"+leg+"/variable", "variable=REDIRECTING(reason)", nil)
	if r.field("value") != "cfnr" {
		t.Fatalf("REDIRECTING(reason) = %s", r.raw)
	}
	if r := c.do("GET", "/ari/channels/"+leg, "", nil); r.field("caller_rdnis") != "+33478000001" {
		t.Fatalf("caller_rdnis: %s", r.raw)
	}
}
