package ari_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeari"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// world loads the scenario world (alice, bob, carol on PJSIP/<uid>) with row's edits.
func world(t *testing.T, st *config.Store, edit func(map[string]*config.Sheet)) {
	t.Helper()
	r := scenario.Row{Edit: edit}
	if err := scenario.Load(context.Background(), st, &r, nil); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func dialsOf(f *fakeari.Fake, callID string) []fakeari.DialRecord {
	var out []fakeari.DialRecord
	for _, d := range f.Dials() {
		if strings.HasPrefix(d.ChannelID, callID+"-") {
			out = append(out, d)
		}
	}
	return out
}

func eve(exten string) fakeari.InboundCall {
	return fakeari.InboundCall{CallerNumber: scenario.Outsider, CallerName: "Eve Durand", Exten: exten, HangsUpAfter: 5 * time.Second}
}

// A WebSocket drop while a leg rings: the call goes on over REST, and the answer that
// came while the WebSocket was down is learned from Asterisk's channel list at the
// resync; the call is answered and bridged.
func TestWebSocketDropMidCall(t *testing.T) {
	// Reconnecting takes 45 to 90 ms; the desk answers 20 ms after the dial, so while
	// the WebSocket is down; the ring lasts 200 ms.
	h := newHarness(t, harnessOptions{adapter: func(o *ari.Options) { o.MinBackoff, o.MaxBackoff = 90*time.Millisecond, 90*time.Millisecond }})
	world(t, h.store, nil)
	h.fake.Script("PJSIP/alice", fakeari.AnswersAfter(2*time.Second))
	c, err := h.fake.Inbound(eve(scenario.AliceMain))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the desk to be dialed", func() bool { return len(dialsOf(h.fake, c.ID())) == 1 })
	h.fake.DropConnections()
	res := h.waitEnd(c.ID())
	if res.Outcome != (callflow.Outcome{Kind: callflow.OutcomeAnswered, By: "user:alice"}) {
		t.Errorf("outcome %+v, want answered by alice", res.Outcome)
	}
	if h.fake.Missed() == 0 {
		t.Error("no event was missed: the drop did not happen while the desk rang")
	}
	if n := testutil.ToFloat64(counterOf(t, h, "sophia_ari_reconnects_total")); n < 1 {
		t.Errorf("reconnects = %v", n)
	}
	if left := waitLeftovers(h.fake); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
}

// Asterisk restarts (core restart now) while a call rings: the call ends, its lease is
// released, the link comes back and the next call works.
func TestAsteriskRestart(t *testing.T) {
	h := newHarness(t, harnessOptions{fake: fakeari.Options{TimeScale: scale, RestartDropAfter: 10 * time.Second, RestartDowntime: 10 * time.Second}})
	world(t, h.store, nil)
	h.fake.Script("PJSIP/alice", fakeari.NoAnswer())
	c, err := h.fake.Inbound(eve(scenario.AliceMain))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the desk to be dialed", func() bool { return len(dialsOf(h.fake, c.ID())) == 1 })
	h.fake.Restart()
	res := h.waitEnd(c.ID())
	if res.Outcome.Kind != callflow.OutcomeMissed || res.Outcome.Reason != "caller_hangup" {
		t.Errorf("outcome %+v, want missed (the caller's channel was hung up by the restart)", res.Outcome)
	}
	ctx := context.Background()
	if n, _ := h.store.ActiveCalls(ctx, "alice"); n != 0 {
		t.Errorf("alice has %d active calls after the restart", n)
	}
	waitFor(t, "the link to drop", func() bool { return h.ad.Ready(ctx) != nil })
	waitFor(t, "the link to come back", func() bool { return h.ad.Ready(ctx) == nil })
	h.fake.Script("PJSIP/alice", fakeari.AnswersAfter(time.Second))
	c2, err := h.fake.Inbound(eve(scenario.AliceMain))
	if err != nil {
		t.Fatal(err)
	}
	if res := h.waitEnd(c2.ID()); res.Outcome.Kind != callflow.OutcomeAnswered {
		t.Errorf("call after the restart: %+v", res.Outcome)
	}
	// Presence was published again to the restarted Asterisk.
	if st := h.fake.DeviceStates()["Stasis:alice"]; st == "" {
		t.Error("Stasis:alice not published after the restart")
	}
}

// Created legs enter Stasis late (the window in which a dial gets 409): nothing is
// dialed before the leg's StasisStart, and the call proceeds once it comes.
func TestDialWaitsForStasisStart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	world(t, h.store, nil)
	h.fake.Script("PJSIP/alice", fakeari.AnswersAfter(time.Second))
	h.fake.HoldStasis()
	c, err := h.fake.Inbound(eve(scenario.AliceMain))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leg to be created", func() bool {
		return slices.ContainsFunc(h.fake.Actions(), func(a fakeari.Action) bool { return a.Kind == "create" })
	})
	if d := dialsOf(h.fake, c.ID()); len(d) != 0 {
		t.Fatalf("dialed before the leg entered Stasis: %+v", d)
	}
	h.fake.ReleaseStasis()
	if res := h.waitEnd(c.ID()); res.Outcome.Kind != callflow.OutcomeAnswered {
		t.Errorf("outcome %+v", res.Outcome)
	}
	if f := h.fake.Failures(); len(f) > 0 {
		t.Errorf("failures: %v", f)
	}
}

// Events race REST replies: the same calls work when every event comes before its
// request's reply, and when every event comes after.
func TestEventOrders(t *testing.T) {
	rows := map[string]bool{"desk answers": true, "busy desk without voicemail plays the busy sound": true,
		"simultaneous ring: a busy desk does not stop the mobile": true, "no answer forwards to bob, who answers": true,
		"unregistered desk without voicemail hears the announcement": true, "outbound call presents the main number": true}
	for _, order := range []fakeari.EventOrder{fakeari.EventsFirst, fakeari.ResponseFirst} {
		name := map[fakeari.EventOrder]string{fakeari.EventsFirst: "events first", fakeari.ResponseFirst: "response first"}[order]
		t.Run(name, func(t *testing.T) {
			for _, r := range scenario.Rows() {
				if !rows[r.Name] {
					continue
				}
				t.Run(r.Name, func(t *testing.T) {
					scenario.Check(t, &r, runner{order: order}.Run(t, &r))
				})
			}
		})
	}
}

// A user given a device after the adapter connected has it followed at once (not at the
// next periodic resync): its state is read, and its registrations arrive as events.
func TestNewDeviceFollowedAtOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{setup: func(st *config.Store) { world(t, st, nil) }})
	ctx := context.Background()
	h.fake.AddEndpoint("PJSIP/dave", "phones", true)
	s := config.DefaultSheet()
	s.ID, s.Name, s.MainNumber = "dave", "Dave", "+33478000077"
	s.Device = &config.Device{ID: "desk-dave", Endpoint: "PJSIP/dave"}
	if _, err := h.store.PutUser(ctx, &s, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the application subscribed to dave's endpoint", func() bool {
		return slices.Contains(h.fake.SubscribedEndpoints("sophia"), "PJSIP/dave")
	})
	state := func() config.DeviceState {
		v, err := h.store.CallView(ctx, "dave")
		if err != nil {
			t.Fatal(err)
		}
		return v.Device
	}
	if got := state(); got != config.DeviceOnline {
		t.Errorf("dave's device %v after the sync, want online", got)
	}
	h.fake.Unregister("PJSIP/dave")
	waitFor(t, "dave's device offline (EndpointStateChange)", func() bool { return state() == config.DeviceOffline })
}

// Device states come from Asterisk: the endpoints of users' devices are read at connect
// and followed; presence reaches Stasis:<user> (BLF).
func TestDeviceStatesAndSupervision(t *testing.T) {
	h := newHarness(t, harnessOptions{setup: func(st *config.Store) { world(t, st, nil) }})
	h.fake.AddEndpoint("PJSIP/alice", "phones", true)
	ctx := context.Background()
	h.fake.Unregister("PJSIP/alice")
	// alice's endpoint is subscribed only if it existed at connect: it did not (added
	// above), so reconnect to sync.
	h.fake.DropConnections()
	waitFor(t, "alice's device offline in Redis", func() bool {
		v, err := h.store.CallView(ctx, "alice")
		return err == nil && v.Device == config.DeviceOffline
	})
	waitFor(t, "Stasis:alice UNAVAILABLE", func() bool { return h.fake.DeviceStates()["Stasis:alice"] == "UNAVAILABLE" })
	h.fake.Register("PJSIP/alice")
	waitFor(t, "alice's device online again (EndpointStateChange)", func() bool {
		v, err := h.store.CallView(ctx, "alice")
		return err == nil && v.Device == config.DeviceOnline
	})
	waitFor(t, "Stasis:alice NOT_INUSE", func() bool { return h.fake.DeviceStates()["Stasis:alice"] == "NOT_INUSE" })
	// DND from the API (a store write) lights the key busy.
	if _, err := h.store.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Stasis:alice BUSY (dnd)", func() bool { return h.fake.DeviceStates()["Stasis:alice"] == "BUSY" })
}

// A number no user owns goes back to the dialplan (the default policy).
func TestUnknownNumberContinues(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	world(t, h.store, nil)
	c, err := h.fake.Inbound(eve("+33499999999"))
	if err != nil {
		t.Fatal(err)
	}
	res := h.waitEnd(c.ID())
	if !res.Continued {
		t.Errorf("result %+v, want continued", res)
	}
	if !slices.ContainsFunc(h.fake.Actions(c.ID()), func(a fakeari.Action) bool { return a.Kind == "continue" }) {
		t.Errorf("no continue on the channel: %v", h.fake.Actions(c.ID()))
	}
}

// The password is a secret: never in the logs, whatever happens on the link.
func TestPasswordNeverLogged(t *testing.T) {
	logs := &syncBuf{}
	h := newHarness(t, harnessOptions{adapter: func(o *ari.Options) {
		o.Password = "s3cret-pass"
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}, noStart: true})
	// Wrong password: the fake refuses, the adapter retries and logs why.
	waitFor(t, "a refused connect to be logged", func() bool { return strings.Contains(logs.String(), "401") })
	if strings.Contains(logs.String(), "s3cret-pass") {
		t.Error("the ARI password reached the log")
	}
	if err := h.ad.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Ready = %v, want the 401", err)
	}
}

// A phone Redis believes online (an unregistration missed) but Asterisk has no contact
// for: the leg's creation fails (500 "Allocation failed", trace 06) and the call takes
// the not-connected path, as if the state had been known.
func TestUnregisteredAtChannelCreation(t *testing.T) {
	// The sheets are written before the adapter starts: no sheet change follows, so no
	// sync reads alice's endpoint state into Redis behind the test's back.
	h := newHarness(t, harnessOptions{setup: func(st *config.Store) {
		world(t, st, func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false })
	}})
	ctx := context.Background()
	h.fake.Script("PJSIP/alice", fakeari.Offline())
	if _, err := h.store.SetDeviceState(ctx, "PJSIP/alice", config.DeviceOnline); err != nil {
		t.Fatal(err)
	}
	call, err := h.fake.Inbound(fakeari.InboundCall{CallerNumber: scenario.Outsider, Exten: scenario.AliceMain})
	if err != nil {
		t.Fatal(err)
	}
	res := h.waitEnd(call.ID())
	want := callflow.Outcome{Kind: callflow.OutcomeUnavailable, By: "alice", Reason: "not_connected"}
	if res.Outcome != want {
		t.Errorf("outcome %+v, want %+v", res.Outcome, want)
	}
	if len(res.Trace) == 0 || res.Trace[0].Action != "ring" {
		t.Errorf("trace %+v: want a ring step first (Redis said online)", res.Trace)
	}
	if len(dialsOf(h.fake, call.ID())) != 0 {
		t.Errorf("a leg was dialed: %v", dialsOf(h.fake, call.ID()))
	}
	if left := waitLeftovers(h.fake); len(left) > 0 {
		t.Errorf("left on Asterisk: %v", left)
	}
}

// A leg's creation whose reply is lost (the link broke mid-request: Asterisk may have
// made the channel) is not taken for an unreachable phone: the call ends on the error,
// as on FreeSWITCH when a command fails, and the channel Asterisk did make is hung up.
func TestLostCreateReply(t *testing.T) {
	h := newHarness(t, harnessOptions{setup: func(st *config.Store) {
		world(t, st, func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false })
	}})
	h.fake.Script("PJSIP/alice", fakeari.AnswersAfter(time.Second))
	h.fake.LoseReply("POST", "channels/create", 1)
	call, err := h.fake.Inbound(fakeari.InboundCall{CallerNumber: scenario.Outsider, Exten: scenario.AliceMain})
	if err != nil {
		t.Fatal(err)
	}
	res := h.waitEnd(call.ID())
	if res.Err == nil {
		t.Errorf("outcome %+v with no error, want the call ended on the lost request", res.Outcome)
	}
	if res.Outcome.Reason == "not_connected" {
		t.Errorf("outcome %+v: a lost reply taken for an unreachable phone", res.Outcome)
	}
	if left := waitLeftovers(h.fake); len(left) > 0 {
		t.Errorf("left on Asterisk: %v", left)
	}
}
