package callflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

var (
	_ callflow.Directory       = (*config.Store)(nil)
	_ callflow.NumberDirectory = (*config.Store)(nil)
)

func newStore(t *testing.T) *config.Store {
	t.Helper()
	c, prefix := redistest.New(t)
	st, err := config.New(config.Options{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storeRunner runs rows on the simulation driver over the real store in real Redis:
// what the adapters do, minus the PBX. It proves scenario.Load writes every row's world
// and that the store's call path feeds the executor what the table expects.
type storeRunner struct{}

func (storeRunner) Run(t *testing.T, r *scenario.Row) scenario.Observation {
	t.Helper()
	st := newStore(t)
	ctx := context.Background()
	if err := scenario.Load(ctx, st, r, nil); err != nil {
		t.Fatalf("load the row's world: %v", err)
	}
	sim := &callflow.Sim{Scripts: r.Endpoints, CallerHangupS: r.CallerHangupS, NoVoicemail: r.NoVoicemail}
	opt := &callflow.Options{Now: func() time.Time { return r.Clock() }}
	var res *callflow.Result
	var err error
	switch r.Call.Direction {
	case scenario.Inbound:
		v, verr := st.CallViewByNumber(ctx, r.Call.To)
		if verr != nil {
			t.Fatalf("callee of %s: %v", r.Call.To, verr)
		}
		res, err = callflow.Run(ctx, &callflow.Call{User: v.User.Sheet.ID, From: r.Call.From, To: r.Call.To, View: v}, sim, st, opt)
	case scenario.Outbound:
		res, err = callflow.RunOutbound(ctx, &callflow.OutboundCall{User: r.Call.User, Dialed: r.Call.Dialed}, sim, st, opt)
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return scenario.Observe(sim, res)
}

func TestScenariosOnTheStore(t *testing.T) {
	scenario.RunAll(t, storeRunner{})
}

// TestExplainOnTheStore: the API's explain reads the store; it must agree with a
// MapDirectory of the same sheets.
func TestExplainOnTheStore(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	row := &scenario.Row{Edit: func(u map[string]*config.Sheet) {
		u["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{scenario.AliceMobile, "user:bob"}, Confirm: true}
		u["alice"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:carol", TimeoutS: 15}
		u["carol"].Forwards.Busy = config.Forward{Enabled: true, Target: scenario.CarolMobile}
	}, Endpoints: map[string]callflow.Script{"user:bob": {Behavior: callflow.Offline}}}
	if err := scenario.Load(ctx, st, row, nil); err != nil {
		t.Fatal(err)
	}
	p := callflow.ExplainParams{At: scenario.DefaultAt, Respond: map[string]callflow.Behavior{"user:carol": callflow.Busy, scenario.CarolMobile: callflow.Answer}}
	fromStore, err := callflow.Explain(ctx, st, "alice", p)
	if err != nil {
		t.Fatal(err)
	}
	fromMap, err := callflow.Explain(ctx, world(t, row.Edit), "alice", p)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := render(fromStore), render(fromMap); a != b {
		t.Errorf("store:\n%s\nmap:\n%s", a, b)
	}
	if fromStore.Outcome != (callflow.Outcome{Kind: callflow.OutcomeAnswered, By: scenario.CarolMobile}) {
		t.Errorf("outcome %+v", fromStore.Outcome)
	}
	if _, err := callflow.Explain(ctx, st, "nobody", p); !errorsIs(err, config.ErrNotFound) {
		t.Errorf("Explain(nobody) on the store = %v, want ErrNotFound", err)
	}
}

// TestUnconditionalSinceFromTheAudit reads the time an unconditional forward was turned
// on from the store's real audit log.
func TestUnconditionalSinceFromTheAudit(t *testing.T) {
	c, prefix := redistest.New(t)
	clock := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	st, err := config.New(config.Options{Client: c, Prefix: prefix, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := scenario.Load(ctx, st, &scenario.Row{}, nil); err != nil {
		t.Fatal(err)
	}
	since := func() time.Time {
		t.Helper()
		entries, err := st.Audit(ctx, config.KindUser, "alice", 0)
		if err != nil {
			t.Fatal(err)
		}
		return callflow.UnconditionalSince(entries)
	}
	created := clock
	if got := since(); !got.Equal(created) {
		t.Errorf("never turned on: since %v, want the oldest entry %v", got, created)
	}
	clock = clock.Add(48 * time.Hour)
	on := clock
	if _, err := st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error {
		s.Forwards.Unconditional = config.Forward{Enabled: true, Target: scenario.AliceMobile}
		return nil
	}, "test"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(20 * 24 * time.Hour)
	if _, err := st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "test"); err != nil {
		t.Fatal(err)
	}
	if got := since(); !got.Equal(on) {
		t.Errorf("since %v, want when it was turned on, %v", got, on)
	}
	advice, err := callflow.Advise(ctx, st, "alice", callflow.AdviceOptions{Now: clock, UnconditionalSince: since()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range advice {
		found = found || a.Code == callflow.AdviceUnconditionalLong && strings.Contains(a.Message, "for 20 days")
	}
	if !found {
		t.Errorf("no unconditional_left_on for 20 days in %+v", advice)
	}
}
