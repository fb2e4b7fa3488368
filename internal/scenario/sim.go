package scenario

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
)

// WritableSite returns a copy of site whose outside-call policy allows everything: a
// Runner that stores sheets through validation stores it first, then the sheets, then
// the row's site (a row may forbid, as a later policy change does, what a sheet uses).
func WritableSite(site *config.Site) *config.Site {
	s := *site
	s.OutsideCalls = config.OutsidePolicy{International: true, Premium: true, Allow: []string{}, Block: []string{}}
	return &s
}

// Bare returns a copy of sheet without forwards: forwards name users that must exist
// when a sheet is validated, so a Runner stores every sheet bare first, then in full.
func Bare(sheet *config.Sheet) *config.Sheet {
	s := *sheet
	s.Forwards = config.DefaultSheet().Forwards
	return &s
}

// Sim runs rows on callflow's simulation driver over a MapDirectory: what callflow's
// tests run, the reference the adapters must match.
type Sim struct{}

// Run implements Runner.
func (Sim) Run(t *testing.T, r *Row) Observation {
	t.Helper()
	site, users := r.World()
	dir, err := callflow.NewMapDirectory([]*config.Site{site}, slices.Collect(maps.Values(users))...)
	if err != nil {
		t.Fatalf("world: %v", err)
	}
	for uid, v := range dir {
		v.Device, v.ActiveCalls = r.DeviceState(uid), r.Active[uid]
	}
	sim := &callflow.Sim{Scripts: r.Endpoints, CallerHangupS: r.CallerHangupS, NoVoicemail: r.NoVoicemail}
	opt := &callflow.Options{Now: func() time.Time { return r.Clock() }}
	ctx := context.Background()
	var res *callflow.Result
	switch r.Call.Direction {
	case Inbound:
		v, err := dir.CallViewByNumber(ctx, r.Call.To)
		if err != nil {
			t.Fatalf("no user for %s: %v", r.Call.To, err)
		}
		res, err = callflow.Run(ctx, &callflow.Call{User: v.User.Sheet.ID, From: r.Call.From, To: r.Call.To, View: v}, sim, dir, opt)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case Outbound:
		res, err = callflow.RunOutbound(ctx, &callflow.OutboundCall{User: r.Call.User, Dialed: r.Call.Dialed}, sim, dir, opt)
		if err != nil {
			t.Fatalf("RunOutbound: %v", err)
		}
	}
	obs := Observe(sim, res)
	if len(sim.Hangups) > 1 {
		t.Errorf("hung up %d times: %v", len(sim.Hangups), sim.Hangups)
	}
	return obs
}

// Observe turns what a Sim driver was asked, and Run's result, into an Observation.
func Observe(sim *callflow.Sim, res *callflow.Result) Observation {
	obs := Observation{Heard: sim.Heard, Outcome: res.Outcome}
	for _, rg := range sim.Rings {
		d := Dial{TimeoutS: rg.TimeoutS}
		for _, l := range rg.Legs {
			d.Legs = append(d.Legs, LegOf(l))
		}
		obs.Dials = append(obs.Dials, d)
	}
	if n := len(sim.Hangups); n > 0 {
		obs.Hangup = sim.Hangups[n-1].String()
	}
	return obs
}
