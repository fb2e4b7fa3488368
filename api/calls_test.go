package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/tone"
)

func TestUserCalls(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("alice", "", "+33478000001")
		fx.putUser("bob", "", "+33478000002")
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		for _, id := range []string{"c1", "c2", "c3"} {
			rec := &config.CallRecord{ID: id, Direction: "inbound", From: "+33145000000", To: "+33478000001",
				Start: at, End: at.Add(time.Minute), Outcome: "missed", By: "alice", Reason: "no_answer"}
			if err := fx.store.RecordCall(context.Background(), rec, []string{"alice"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var page api.Page[config.CallRecord]
		fx.must(200, fx.admin, "GET", "/v1/users/alice/calls", nil).json(t, &page)
		if len(page.Items) != 3 || page.Items[0].ID != "c3" || page.Items[0].Outcome != "missed" || page.Items[0].Reason != "no_answer" {
			t.Errorf("alice's calls = %+v", page.Items)
		}
		fx.must(200, fx.admin, "GET", "/v1/users/alice/calls?limit=1", nil).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != "c3" {
			t.Errorf("limit=1: %+v", page.Items)
		}
		fx.must(200, fx.admin, "GET", "/v1/users/bob/calls", nil).json(t, &page)
		if page.Items == nil || len(page.Items) != 0 {
			t.Errorf("bob's calls = %#v, want an empty list", page.Items)
		}
		if e := fx.must(400, fx.admin, "GET", "/v1/users/alice/calls?limit=0", nil).errBody(t); len(e.Fields) != 1 || e.Fields[0].Path != "limit" {
			t.Errorf("limit=0: %+v", e)
		}
		self := fx.token("alice-phone", config.ScopeUser, "alice")
		fx.must(200, self, "GET", "/v1/users/alice/calls", nil)
		fx.must(403, self, "GET", "/v1/users/bob/calls", nil)
		fx.must(401, "", "GET", "/v1/users/alice/calls", nil)
		fx.must(404, fx.admin, "GET", "/v1/users/nobody/calls", nil)
	})
}

func TestPublicMedia(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	data := tone.WAV(8000, tone.Segment{Hz: 425, Dur: 200 * time.Millisecond})
	if _, err := store.PutMedia(context.Background(), "busy-fr", data, "test"); err != nil {
		t.Fatal(err)
	}
	off := newFixtureOn(t, store)
	off.must(404, "", "GET", "/media/busy-fr.wav", nil)

	reg := prometheus.NewRegistry()
	s, err := api.New(api.Options{Store: store, Registerer: reg, Gatherer: reg, PublicMedia: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for path, want := range map[string]int{"/media/busy-fr.wav": 200, "/media/busy-fr": 404, "/media/nope.wav": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
		if want == 200 && (res.Header.Get("Content-Type") != "audio/wav" || string(body) != string(data)) {
			t.Errorf("GET %s: %s, %d bytes", path, res.Header.Get("Content-Type"), len(body))
		}
	}
}
