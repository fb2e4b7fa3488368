package fakeari

import (
	"testing"
	"time"
)

func TestBridgeAnsweredLeg(t *testing.T) {
	f := newFake(t, Options{TimeScale: 0.001})
	f.Script("Local/answer@devices", Answers())
	c := connect(t, f, "sophia")
	call, err := f.Inbound(InboundCall{CallerNumber: "+15551230001", CallerName: "Carol Caller"})
	if err != nil {
		t.Fatal(err)
	}
	ss := c.expect("StasisStart")
	if got := chanOf(ss)["id"]; got != call.ID() {
		t.Fatalf("StasisStart id %v, want %s", got, call.ID())
	}
	r := c.do("POST", "/ari/channels/create", "app=sophia&appArgs=dialed,leg1&endpoint=Local/answer@devices&originator="+call.ID(),
		map[string]any{"variables": map[string]string{"CALLERID(name)": "Carol Caller", "CALLERID(num)": "+15551230001"}})
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	leg := r.field("id")
	got := c.types(5)
	want := []string{"ChannelCallerId", "ChannelCallerId", "ChannelDialplan", "ChannelVarset", "StasisStart"}
	if !equal(got, want) {
		t.Fatalf("create events %v, want %v", got, want)
	}
	if r := c.do("POST", "/ari/channels/"+leg+"/dial", "caller="+call.ID()+"&timeout=20", nil); r.status != 204 {
		t.Fatalf("dial: %d %s", r.status, r.raw)
	}
	got = c.types(4)
	want = []string{"ChannelConnectedLine", "Dial", "ChannelStateChange", "Dial"}
	if !equal(got, want) {
		t.Fatalf("dial events %v, want %v", got, want)
	}
	if r := c.do("POST", "/ari/channels/"+call.ID()+"/answer", "", nil); r.status != 204 {
		t.Fatalf("answer: %d %s", r.status, r.raw)
	}
	c.expect("ChannelStateChange")
	br := c.do("POST", "/ari/bridges", "type=mixing&name=call-1", nil)
	bid := br.field("id")
	if r := c.do("POST", "/ari/bridges/"+bid+"/addChannel", "channel="+call.ID()+","+leg, nil); r.status != 204 {
		t.Fatalf("addChannel: %d %s", r.status, r.raw)
	}
	got = c.types(4)
	want = []string{"ChannelEnteredBridge", "ChannelEnteredBridge", "ChannelVarset", "ChannelVarset"}
	if !equal(got, want) {
		t.Fatalf("bridge events %v, want %v", got, want)
	}
	if err := f.FarEnd(leg).Hangup(); err != nil {
		t.Fatal(err)
	}
	got = c.types(6)
	want = []string{"ChannelHangupRequest", "ChannelVarset", "ChannelLeftBridge", "StasisEnd", "ChannelVarset", "ChannelDestroyed"}
	if !equal(got, want) {
		t.Fatalf("far hangup events %v, want %v", got, want)
	}
	if err := call.Hangup(); err != nil {
		t.Fatal(err)
	}
	got = c.types(7)
	want = []string{"ChannelHangupRequest", "ChannelVarset", "ChannelLeftBridge", "StasisEnd", "ChannelVarset", "ChannelHangupRequest", "ChannelDestroyed"}
	if !equal(got, want) {
		t.Fatalf("caller hangup events %v, want %v", got, want)
	}
	if r := c.do("DELETE", "/ari/bridges/"+bid, "", nil); r.status != 204 {
		t.Fatalf("delete bridge: %d", r.status)
	}
	c.expect("BridgeDestroyed")
	if l := f.Leftovers(); len(l) != 0 {
		t.Fatalf("leftovers %v", l)
	}
	_ = time.Second
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
