package esl

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/dialplan"
)

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name, in  string
		ctype     string
		body      string
		wantError error
	}{
		{"greeting", "Content-Type: auth/request\n\n", "auth/request", "", nil},
		{"reply", "Content-Type: command/reply\nReply-Text: +OK accepted\n\n", "command/reply", "", nil},
		{"api with body", "Content-Type: api/response\nContent-Length: 6\n\n+OK x\n", "api/response", "+OK x\n", nil},
		{"event first Content-Length", "Content-Length: 3\nContent-Type: text/event-plain\n\nA:b", "text/event-plain", "A:b", nil},
		{"crlf and leading blank lines", "\r\n\r\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\r\n", "command/reply", "", nil},
		{"negative length", "Content-Length: -1\n\n", "", "", errContentLength},
		{"signed length", "Content-Length: +1\n\n", "", "", errContentLength},
		{"huge length", "Content-Length: 99999999999\n\n", "", "", errContentLength},
		{"over the cap", "Content-Length: 5000000\n\n", "", "", errTooLarge},
		{"no colon", "garbage\n\n", "", "", errHeaderLine},
		{"short body", "Content-Length: 10\n\nabc", "", "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readFrame(bufio.NewReader(strings.NewReader(tt.in)))
			if tt.wantError != nil {
				if !errors.Is(err, tt.wantError) {
					t.Fatalf("err = %v, want %v", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.contentType() != tt.ctype || string(f.body) != tt.body {
				t.Errorf("got %q %q, want %q %q", f.contentType(), f.body, tt.ctype, tt.body)
			}
		})
	}
}

// A plain event as FreeSWITCH sends it (traces 02): URL-encoded values, and a
// BACKGROUND_JOB with a body of its own.
func TestDecodeEvent(t *testing.T) {
	e, err := decodeEvent([]byte("Event-Name: CHANNEL_EXECUTE_COMPLETE\nEvent-Sequence: 712\nUnique-ID: a-1\n" +
		"variable_originate_causes: ARRAY%3A%3Ab1%3BUSER_BUSY%7C%3Ab2%3BNO_ANSWER\nvariable_ringback: %25(2000,4000,440,480)\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e.name() != "CHANNEL_EXECUTE_COMPLETE" || e.seq != 712 || e.get("unique-id") != "a-1" ||
		e.variable("originate_causes") != "ARRAY::b1;USER_BUSY|:b2;NO_ANSWER" || e.variable("ringback") != "%(2000,4000,440,480)" {
		t.Errorf("decoded %+v", e.hdrs)
	}
	j, err := decodeEvent([]byte("Event-Name: BACKGROUND_JOB\nJob-UUID: j\nContent-Length: 4\n\n+OK\n"))
	if err != nil || string(j.body) != "+OK\n" {
		t.Fatalf("BACKGROUND_JOB: %v %q", err, j.body)
	}
	if _, err := decodeEvent([]byte("Event-Name: X\nContent-Length: 9\n\nab")); err == nil {
		t.Error("a body shorter than its Content-Length decoded")
	}
}

// The per-leg causes of a failed bridge, from the traces README's result table.
func TestLegCauses(t *testing.T) {
	b, nb, u, nu := callflow.CauseBusy, callflow.CauseNoAnswer, callflow.CauseUnreachable, callflow.CauseRejected
	tests := []struct {
		name                        string
		uuids                       []string
		causes, failed, disposition string
		want                        []callflow.Cause
	}{
		{"one leg busy", []string{"b1"}, "b1;USER_BUSY", "USER_BUSY", "USER_BUSY", []callflow.Cause{b}},
		{"user not registered: no channel", []string{"b1"}, "", "USER_NOT_REGISTERED", "USER_NOT_REGISTERED", []callflow.Cause{u}},
		{"no such directory user", []string{"b1"}, "", "SUBSCRIBER_ABSENT", "SUBSCRIBER_ABSENT", []callflow.Cause{u}},
		{"leg timeout", []string{"b1"}, "b1;ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", []callflow.Cause{nb}},
		{"simultaneous busy + reject", []string{"b1", "b2"}, "ARRAY::b1;USER_BUSY|:b2;CALL_REJECTED", "USER_BUSY", "USER_BUSY", []callflow.Cause{b, nu}},
		{"device busy, mobile lost the race… then timed out", []string{"b1", "b2"}, "ARRAY::b1;USER_BUSY|:b2;NO_ANSWER", "NO_ANSWER", "NO_ANSWER", []callflow.Cause{b, nb}},
		{"a leg with no channel takes the overall cause", []string{"b1", "b2"}, "b2;NO_ANSWER", "", "USER_NOT_REGISTERED", []callflow.Cause{u, nb}},
		{"cancelled", []string{"b1"}, "b1;ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL", []callflow.Cause{nb}},
		{"nothing known", []string{"b1"}, "", "", "", []callflow.Cause{nb}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := legCauses(tt.uuids, tt.causes, tt.failed, tt.disposition)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("leg %d: %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDialString(t *testing.T) {
	legs := []bridgeLeg{
		{uuid: "u1", target: "user/alice", vars: []legVar{{"origination_uuid", "u1"}, {"origination_caller_id_name", "Durand, Ève"}}},
		{uuid: "u2", target: ""}, // cannot be dialed: left out
		{uuid: "u3", target: "sofia/gateway/trunk/+33612345678", vars: []legVar{{"sip_h_Diversion",
			diversion(dialplan.Redirect{From: dialplan.Party{Number: "+33478000001", Name: `Alice "A" Martin`}, Reason: dialplan.ReasonNoAnswer, Count: 1}, "")}}},
	}
	got := dialString([]legVar{{"originate_timeout", "20"}}, legs)
	want := `{originate_timeout=20}[origination_uuid=u1,origination_caller_id_name='Durand, Ève']user/alice,` +
		`[sip_h_Diversion='"Alice A Martin" <sip:+33478000001@${domain}>;reason=no-answer;counter=1']sofia/gateway/trunk/+33612345678`
	if got != want {
		t.Errorf("dialString:\n got %s\nwant %s", got, want)
	}
	if v := dialValue("O'Brien\n"); v != `'O\'Brien'` {
		t.Errorf("dialValue = %s", v)
	}
}

func TestCallOf(t *testing.T) {
	hs := headers{{"Unique-ID", "c1"}, {"Caller-Caller-ID-Number", "%2B33145000000"}, {"Caller-Caller-ID-Name", "Eve%20Durand"},
		{"Caller-Destination-Number", "%2B33478000001"}}
	c := callOf(hs, timeZero)
	if c.ID != "c1" || c.From.Number != "+33145000000" || c.From.Name != "Eve Durand" || c.To != "+33478000001" || c.Direction != "inbound" {
		t.Errorf("inbound %+v", c)
	}
	// FreeSWITCH's privacy flag withholds the number (a "no number" value such as
	// 0000000000 is read by the switchboard, for both PBXs: TestWithheldCallerID).
	hs = headers{{"Unique-ID", "c2"}, {"Caller-Caller-ID-Number", "1000"}, {"Caller-Privacy-Hide-Number", "true"},
		{"Caller-Destination-Number", "0611223344"}, {"variable_sophia_direction", "outbound"}, {"variable_user_name", "alice"}}
	c = callOf(hs, timeZero)
	if c.Direction != "outbound" || c.Endpoint != "user/alice" || c.From.Number != "" {
		t.Errorf("outbound %+v", c)
	}
}

func TestRegOf(t *testing.T) {
	for ep, want := range map[string]string{"user/1000": "1000@", "user/1000@example.com": "1000@example.com",
		"sofia/internal/alice%example.com": "alice@example.com", "sofia/gateway/trunk/+336": "", "PJSIP/alice": "", "user/": ""} {
		u, h, ok := regOf(ep)
		got := ""
		if ok {
			got = u + "@" + h
		}
		if got != want {
			t.Errorf("regOf(%q) = %q, want %q", ep, got, want)
		}
	}
}

// FuzzReadFrame: whatever FreeSWITCH (or anything on its port) sends, the reader
// returns a frame or an error, never panics, and never allocates past its cap; an event
// body decodes or errors.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"Content-Type: auth/request\n\n",
		"Content-Type: command/reply\nReply-Text: +OK Job-UUID: x\nJob-UUID: x\n\n",
		"Content-Length: 52\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\nEvent-Sequence: 9\nA: %zz\n\n",
		"Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n",
		"Content-Length: -5\n\n",
		"Content-Length: 1e9\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(strings.NewReader(string(data)))
		for range 4 {
			fr, err := readFrame(br)
			if err != nil {
				return
			}
			if len(fr.body) > maxBody {
				t.Fatalf("body of %d bytes", len(fr.body))
			}
			if e, err := decodeEvent(fr.body); err == nil {
				_ = e.name()
				if len(e.body) > len(fr.body) {
					t.Fatal("event body larger than the frame")
				}
			}
		}
	})
}

// FuzzLegCauses: any result variables give one cause per leg.
func FuzzLegCauses(f *testing.F) {
	f.Add("ARRAY::b1;USER_BUSY|:b2;NO_ANSWER", "NO_ANSWER", "NO_ANSWER", 2)
	f.Add("b1;NONE", "", "SUCCESS", 1)
	f.Add("ARRAY::|:;|:b1", "_undef_", "", 3)
	f.Fuzz(func(t *testing.T, causes, failed, disposition string, n int) {
		n = max(0, min(n, 16))
		uuids := make([]string, n)
		for i := range uuids {
			uuids[i] = "b" + string(rune('1'+i))
		}
		if got := legCauses(uuids, causes, failed, disposition); len(got) != n {
			t.Fatalf("%d causes for %d legs", len(got), n)
		}
	})
}

var timeZero time.Time

// A leg left out of the bridge is unreachable whatever the bridge's overall cause (the
// busy of the leg that was dialed): as on Asterisk, where its creation fails.
func TestUndialableLegCause(t *testing.T) {
	legs := []bridgeLeg{{uuid: "u1", target: "user/alice"}, {uuid: "u2"}}
	err := undialable(legs, &callflow.LegError{Causes: legCauses([]string{"u1", "u2"}, "ARRAY::u1;USER_BUSY", "USER_BUSY", "")})
	var le *callflow.LegError
	if !errors.As(err, &le) || le.Causes[0] != callflow.CauseBusy || le.Causes[1] != callflow.CauseUnreachable {
		t.Errorf("causes %v, want busy, unreachable", err)
	}
	if err := undialable(legs, callflow.ErrCallerHangup); err != callflow.ErrCallerHangup {
		t.Errorf("another error changed: %v", err)
	}
}
