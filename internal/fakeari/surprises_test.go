package fakeari

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recorder is a testing.TB that keeps what the fake reports with Errorf.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, format)
}

func (r *recorder) reported() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors)
}

func manual(t *testing.T) *Fake {
	f := newFake(t, Options{ManualClock: true})
	devicesConf(f)
	return f
}

func inbound(t *testing.T, f *Fake, c *client) *Call {
	t.Helper()
	call, err := f.Inbound(InboundCall{CallerNumber: "+15551230001", CallerName: "Carol Caller"})
	if err != nil {
		t.Fatal(err)
	}
	c.expect("StasisStart")
	return call
}

func createLeg(t *testing.T, c *client, endpoint, originator string) string {
	t.Helper()
	r := c.do("POST", "/ari/channels/create", "app=sophia&appArgs=dialed&endpoint="+url.QueryEscape(endpoint)+"&originator="+originator, nil)
	if r.status != 200 {
		t.Fatalf("create %s: %d %s", endpoint, r.status, r.raw)
	}
	return r.field("id")
}

// TestStasisWindow: a dial sent before the created channel entered Stasis is
// refused with 409, as on Asterisk in 6 of 15 runs; it works on StasisStart.
func TestStasisWindow(t *testing.T) {
	f := manual(t)
	c := connect(t, f, "sophia")
	call := inbound(t, f, c)

	f.HoldStasis()
	leg := createLeg(t, c, "Local/answer@devices", call.ID())
	r := c.do("POST", "/ari/channels/"+leg+"/dial", "caller="+call.ID(), nil)
	if r.status != 409 || r.field("message") != "Channel not in Stasis application" {
		t.Fatalf("dial before StasisStart: %d %s", r.status, r.raw)
	}
	f.ReleaseStasis()
	if got := chanOf(c.expect("StasisStart"))["id"]; got != leg {
		t.Fatalf("StasisStart of %v, want %s", got, leg)
	}
	if r := c.do("POST", "/ari/channels/"+leg+"/dial", "caller="+call.ID(), nil); r.status != 204 {
		t.Fatalf("dial after StasisStart: %d %s", r.status, r.raw)
	}

	f.SetStasisDelay(300 * time.Millisecond)
	leg2 := createLeg(t, c, "Local/answer@devices", call.ID())
	if r := c.do("POST", "/ari/channels/"+leg2+"/dial", "", nil); r.status != 409 {
		t.Fatalf("dial within the delay: %d", r.status)
	}
	f.Advance(300 * time.Millisecond)
	if got := chanOf(c.expect("StasisStart"))["id"]; got != leg2 {
		t.Fatalf("StasisStart of %v, want %s", got, leg2)
	}
	if len(f.Failures()) != 0 {
		t.Fatalf("failures: %v", f.Failures())
	}
}

// TestEventOrder: EventsFirst writes a request's events before its reply,
// ResponseFirst holds them until the reply is out.
func TestEventOrder(t *testing.T) {
	f := manual(t)
	c := connect(t, f, "sophia")
	call := inbound(t, f, c)
	conn := func() *wsConn {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.apps["sophia"].conn
	}()

	f.SetEventOrder(EventsFirst)
	var atWritten, atQueued atomic.Int64 // read at the reply, in the server
	f.mu.Lock()
	f.testAfterReply = func() { atWritten.Store(conn.written.Load()); atQueued.Store(conn.queued.Load()) }
	f.mu.Unlock()
	before := conn.queued.Load()
	createLeg(t, c, "Local/answer@devices", call.ID())
	written, queued := atWritten.Load(), atQueued.Load()
	if queued-before != 3 || written != queued { // ChannelDialplan, STASISSTATUS, StasisStart
		t.Fatalf("EventsFirst: at the reply %d of %d events written (%d new), want all and 3 new", written, queued, queued-before)
	}
	c.expect("StasisStart")

	f.SetEventOrder(ResponseFirst)
	before = conn.queued.Load()
	if r := c.do("POST", "/ari/channels/"+call.ID()+"/answer", "", nil); r.status != 204 {
		t.Fatalf("answer: %d", r.status)
	}
	written, queued = atWritten.Load(), atQueued.Load()
	if written > before || queued != before+1 {
		t.Fatalf("ResponseFirst: at the reply %d events written, %d queued; want at most %d written", written, queued, before)
	}
	if e := c.expect("ChannelStateChange"); chanOf(e)["state"] != "Up" {
		t.Fatalf("state %v", chanOf(e)["state"])
	}
}

// TestDoubleDial: the second dial answers 204 like Asterisk, is reported to
// the test at once, and with CrashOnDoubleDial the hangup crashes the fake.
func TestDoubleDial(t *testing.T) {
	rec := &recorder{TB: t}
	f := New(rec, Options{ManualClock: true, CrashOnDoubleDial: true})
	devicesConf(f)
	c := connect(t, f, "sophia")
	leg := createLeg(t, c, "Local/noanswer@devices", "")
	c.expect("StasisStart")
	for i := 0; i < 2; i++ {
		if r := c.do("POST", "/ari/channels/"+leg+"/dial", "timeout=20", nil); r.status != 204 {
			t.Fatalf("dial %d: %d", i+1, r.status)
		}
	}
	if rec.reported() != 1 || len(f.Crashed()) != 1 || f.Crashed()[0] != leg {
		t.Fatalf("reported %d, Crashed() = %v", rec.reported(), f.Crashed())
	}
	if r := c.do("DELETE", "/ari/channels/"+leg, "", nil); r.status != 204 {
		t.Fatalf("hangup: %d", r.status)
	}
	c.expect("ChannelDestroyed")
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the crash did not drop the WebSocket")
	}
	if f.Up() {
		t.Fatal("the fake is up right after the crash")
	}
	f.Advance(f.opts.RestartDowntime)
	if !f.Up() {
		t.Fatal("the fake did not come back")
	}
	if r := doREST(t, f, "GET", "/ari/channels", "", nil); r.status != 200 || string(r.raw) != "[]" {
		t.Fatalf("channels after the crash: %d %s", r.status, r.raw)
	}
}

// TestRestart: `core restart now`: HangupRequest(4) + StasisEnd, the socket
// drops without a close frame, connections are refused, then all is empty.
func TestRestart(t *testing.T) {
	f := manual(t)
	c := connect(t, f, "sophia")
	call := inbound(t, f, c)
	f.Restart()
	hr := c.expect("ChannelHangupRequest")
	if hr["cause"] != float64(4) || hr["soft"] != true {
		t.Fatalf("hangup request %v", hr)
	}
	c.expect("StasisEnd")
	f.Advance(f.opts.RestartDropAfter)
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("WebSocket not dropped")
	}
	if _, err := net.DialTimeout("tcp", f.Addr(), time.Second); err == nil {
		t.Fatal("connection accepted during the restart")
	}
	f.Advance(f.opts.RestartDowntime)
	c2 := connect(t, f, "sophia")
	if r := c2.do("GET", "/ari/channels", "", nil); string(r.raw) != "[]" {
		t.Fatalf("channels after restart: %s", r.raw)
	}
	if _, ok := f.Channel(call.ID()); ok {
		t.Fatal("the call survived the restart")
	}
	c2.quiet(50 * time.Millisecond)
}

// TestNoWebSocket: without a WebSocket, new calls fail and events are
// dropped (16); a second WebSocket replaces the first (ApplicationReplaced).
func TestNoWebSocket(t *testing.T) {
	f := manual(t)
	if _, err := f.Inbound(InboundCall{CallerNumber: "100"}); !errors.Is(err, ErrAppNotActive) {
		t.Fatalf("Inbound without WebSocket: %v", err)
	}
	if l := f.Leftovers(); len(l) != 0 {
		t.Fatalf("a failed call left %v", l)
	}
	c1 := connect(t, f, "sophia")
	call := inbound(t, f, c1)
	c2 := connect(t, f, "sophia")
	if e := c1.next(); e["type"] != "ApplicationReplaced" || e["application"] != "sophia" {
		t.Fatalf("old WebSocket got %v", e)
	}
	if r := c2.do("POST", "/ari/channels/"+call.ID()+"/answer", "", nil); r.status != 204 {
		t.Fatalf("answer: %d", r.status)
	}
	c2.expect("ChannelStateChange")
	c1.quiet(50 * time.Millisecond)

	_ = c2.ws.NetConn().Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitConnected(ctx, "sophia", false); err != nil {
		t.Fatal(err)
	}
	missed := f.Missed()
	if r := doREST(t, f, "POST", "/ari/channels/"+call.ID()+"/play", "media=sound:beep", nil); r.status != 201 {
		t.Fatalf("play without WebSocket: %d", r.status)
	}
	if f.Missed() <= missed {
		t.Fatal("PlaybackStarted without WebSocket was not counted as missed")
	}
	if _, err := f.Inbound(InboundCall{}); !errors.Is(err, ErrAppNotActive) {
		t.Fatalf("Inbound after the drop: %v", err)
	}
}

// TestWebSocketErrors: the upgrade's refusals as traced (15).
func TestWebSocketErrors(t *testing.T) {
	f := manual(t)
	_, resp, err := websocket.DefaultDialer.Dial(f.WebsocketURL()+"?app=sophia", nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("no credentials: %v %v", err, resp)
	}
	_, resp, err = websocket.DefaultDialer.Dial(f.WebsocketURL()+"?api_key=sophia:sophia", nil)
	if err == nil || resp == nil || resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("Content-Type"), "html") {
		t.Fatalf("no app: %v %v", err, resp)
	}
	ws, _, err := websocket.DefaultDialer.Dial(f.WebsocketURL()+"?app=sophia&api_key=sophia:sophia", nil)
	if err != nil {
		t.Fatalf("api_key: %v", err)
	}
	_ = ws.Close()
}
