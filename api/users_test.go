package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
)

func TestUserRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putSite("lyon")
		r := fx.must(201, fx.admin, "PUT", "/v1/users/alice", `{"site":"lyon","name":"Alice Martin","main_number":"04 78 00 00 01"}`)
		created := sheetOf(t, r)
		if created.Version != 1 || created.MainNumber != "+33478000001" {
			t.Errorf("created: version %d main %q, want 1 and the E.164 number", created.Version, created.MainNumber)
		}
		if got := r.header.Get("ETag"); got != `"1"` {
			t.Errorf("ETag = %q, want \"1\"", got)
		}
		if got := r.header.Get("Location"); got != "/v1/users/alice" {
			t.Errorf("Location = %q", got)
		}

		r = fx.must(200, fx.admin, "GET", "/v1/users/alice", nil)
		got := sheetOf(t, r)
		if got.Name != "Alice Martin" || got.Site != "lyon" || r.header.Get("ETag") != `"1"` {
			t.Errorf("GET: %+v, ETag %s", got, r.header.Get("ETag"))
		}
		// Defaults of omitted fields are there.
		if got.Forwards.NoAnswer.TimeoutS != config.DefaultNoAnswerTimeoutS || !got.Voicemail.Enabled {
			t.Errorf("defaults not applied: %+v", got.Forwards.NoAnswer)
		}

		// Creating again (version 0) is a conflict, not an overwrite.
		r = fx.must(409, fx.admin, "PUT", "/v1/users/alice", `{"site":"lyon","name":"Someone else"}`)
		if c := r.errBody(t).Code; c != api.CodeConflict {
			t.Errorf("code %q, want %q", c, api.CodeConflict)
		}
		// Replace with the version in the body, then with If-Match.
		got.Name = "Alice M."
		r = fx.must(200, fx.admin, "PUT", "/v1/users/alice", got)
		if v := sheetOf(t, r).Version; v != 2 {
			t.Errorf("version after PUT = %d, want 2", v)
		}
		fx.must(409, fx.admin, "PUT", "/v1/users/alice", got) // version 1 is stale now
		got.Version = 0
		got.Name = "Alice Martin"
		r = fx.must(200, fx.admin, "PUT", "/v1/users/alice", got, "If-Match", `"2"`)
		if s := sheetOf(t, r); s.Version != 3 || s.Name != "Alice Martin" {
			t.Errorf("after If-Match PUT: version %d name %q", s.Version, s.Name)
		}
		// The same sheet again changes nothing: same version (an import run twice).
		r = fx.must(200, fx.admin, "PUT", "/v1/users/alice", got, "If-Match", `"3"`)
		if s := sheetOf(t, r); s.Version != 3 || s.Name != "Alice Martin" {
			t.Errorf("after an identical PUT: version %d name %q, want 3, unchanged", s.Version, s.Name)
		}

		// PATCH: a merge patch; null removes (back to the default), objects merge.
		r = fx.must(200, fx.admin, "PATCH", "/v1/users/alice",
			`{"comment":"Accueil","forwards":{"busy":{"enabled":true,"target":"voicemail"}}}`,
			"Content-Type", "application/merge-patch+json")
		s := sheetOf(t, r)
		if s.Comment != "Accueil" || !s.Forwards.Busy.Enabled || s.Forwards.Busy.Target != "voicemail" || s.Name != "Alice Martin" || s.Version != 4 {
			t.Errorf("after PATCH: %+v", s)
		}
		r = fx.must(200, fx.admin, "PATCH", "/v1/users/alice", `{"comment":null}`)
		if s := sheetOf(t, r); s.Comment != "" {
			t.Errorf("comment after null patch = %q", s.Comment)
		}
		// The id cannot be patched; a wrong id in a PUT body is refused.
		fx.must(422, fx.admin, "PATCH", "/v1/users/alice", `{"id":"bob"}`)
		fx.must(422, fx.admin, "PUT", "/v1/users/alice", `{"id":"bob","site":"lyon"}`)

		fx.must(409, fx.admin, "DELETE", "/v1/users/alice", nil, "If-Match", `"1"`)
		fx.must(204, fx.admin, "DELETE", "/v1/users/alice", nil)
		r = fx.must(404, fx.admin, "GET", "/v1/users/alice", nil)
		if e := r.errBody(t); e.Code != api.CodeNotFound || e.Message != "user alice does not exist" {
			t.Errorf("404: %+v", e)
		}
	})
}

func TestListPagingAndFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putSite("lyon")
		fx.putSite("paris")
		for i, id := range []string{"u1", "u2", "u3", "u4", "u5"} {
			site := "lyon"
			if i >= 3 {
				site = "paris"
			}
			fx.putUser(id, site, fmt.Sprintf("+3347800000%d", i+1))
		}
		var ids []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			var p api.Page[config.Sheet]
			fx.must(200, fx.admin, "GET", "/v1/users?limit=2&after="+after, nil).json(t, &p)
			if len(p.Items) > 2 {
				t.Fatalf("page of %d, limit 2", len(p.Items))
			}
			for _, u := range p.Items {
				ids = append(ids, u.ID)
			}
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		if want := []string{"u1", "u2", "u3", "u4", "u5"}; !slices.Equal(ids, want) {
			t.Errorf("paged ids %v, want %v", ids, want)
		}
		tests := []struct{ query, want string }{
			{"site=paris", "u4,u5"},
			{"number=%2B33478000002", "u2"},
			{"number=0478000003", "u3"}, // written nationally, found all the same
			{"name=user+u3", "u3"},
		}
		for _, tt := range tests {
			var p api.Page[config.Sheet]
			fx.must(200, fx.admin, "GET", "/v1/users?"+tt.query, nil).json(t, &p)
			var got []string
			for _, u := range p.Items {
				got = append(got, u.ID)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("?%s: %v, want %s", tt.query, got, tt.want)
			}
		}
		r := fx.must(400, fx.admin, "GET", "/v1/users?limit=0", nil)
		if e := r.errBody(t); e.Code != api.CodeBadRequest || len(e.Fields) != 1 || e.Fields[0].Path != "limit" {
			t.Errorf("bad limit: %+v", e)
		}
	})
}

func TestShortcuts(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("bob", "", "+33478000002")
		fx.putUser("alice", "", "+33478000001")
		s := sheetOf(t, fx.must(200, fx.admin, "POST", "/v1/users/alice/dnd/on", nil))
		if !s.DND {
			t.Error("dnd on: still off")
		}
		// Doing it again changes nothing: no new version, no audit entry.
		again := fx.must(200, fx.admin, "POST", "/v1/users/alice/dnd/on", nil)
		if v := sheetOf(t, again).Version; v != s.Version || again.header.Get("ETag") != etag(s.Version) {
			t.Errorf("a no-op shortcut made version %d from %d", v, s.Version)
		}
		if v := sheetOf(t, fx.must(200, fx.admin, "PATCH", "/v1/users/alice", `{"dnd":true}`)).Version; v != s.Version {
			t.Errorf("a no-op patch made version %d from %d", v, s.Version)
		}
		s = sheetOf(t, fx.must(200, fx.admin, "POST", "/v1/users/alice/dnd/off", nil))
		if s.DND {
			t.Error("dnd off: still on")
		}
		// Sent as curl -d sends it (form-urlencoded by default): taken as JSON.
		s = sheetOf(t, fx.must(200, fx.admin, "PUT", "/v1/users/alice/forwards/unconditional", `{"target":"user:bob"}`,
			"Content-Type", "application/x-www-form-urlencoded"))
		if f := s.Forwards.Unconditional; !f.Enabled || f.Target != "user:bob" {
			t.Errorf("forward set: %+v", f)
		}
		s = sheetOf(t, fx.must(200, fx.admin, "POST", "/v1/users/alice/forwards/unconditional/off", nil))
		if f := s.Forwards.Unconditional; f.Enabled || f.Target != "user:bob" {
			t.Errorf("forward off keeps the target: %+v", f)
		}
		s = sheetOf(t, fx.must(200, fx.admin, "POST", "/v1/users/alice/forwards/unconditional/on", nil))
		if !s.Forwards.Unconditional.Enabled {
			t.Error("forward on: still off")
		}
		s = sheetOf(t, fx.must(200, fx.admin, "DELETE", "/v1/users/alice/forwards/unconditional", nil))
		if f := s.Forwards.Unconditional; f.Enabled || f.Target != "" {
			t.Errorf("forward clear: %+v", f)
		}
		s = sheetOf(t, fx.must(200, fx.admin, "PUT", "/v1/users/alice/forwards/no_answer", `{"target":"voicemail","timeout_s":30}`))
		if f := s.Forwards.NoAnswer; !f.Enabled || f.TimeoutS != 30 {
			t.Errorf("no_answer set: %+v", f)
		}
		s = sheetOf(t, fx.must(200, fx.admin, "PUT", "/v1/users/alice/forwards/simultaneous_ring", `{"targets":["+33612345678"],"confirm":true}`))
		if f := s.Forwards.SimultaneousRing; !f.Enabled || !f.Confirm || len(f.Targets) != 1 {
			t.Errorf("simultaneous_ring set: %+v", f)
		}
		// A target the validation refuses: 422 naming the sheet's field.
		r := fx.must(422, fx.admin, "PUT", "/v1/users/alice/forwards/busy", `{"target":"user:nobody"}`)
		if e := r.errBody(t); len(e.Fields) == 0 || e.Fields[0].Path != "forwards.busy.target" {
			t.Errorf("bad target: %+v", e)
		}
		// Turning on a forward without a target is refused by validation.
		fx.must(422, fx.admin, "POST", "/v1/users/alice/forwards/not_connected/on", nil)
		fx.must(404, fx.admin, "POST", "/v1/users/alice/forwards/sideways/on", nil)
		fx.must(422, fx.admin, "PUT", "/v1/users/alice/forwards/busy", `{"targets":["voicemail"]}`)
		fx.must(422, fx.admin, "PUT", "/v1/users/alice/forwards/busy", `{"target":"voicemail","timeout_s":5}`)

		// Scheduled rules by index.
		fx.must(200, fx.admin, "PATCH", "/v1/users/alice", `{"forwards":{"scheduled":[{"enabled":false,"target":"voicemail","start":"18:00","end":"08:00"}]}}`)
		s = sheetOf(t, fx.must(200, fx.admin, "POST", "/v1/users/alice/forwards/scheduled/0/on", nil))
		if !s.Forwards.Scheduled[0].Enabled {
			t.Error("scheduled/0 on: still off")
		}
		fx.must(404, fx.admin, "POST", "/v1/users/alice/forwards/scheduled/1/on", nil)
		// If-Match applies to shortcuts too.
		fx.must(409, fx.admin, "POST", "/v1/users/alice/dnd/on", nil, "If-Match", `"1"`)
		fx.must(404, fx.admin, "POST", "/v1/users/nobody/dnd/on", nil)
	})
}

func TestPINIsWriteOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("alice", "", "+33478000001")
		fx.must(204, fx.admin, "PUT", "/v1/users/alice/voicemail/pin", `{"pin":"493817"}`)
		r := fx.must(200, fx.admin, "GET", "/v1/users/alice", nil)
		if s := sheetOf(t, r); !s.Voicemail.PINSet {
			t.Error("pin_set false after setting the PIN")
		}
		for _, path := range []string{"/v1/users/alice", "/v1/users/alice/audit", "/v1/users"} {
			if b := fx.must(200, fx.admin, "GET", path, nil).body; strings.Contains(string(b), "493817") {
				t.Errorf("%s shows the PIN: %s", path, b)
			}
		}
		r = fx.must(422, fx.admin, "PUT", "/v1/users/alice/voicemail/pin", `{"pin":"12"}`)
		if e := r.errBody(t); len(e.Fields) == 0 || !strings.Contains(e.Fields[0].Path, "pin") {
			t.Errorf("short PIN: %+v", e)
		}
		fx.must(422, fx.admin, "PUT", "/v1/users/alice/voicemail/pin", `{"pin":"1234","extra":1}`)
		fx.must(404, fx.admin, "PUT", "/v1/users/nobody/voicemail/pin", `{"pin":"493817"}`)
	})
}

func TestAudit(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("alice", "", "+33478000001")
		ops := fx.token("ops-team", config.ScopeAll, "")
		fx.must(200, ops, "POST", "/v1/users/alice/dnd/on", nil)
		var p api.Page[config.AuditEntry]
		fx.must(200, fx.admin, "GET", "/v1/users/alice/audit", nil).json(t, &p)
		if len(p.Items) != 2 {
			t.Fatalf("%d audit entries, want 2: %+v", len(p.Items), p.Items)
		}
		last := p.Items[0]
		if last.Actor != "ops-team" || len(last.Changes) != 1 || last.Changes[0].Path != "dnd" {
			t.Errorf("newest entry %+v, want ops-team changing dnd", last)
		}
		fx.must(200, fx.admin, "GET", "/v1/users/alice/audit?limit=1", nil).json(t, &p)
		if len(p.Items) != 1 {
			t.Errorf("limit=1 gave %d entries", len(p.Items))
		}
		fx.must(200, fx.admin, "GET", "/v1/sites/default/audit", nil)
	})
}

// TestConcurrentPatchesLoseNothing: writers changing different fields at once all land,
// and writers racing on one If-Match: exactly one wins.
func TestConcurrentPatchesLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("alice", "", "+33478000001")
		patches := []string{
			`{"dnd":true}`,
			`{"comment":"racing"}`,
			`{"forwards":{"busy":{"enabled":true,"target":"voicemail"}}}`,
			`{"forwards":{"no_answer":{"timeout_s":33}}}`,
			`{"advanced":{"redirect_info":true}}`,
			`{"voicemail":{"max_messages":42}}`,
		}
		var wg sync.WaitGroup
		errs := make(chan string, len(patches)*3)
		for round := range 3 {
			for _, p := range patches {
				wg.Go(func() {
					if r := fx.call(fx.admin, "PATCH", "/v1/users/alice", p); r.status != 200 {
						errs <- fmt.Sprintf("round %d %s: %d %s", round, p, r.status, r.body)
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		s := sheetOf(t, fx.must(200, fx.admin, "GET", "/v1/users/alice", nil))
		if !s.DND || s.Comment != "racing" || !s.Forwards.Busy.Enabled || s.Forwards.NoAnswer.TimeoutS != 33 ||
			!s.Advanced.RedirectInfo || s.Voicemail.MaxMessages != 42 {
			t.Errorf("a patch was lost: %+v", s)
		}
		// Each patch changed the sheet once; its repeats changed nothing.
		if want := int64(1 + len(patches)); s.Version != want {
			t.Errorf("version %d, want %d (one per change)", s.Version, want)
		}

		// Racing on the same version: one wins, the others get 409.
		v := s.Version
		var ok sync.WaitGroup
		results := make(chan int, 6)
		for i := range 6 {
			ok.Go(func() {
				results <- fx.call(fx.admin, "PATCH", "/v1/users/alice", fmt.Sprintf(`{"comment":"w%d"}`, i), "If-Match", etag(v)).status
			})
		}
		ok.Wait()
		close(results)
		wins := 0
		for st := range results {
			switch st {
			case http.StatusOK:
				wins++
			case http.StatusConflict:
			default:
				t.Errorf("status %d, want 200 or 409", st)
			}
		}
		if wins != 1 {
			t.Errorf("%d writers won on one version, want 1", wins)
		}
	})
}

// TestGetUserNotModified: a GET naming the current version in If-None-Match answers 304
// without a body (the web page polls this way); any change makes it a 200 again.
func TestGetUserNotModified(t *testing.T) {
	fx := newFixture(t, realRedis)
	fx.putSite("lyon")
	fx.putUser("alice", "lyon", "+33478000001")
	fx.putUser("bob", "lyon", "+33478000002")
	bob := fx.token("bob-desk", config.ScopeUser, "bob")

	tests := []struct {
		name, header string
		want         int
	}{
		{"current version", `"1"`, http.StatusNotModified},
		{"weak tag", `W/"1"`, http.StatusNotModified},
		{"in a list", `"7", "1"`, http.StatusNotModified},
		{"any", `*`, http.StatusNotModified},
		{"stale version", `"0"`, http.StatusOK},
		{"not a tag", `"x"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.must(tt.want, fx.admin, "GET", "/v1/users/alice", nil, "If-None-Match", tt.header)
			if r.header.Get("ETag") != `"1"` {
				t.Errorf("ETag = %q, want \"1\"", r.header.Get("ETag"))
			}
			if tt.want == http.StatusNotModified && len(r.body) != 0 {
				t.Errorf("304 with a body: %q", r.body)
			}
		})
	}
	fx.must(200, fx.admin, "POST", "/v1/users/alice/dnd/on", nil)
	r := fx.must(200, fx.admin, "GET", "/v1/users/alice", nil, "If-None-Match", `"1"`)
	if s := sheetOf(t, r); s.Version != 2 || !s.DND || r.header.Get("ETag") != `"2"` {
		t.Errorf("after a change: version %d dnd %v ETag %s", s.Version, s.DND, r.header.Get("ETag"))
	}
	fx.must(304, fx.admin, "GET", "/v1/users/alice", nil, "If-None-Match", `"2"`)
	// Scope and existence come first: a 304 tells nothing a 200 would not.
	fx.must(403, bob, "GET", "/v1/users/alice", nil, "If-None-Match", `*`)
	fx.must(404, fx.admin, "GET", "/v1/users/nobody", nil, "If-None-Match", `*`)
}
