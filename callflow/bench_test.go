package callflow_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// BenchmarkRun: the executor's own cost for a call that rings the desk and the mobile and
// goes to voicemail (two steps), on the simulation driver over a MapDirectory.
func BenchmarkRun(b *testing.B) {
	users := scenario.Sheets()
	users["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{scenario.AliceMobile}, Confirm: true}
	dir, err := callflow.NewMapDirectory([]*config.Site{scenario.Site()}, slices.Collect(maps.Values(users))...)
	if err != nil {
		b.Fatal(err)
	}
	opt := at(scenario.DefaultAt)
	call := &callflow.Call{User: "alice", From: scenario.Eve, To: scenario.AliceMain, View: dir["alice"]}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := callflow.Run(ctx, call, &callflow.Sim{}, dir, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExplain: GET /v1/users/{id}/route's work besides the store.
func BenchmarkExplain(b *testing.B) {
	dir, err := callflow.NewMapDirectory([]*config.Site{scenario.Site()}, slices.Collect(maps.Values(scenario.Sheets()))...)
	if err != nil {
		b.Fatal(err)
	}
	p := callflow.ExplainParams{At: scenario.DefaultAt, Respond: map[string]callflow.Behavior{"user:alice": callflow.Busy}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := callflow.Explain(context.Background(), dir, "alice", p); err != nil {
			b.Fatal(err)
		}
	}
}
