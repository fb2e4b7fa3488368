package fakeari_test

import (
	"context"
	"testing"
	"time"

	cyari "github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"

	"github.com/sophia-pbx/sophia/internal/fakeari"
)

// events collects an ari/v6 subscription so the test can wait for one event
// at a time with a deadline.
type events struct {
	t   *testing.T
	sub cyari.Subscription
}

// wait returns the next event of type typ (skipping others) about channel
// id ("" for any), failing after 5 s.
func (e *events) wait(typ, id string) cyari.Event {
	e.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-e.sub.Events():
			if ev.GetType() != typ {
				continue
			}
			if id == "" {
				return ev
			}
			for _, k := range ev.Keys() {
				if k.Kind == cyari.ChannelKey && k.ID == id {
					return ev
				}
			}
		case <-deadline:
			e.t.Fatalf("no %s for %q within 5s", typ, id)
			return nil
		}
	}
}

func connectARI(t *testing.T, f *fakeari.Fake) (cyari.Client, *events) {
	t.Helper()
	// The context of ConnectWithContext is the connection's lifetime, not a
	// connect timeout: cancelling it closes the WebSocket. Client.Close is
	// not called: it writes the client's "connected" flag while its listen
	// goroutine does too, a data race inside ari/v6 that -race reports.
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := native.ConnectWithContext(ctx, &native.Options{Application: "sophia",
		URL: f.URL(), WebsocketURL: f.WebsocketURL(), Username: "sophia", Password: "sophia"})
	if err != nil {
		cancel()
		t.Fatalf("ari/v6 connect: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		if err := f.WaitConnected(wctx, "sophia", false); err != nil {
			t.Error(err)
		}
	})
	ev := &events{t: t, sub: cl.Bus().Subscribe(nil, cyari.Events.All)}
	t.Cleanup(ev.sub.Cancel)
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := f.WaitConnected(wctx, "sophia", true); err != nil {
		t.Fatal(err)
	}
	return cl, ev
}

// TestARIClient drives the fake with ari/v6's own native client (the one the
// adapter uses): answer, create + dial, bridge, play, hangups and the events.
func TestARIClient(t *testing.T) {
	f := fakeari.New(t, fakeari.Options{TimeScale: 0.001})
	f.Script("PJSIP/alice", fakeari.AnswersAfter(2*time.Second))
	cl, ev := connectARI(t, f)

	info, err := cl.Asterisk().Info(nil)
	if err != nil || info.SystemInfo.Version != "22.10.1" {
		t.Fatalf("Info: %+v, %v", info, err)
	}

	call, err := f.Inbound(fakeari.InboundCall{CallerNumber: "+15551230001", CallerName: "Carol Caller", Exten: "+33478000001"})
	if err != nil {
		t.Fatal(err)
	}
	ss := ev.wait("StasisStart", call.ID()).(*cyari.StasisStart)
	if len(ss.Args) != 1 || ss.Args[0] != "inbound" || ss.Channel.Caller.Number != "+15551230001" ||
		ss.Channel.Dialplan.Exten != "+33478000001" || ss.Channel.State != "Ring" {
		t.Fatalf("StasisStart %+v", ss)
	}
	caller := cl.Channel().Get(ss.Key(cyari.ChannelKey, ss.Channel.ID))
	if err := caller.Ring(); err != nil {
		t.Fatalf("Ring: %v", err)
	}

	leg, err := cl.Channel().Create(nil, cyari.ChannelCreateRequest{Endpoint: "PJSIP/alice", App: "sophia",
		AppArgs: "dialed,alice", Originator: call.ID()})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	legStart := ev.wait("StasisStart", leg.ID()).(*cyari.StasisStart)
	if len(legStart.Args) != 2 || legStart.Args[1] != "alice" {
		t.Fatalf("leg StasisStart args %v", legStart.Args)
	}
	if err := leg.SetVariable("CALLERID(num)", "+33478000001"); err != nil {
		t.Fatalf("SetVariable: %v", err)
	}
	if v, err := leg.GetVariable("CALLERID(num)"); err != nil || v != "+33478000001" {
		t.Fatalf("GetVariable = %q, %v", v, err)
	}
	if err := leg.Dial(call.ID(), 20*time.Second); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	for _, want := range []string{"", "RINGING", "ANSWER"} {
		d := ev.wait("Dial", leg.ID()).(*cyari.Dial)
		if d.Dialstatus != want {
			t.Fatalf("Dial status %q, want %q", d.Dialstatus, want)
		}
	}
	dials := f.Dials()
	if len(dials) != 1 || dials[0].Target != "PJSIP/alice" || dials[0].Timeout != 20*time.Second ||
		dials[0].Connected.Number != "+15551230001" || dials[0].CallerID.Number != "+33478000001" {
		t.Fatalf("Dials() = %+v", dials)
	}

	if err := caller.Answer(); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	up := ev.wait("ChannelStateChange", call.ID()).(*cyari.ChannelStateChange)
	if up.Channel.State != "Up" {
		t.Fatalf("state %s", up.Channel.State)
	}
	br, err := cl.Bridge().Create(cyari.NewKey(cyari.BridgeKey, "call-1-bridge"), "mixing", "call-1")
	if err != nil {
		t.Fatalf("Bridge create: %v", err)
	}
	for _, id := range []string{call.ID(), leg.ID()} {
		if err := br.AddChannel(id); err != nil {
			t.Fatalf("AddChannel %s: %v", id, err)
		}
		ev.wait("ChannelEnteredBridge", id)
	}
	if b := f.Bridges(); len(b) != 1 || b[0].ID != "call-1-bridge" || len(b[0].Channels) != 2 {
		t.Fatalf("Bridges() = %+v", b)
	}

	pb, err := caller.Play("ringback-1", "sound:beep")
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if fin := ev.wait("PlaybackFinished", "").(*cyari.PlaybackFinished); fin.Playback.ID != pb.ID() {
		t.Fatalf("PlaybackFinished of %s, want %s", fin.Playback.ID, pb.ID())
	}

	if err := leg.Hangup(); err != nil {
		t.Fatalf("Hangup leg: %v", err)
	}
	ev.wait("StasisEnd", leg.ID())
	if d := ev.wait("ChannelDestroyed", leg.ID()).(*cyari.ChannelDestroyed); d.Cause != 16 {
		t.Fatalf("leg destroyed with cause %d", d.Cause)
	}
	if err := call.Hangup(); err != nil {
		t.Fatal(err)
	}
	if hr := ev.wait("ChannelHangupRequest", call.ID()).(*cyari.ChannelHangupRequest); hr.Cause != 16 || hr.Soft {
		t.Fatalf("caller hangup %+v", hr)
	}
	ev.wait("StasisEnd", call.ID())
	if err := br.Delete(); err != nil {
		t.Fatalf("bridge Delete: %v", err)
	}
	ev.wait("BridgeDestroyed", "")
	if l := f.Leftovers(); len(l) != 0 {
		t.Fatalf("Leftovers: %v", l)
	}
	if fl := f.Failures(); len(fl) != 0 {
		t.Fatalf("Failures: %v", fl)
	}
}

// TestARIClientUnavailable: an unregistered PJSIP device fails at creation
// with 500, which ari/v6 reports as a RequestError with that code.
func TestARIClientUnavailable(t *testing.T) {
	f := fakeari.New(t, fakeari.Options{TimeScale: 0.001})
	f.Script("PJSIP/bob", fakeari.Offline())
	cl, _ := connectARI(t, f)
	_, err := cl.Channel().Create(nil, cyari.ChannelCreateRequest{Endpoint: "PJSIP/bob", App: "sophia"})
	if native.CodeFromError(err) != 500 {
		t.Fatalf("Create on an offline device: %v (code %d), want 500", err, native.CodeFromError(err))
	}
	ep, err := cl.Endpoint().Data(cyari.NewKey(cyari.EndpointKey, "PJSIP/bob"))
	if err != nil || ep.State != "offline" {
		t.Fatalf("Endpoint data %+v, %v", ep, err)
	}
}
