package api_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// aliceJSON rings her desk and her mobile together, then voicemail: the example.
var aliceJSON = map[string]any{
	"name": "Alice", "main_number": "+33478000001",
	"associated_numbers": []any{map[string]any{"number": "+33612345678", "label": "mobile", "callback": true}},
	"device":             map[string]any{"id": "desk-alice", "endpoint": "PJSIP/alice"},
	"forwards": map[string]any{
		"no_answer":         map[string]any{"enabled": true, "target": "voicemail", "timeout_s": 20},
		"simultaneous_ring": map[string]any{"enabled": true, "targets": []any{"+33612345678"}},
	},
}

func TestRouteExplain(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.must(201, fx.admin, "PUT", "/v1/users/alice", aliceJSON)
		fx.putUser("bob", "", "+33478000002")

		var x callflow.Explanation
		fx.must(200, fx.admin, "GET", "/v1/users/alice/route?at=2026-12-07T10:00:00%2B01:00", nil).json(t, &x)
		want := callflow.Explanation{User: "alice",
			Trace: []callflow.TraceStep{
				{User: "alice", Rule: "ring", Action: "ring", Targets: []string{"user:alice", "+33612345678"}, TimeoutS: 20},
				{User: "alice", Rule: "no_answer", Action: "voicemail", Targets: []string{"voicemail"}},
			},
			Outcome: callflow.Outcome{Kind: "voicemail", By: "alice"}}
		if !reflect.DeepEqual(x, want) {
			t.Errorf("route of alice =\n%+v\nwant\n%+v", x, want)
		}

		// Her phone is off: DESIGN §2 takes the not-connected path (rule 4) before any
		// ring (rule 6), so the mobile of the simultaneous ring is not rung: voicemail.
		q := url.Values{"respond": {"user:alice=offline", "+33612345678=answer"}}
		var off callflow.Explanation
		fx.must(200, fx.admin, "GET", "/v1/users/alice/route?"+q.Encode(), nil).json(t, &off)
		wantOff := []callflow.TraceStep{{User: "alice", Rule: "not_connected", Action: "voicemail", Targets: []string{"voicemail"}}}
		if !reflect.DeepEqual(off.Trace, wantOff) || off.Outcome != (callflow.Outcome{Kind: "voicemail", By: "alice"}) {
			t.Errorf("phone off: %+v", off)
		}
		// With a not-connected forward to her mobile, which answers.
		fx.must(200, fx.admin, "PUT", "/v1/users/alice/forwards/not_connected", map[string]any{"target": "+33612345678"})
		var fwd callflow.Explanation
		fx.must(200, fx.admin, "GET", "/v1/users/alice/route?"+q.Encode(), nil).json(t, &fwd)
		if fwd.Outcome != (callflow.Outcome{Kind: "answered", By: "+33612345678"}) || len(fwd.Trace) != 1 || fwd.Trace[0].Rule != "not_connected" || fwd.Trace[0].Action != "forward" {
			t.Errorf("phone off, not-connected forward to the mobile, which answers: %+v", fwd)
		}

		e := fx.must(400, fx.admin, "GET", "/v1/users/alice/route?respond=user:alice=maybe", nil).errBody(t)
		if len(e.Fields) != 1 || e.Fields[0].Path != "respond" {
			t.Errorf("bad respond: %+v", e)
		}
		if e := fx.must(400, fx.admin, "GET", "/v1/users/alice/route?when=now", nil).errBody(t); len(e.Fields) != 1 || e.Fields[0].Path != "when" {
			t.Errorf("unknown parameter: %+v", e)
		}
		fx.must(404, fx.admin, "GET", "/v1/users/nobody/route", nil)
		self := fx.token("bob-phone", config.ScopeUser, "bob")
		fx.must(403, self, "GET", "/v1/users/alice/route", nil)
		fx.must(200, self, "GET", "/v1/users/bob/route", nil)
	})
}

func TestAdvice(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	s, err := api.New(api.Options{Store: store, Registerer: reg, Gatherer: reg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureWith(t, store, s)
	fx.must(201, fx.admin, "PUT", "/v1/users/alice", aliceJSON)

	var a api.AdviceAnswer
	fx.must(200, fx.admin, "GET", "/v1/users/alice/advice", nil).json(t, &a)
	if a.User != "alice" || !hasAdvice(a.Advice, callflow.AdviceNoNotConnected) {
		t.Errorf("advice of alice (no not-connected forward) = %+v", a)
	}
	if hasAdvice(a.Advice, callflow.AdviceUnconditionalLong) {
		t.Errorf("advice of alice without an unconditional forward names one: %+v", a.Advice)
	}

	// An unconditional forward to her mobile, turned on (the audit says when) and left
	// on for weeks by the API's clock.
	fx.must(200, fx.admin, "PUT", "/v1/users/alice/forwards/unconditional", map[string]any{"target": "+33612345678"})
	now = now.Add(30 * 24 * time.Hour)
	fx.must(200, fx.admin, "GET", "/v1/users/alice/advice", nil).json(t, &a)
	if !hasAdvice(a.Advice, callflow.AdviceUnconditionalLong) {
		t.Errorf("advice 30 days after the unconditional forward was turned on = %+v", a.Advice)
	}
	if _, err := store.Audit(context.Background(), "user", "alice", 0); err != nil {
		t.Fatal(err)
	}
}

func hasAdvice(items []callflow.Advice, code string) bool {
	for _, a := range items {
		if a.Code == code {
			return true
		}
	}
	return false
}
