package switchboard_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/scenario"
	"github.com/sophia-pbx/sophia/switchboard"
)

// simDriver is callflow's simulation driver (the same far ends explain uses) with the
// two methods only a live call has: it records them.
type simDriver struct {
	callflow.Sim
	continued, talked bool
	// seen records, at each ring and at the conversation, the presence the board gives
	// the users of the world.
	board *switchboard.Board
	seen  []string
	// onRing, when set, runs at the first ring; onTalk during the conversation.
	onRing, onTalk func()
}

func (d *simDriver) Continue(context.Context) error { d.continued = true; return nil }
func (d *simDriver) Talk(context.Context) error {
	d.talked = true
	d.look("talk")
	if d.onTalk != nil {
		d.onTalk()
	}
	return nil
}

func (d *simDriver) Ring(ctx context.Context, r *callflow.Ring) (int, error) {
	if d.onRing != nil {
		d.onRing()
		d.onRing = nil
	}
	d.look("ring")
	return d.Sim.Ring(ctx, r)
}

func (d *simDriver) look(when string) {
	s := when + ":"
	for _, u := range []string{"alice", "bob"} {
		s += " " + u + "=" + d.board.Presence(u).String()
	}
	d.seen = append(d.seen, s)
}

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu   sync.Mutex
	got  []string
	wake chan struct{}
}

func (r *recorder) Publish(_ context.Context, user string, p switchboard.Presence) error {
	r.mu.Lock()
	r.got = append(r.got, user+"="+p.String())
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until the recorder holds want, in order, among what it received.
func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		got := append([]string(nil), r.got...)
		r.mu.Unlock()
		if containsInOrder(got, want) {
			return
		}
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("published %v, want %v among them in order", got, want)
		}
	}
}

func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

type env struct {
	st    *config.Store
	reg   *prometheus.Registry
	board *switchboard.Board
	pub   *recorder
	now   time.Time
}

// newEnv loads the scenario world of row into a store on the test Redis, and starts a
// board over it.
func newEnv(t *testing.T, row *scenario.Row, edit func(*switchboard.Options)) *env {
	t.Helper()
	rdb, prefix := redistest.New(t)
	return newEnvOn(t, rdb, prefix, row, edit)
}

// newEnvOn is newEnv on a client of the caller's (one counting its round trips).
func newEnvOn(t *testing.T, rdb redis.UniversalClient, prefix string, row *scenario.Row, edit func(*switchboard.Options)) *env {
	t.Helper()
	st, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := scenario.Load(ctx, st, row, nil); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, reg: prometheus.NewRegistry(), pub: &recorder{wake: make(chan struct{}, 1)}, now: row.Clock()}
	o := switchboard.Options{Store: st, Registerer: e.reg, Now: func() time.Time { return e.now }, Region: "FR"}
	if edit != nil {
		edit(&o)
	}
	e.board, err = switchboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.board.AddPublisher(e.pub)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.board.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for e.board.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the board never followed sheet changes")
		}
		time.Sleep(time.Millisecond)
	}
	return e
}

func findRow(t *testing.T, name string) scenario.Row {
	for _, r := range scenario.Rows() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return scenario.Row{}
}

func (e *env) handle(t *testing.T, row *scenario.Row, id string) (*switchboard.Result, *simDriver) {
	t.Helper()
	return e.handleWith(t, row, id, nil)
}

// handleWith is handle with onRing run at the call's first ring.
func (e *env) handleWith(t *testing.T, row *scenario.Row, id string, onRing func()) (*switchboard.Result, *simDriver) {
	t.Helper()
	d := &simDriver{Sim: callflow.Sim{Scripts: row.Endpoints, CallerHangupS: row.CallerHangupS, NoVoicemail: row.NoVoicemail},
		board: e.board, onRing: onRing}
	c := &switchboard.Call{ID: id, Direction: switchboard.Inbound, From: row.Call.From, To: row.Call.To}
	if row.Call.Direction == scenario.Outbound {
		c.Direction, c.To, c.Endpoint, c.From = switchboard.Outbound, row.Call.Dialed, "PJSIP/"+row.Call.User, dialplan.Party{Number: "alice"}
	}
	return e.board.Handle(context.WithValue(context.Background(), onCallPath{}, true), c, d), d
}

func TestInboundCallIsLoggedAndCounted(t *testing.T) {
	row := findRow(t, "no answer forwards to bob, who answers")
	e := newEnv(t, &row, nil)
	res, d := e.handle(t, &row, "call-1")
	if res.Err != nil || res.Outcome != (callflow.Outcome{Kind: callflow.OutcomeAnswered, By: "user:bob"}) {
		t.Fatalf("Handle = %+v", res)
	}
	if !d.talked {
		t.Error("an answered call did not go on to Talk")
	}
	ctx := context.Background()
	for _, uid := range []string{"alice", "bob"} {
		log, err := e.st.CallLog(ctx, uid, 0)
		if err != nil || len(log) != 1 {
			t.Fatalf("%s's call log = %v %+v, want one record", uid, err, log)
		}
		r := log[0]
		if r.ID != "call-1" || r.Direction != "inbound" || r.Outcome != "answered" || r.By != "user:bob" ||
			r.From != scenario.Outsider || r.To != scenario.AliceMain || strings.Join(r.Forwards, ",") != "alice/no_answer" {
			t.Errorf("%s's record = %+v", uid, r)
		}
		if n, _ := e.st.ActiveCalls(ctx, uid); n != 0 {
			t.Errorf("%s still has %d active calls after the call", uid, n)
		}
	}
	if got := testutil.ToFloat64(mustVec(t, e.reg, "sophia_calls_total", "direction", "inbound", "outcome", "answered")); got != 1 {
		t.Errorf("sophia_calls_total{inbound,answered} = %v, want 1", got)
	}
	if got := counter(t, e.reg, "sophia_forwards_total", map[string]string{"kind": "no_answer"}); got != 1 {
		t.Errorf("sophia_forwards_total{kind=no_answer} = %v, want 1", got)
	}
	if e.board.Leases() != 0 {
		t.Errorf("%d leases held after the call", e.board.Leases())
	}
	// alice rang, then bob rang and talked: their BLF keys followed.
	want := []string{"ring: alice=ringing bob=idle", "ring: alice=idle bob=ringing", "talk: alice=idle bob=in_call"}
	if strings.Join(d.seen, "|") != strings.Join(want, "|") {
		t.Errorf("presence seen %q, want %q", d.seen, want)
	}
	e.pub.waitFor(t, "alice=idle")
	e.pub.waitFor(t, "bob=idle")
}

func TestMissedCallMetrics(t *testing.T) {
	row := findRow(t, "caller hangs up while the desk rings")
	e := newEnv(t, &row, nil)
	res, _ := e.handle(t, &row, "call-2")
	if res.Outcome.Kind != callflow.OutcomeMissed || res.Outcome.Reason != "caller_hangup" {
		t.Fatalf("outcome %+v", res.Outcome)
	}
	if got := counter(t, e.reg, "sophia_missed_calls_total", map[string]string{"reason": "caller_hangup"}); got != 1 {
		t.Errorf("missed{caller_hangup} = %v, want 1", got)
	}
	log, _ := e.st.CallLog(context.Background(), "alice", 0)
	if len(log) != 1 || log[0].Outcome != "missed" || log[0].Reason != "caller_hangup" {
		t.Errorf("call log %+v", log)
	}
}

func TestCallBetweenUsersIsBothOutboundAndInbound(t *testing.T) {
	row := findRow(t, "a call to a colleague is the colleague's inbound call")
	e := newEnv(t, &row, nil)
	res, d := e.handle(t, &row, "call-3")
	if res.Outcome != (callflow.Outcome{Kind: callflow.OutcomeAnswered, By: "user:bob"}) || res.User != "alice" {
		t.Fatalf("Handle = %+v", res)
	}
	ctx := context.Background()
	a, _ := e.st.CallLog(ctx, "alice", 0)
	b, _ := e.st.CallLog(ctx, "bob", 0)
	if len(a) != 1 || a[0].Direction != "outbound" || len(b) != 1 || b[0].Direction != "inbound" {
		t.Errorf("alice's log %+v, bob's %+v: want alice outbound, bob inbound", a, b)
	}
	want := []string{"ring: alice=in_call bob=ringing", "talk: alice=in_call bob=in_call"}
	if strings.Join(d.seen, "|") != strings.Join(want, "|") {
		t.Errorf("presence seen %q, want %q", d.seen, want)
	}
	e.pub.waitFor(t, "alice=idle")
	e.pub.waitFor(t, "bob=idle")
}

func TestMaxCallsHoldThroughLeases(t *testing.T) {
	// Alice may take 2 calls: two calls in progress (their leases) make the third busy.
	row := findRow(t, "desk answers")
	row.Edit = func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false }
	e := newEnv(t, &row, nil)
	ctx := context.Background()
	for _, id := range []string{"other-daemon-1", "other-daemon-2"} {
		if _, err := e.st.AcquireCall(ctx, "alice", id, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := e.handle(t, &row, "call-4")
	if res.Outcome.Kind != callflow.OutcomeBusy {
		t.Errorf("third call: %+v, want busy", res.Outcome)
	}
	if n, _ := e.st.ActiveCalls(ctx, "alice"); n != 2 {
		t.Errorf("alice has %d active calls after the busy call, want the 2 others", n)
	}
}

func TestUnknownNumber(t *testing.T) {
	for _, tt := range []struct {
		policy         switchboard.UnknownPolicy
		continued, rej bool
	}{{switchboard.UnknownContinue, true, false}, {switchboard.UnknownReject, false, true}} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			row := findRow(t, "desk answers")
			e := newEnv(t, &row, func(o *switchboard.Options) { o.Unknown = tt.policy })
			row.Call.To = "+33499999999"
			res, d := e.handle(t, &row, "call-5")
			if res.Continued != tt.continued || res.Rejected != tt.rej || d.continued != tt.continued {
				t.Errorf("Handle = %+v, driver continued %v", res, d.continued)
			}
			if tt.rej && (len(d.Hangups) != 1 || d.Hangups[0] != callflow.CauseRejected) {
				t.Errorf("hangups %v, want rejected", d.Hangups)
			}
			if got := counter(t, e.reg, "sophia_unknown_number_calls_total", map[string]string{"direction": "inbound", "action": tt.policy.String()}); got != 1 {
				t.Errorf("unknown-number counter = %v", got)
			}
		})
	}
}

func TestNationalNumberFindsTheUser(t *testing.T) {
	row := findRow(t, "desk answers")
	e := newEnv(t, &row, nil)
	row.Call.To = "0478000001"
	res, _ := e.handle(t, &row, "call-6")
	if res.User != "alice" || res.Outcome.Kind != callflow.OutcomeAnswered {
		t.Errorf("call to 0478000001 = %+v, want alice's", res)
	}
}

func TestDeviceStateAndDNDPresence(t *testing.T) {
	row := findRow(t, "desk answers")
	e := newEnv(t, &row, nil)
	ctx := context.Background()
	if uid, err := e.board.DeviceState(ctx, "PJSIP/alice", config.DeviceOffline); err != nil || uid != "alice" {
		t.Fatal(err)
	}
	e.pub.waitFor(t, "alice=offline")
	if _, err := e.board.DeviceState(ctx, "PJSIP/alice", config.DeviceOnline); err != nil {
		t.Fatal(err)
	}
	e.pub.waitFor(t, "alice=offline", "alice=idle")
	if uid, err := e.board.DeviceState(ctx, "PJSIP/nobody", config.DeviceOnline); err != nil || uid != "" {
		t.Errorf("a device no user holds: %v, want nil", err)
	}
	// DND turned on through the store (as the API does) reaches the BLF key.
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "test"); err != nil {
		t.Fatal(err)
	}
	e.pub.waitFor(t, "alice=offline", "alice=idle", "alice=dnd")
}

func TestMetricsLint(t *testing.T) {
	row := findRow(t, "desk answers")
	e := newEnv(t, &row, nil)
	e.board.SetLink("asterisk", true)
	e.handle(t, &row, "call-7")
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if got := counter(t, e.reg, "sophia_pbx_link_up", map[string]string{"pbx": "asterisk"}); got != 1 {
		t.Errorf("link gauge = %v", got)
	}
	if n := histCount(t, e.reg, "sophia_call_setup_seconds", "inbound"); n != 1 {
		t.Errorf("setup latency observed %d times, want 1", n)
	}
}

func TestOptions(t *testing.T) {
	if _, err := switchboard.New(switchboard.Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
	for in, want := range map[string]switchboard.UnknownPolicy{"": switchboard.UnknownContinue, "continue": switchboard.UnknownContinue, "REJECT": switchboard.UnknownReject} {
		if got, err := switchboard.ParseUnknownPolicy(in); err != nil || got != want {
			t.Errorf("ParseUnknownPolicy(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := switchboard.ParseUnknownPolicy("drop"); err == nil || !strings.Contains(err.Error(), "continue or reject") {
		t.Errorf("ParseUnknownPolicy(drop) = %v", err)
	}
}

// startBoard runs another board (another daemon) over st, publishing to its own
// recorder, until the test ends.
func startBoard(t *testing.T, st *config.Store, edit func(*switchboard.Options)) (*switchboard.Board, *recorder) {
	t.Helper()
	o := switchboard.Options{Store: st, Region: "FR"}
	if edit != nil {
		edit(&o)
	}
	b, err := switchboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	pub := &recorder{wake: make(chan struct{}, 1)}
	b.AddPublisher(pub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for b.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the second board never became ready")
		}
		time.Sleep(time.Millisecond)
	}
	return b, pub
}

// TestPresenceAcrossDaemons: a call one daemon handles lights the BLF keys another
// daemon publishes to (two sophiad sharing a Redis, each with its PBX): ringing, in
// call, idle again, on both.
func TestPresenceAcrossDaemons(t *testing.T) {
	row := findRow(t, "desk answers")
	a := newEnv(t, &row, nil)
	other, pub := startBoard(t, a.st, nil)
	d := &simDriver{Sim: callflow.Sim{Scripts: row.Endpoints}, board: a.board,
		// Each state held until both daemons published it: a publisher gets a user's
		// latest state only, and a state gone before it was published is never seen.
		onRing: func() { pub.waitFor(t, "alice=ringing"); a.pub.waitFor(t, "alice=ringing") },
		onTalk: func() {
			pub.waitFor(t, "alice=ringing", "alice=in_call")
			a.pub.waitFor(t, "alice=ringing", "alice=in_call")
		}}
	c := &switchboard.Call{ID: "c1", Direction: switchboard.Inbound, From: row.Call.From, To: row.Call.To}
	if res := a.board.Handle(context.Background(), c, d); res.Outcome.Kind != callflow.OutcomeAnswered {
		t.Fatalf("outcome %+v", res.Outcome)
	}
	pub.waitFor(t, "alice=ringing", "alice=in_call", "alice=idle")
	a.pub.waitFor(t, "alice=ringing", "alice=in_call", "alice=idle")
	if p := other.Presence("alice"); p != switchboard.PresenceIdle {
		t.Errorf("the other daemon has alice %v after the call", p)
	}
}

// TestPresenceOfADeadDaemon: the share of a daemon that died (no renewal) stops counting
// once it expires: its user does not stay "in call" on the others' keys.
func TestPresenceOfADeadDaemon(t *testing.T) {
	row := findRow(t, "desk answers")
	e := newEnv(t, &row, func(o *switchboard.Options) { o.Lease = time.Second }) // reads shares again every 1/3 s
	ctx := context.Background()
	if err := e.st.SharePresence(ctx, "alice", "ghost", config.CallPresence{InCall: 1}, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e.pub.waitFor(t, "alice=in_call")
	e.pub.waitFor(t, "alice=in_call", "alice=idle")
}

// TestWithheldCallerID: what PBXs put in the caller ID of a withheld call reads as no
// number on either PBX: the forwarded leg presents the user's number, and the log shows
// no caller.
func TestWithheldCallerID(t *testing.T) {
	row := findRow(t, "an anonymous caller forwarded outside presents alice's number")
	e := newEnv(t, &row, nil)
	for _, from := range []dialplan.Party{{Number: "anonymous", Name: "Anonymous"}, {Number: "0000000000"}, {Number: " Restricted "}} {
		r := row
		r.Call.From = from
		res, d := e.handle(t, &r, "c-"+strings.TrimSpace(from.Number))
		if res.Outcome != row.Want.Outcome {
			t.Errorf("from %q: outcome %+v, want %+v", from.Number, res.Outcome, row.Want.Outcome)
		}
		if len(d.Rings) == 0 || d.Rings[0].Legs[0].CallerID.Number != row.Want.Dials[0].Legs[0].Number {
			t.Errorf("from %q: rings %+v, want the leg to present %s", from.Number, d.Rings, row.Want.Dials[0].Legs[0].Number)
		}
	}
	log, err := e.st.CallLog(context.Background(), "alice", 0)
	if err != nil || len(log) != 3 {
		t.Fatalf("call log: %v %v", log, err)
	}
	for _, rec := range log {
		if rec.From != "" || rec.FromName != "" {
			t.Errorf("call log shows the caller %q %q, want none", rec.From, rec.FromName)
		}
	}
}
