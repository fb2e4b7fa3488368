package api_test

import (
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
)

func TestUnauthorizedVersusForbidden(t *testing.T) {
	fx := newFixture(t, realRedis)
	fx.putSite("lyon")
	fx.putSite("paris")
	fx.putUser("alice", "lyon", "+33478000001")
	siteTok := fx.token("paris-admin", config.ScopeSite, "paris")
	tests := []struct {
		name   string
		header []string
		want   int
		code   string
	}{
		{"no token", nil, 401, api.CodeUnauthorized},
		{"unknown token", []string{"Authorization", "Bearer not-a-token"}, 401, api.CodeUnauthorized},
		{"not bearer", []string{"Authorization", "Basic " + fx.admin}, 401, api.CodeUnauthorized},
		{"empty bearer", []string{"Authorization", "Bearer "}, 401, api.CodeUnauthorized},
		{"valid, out of scope", []string{"Authorization", "Bearer " + siteTok}, 403, api.CodeForbidden},
		{"valid, in scope", []string{"Authorization", "Bearer " + fx.admin}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.call("", "GET", "/v1/users/alice", nil, tt.header...)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.code != "" {
				if e := r.errBody(t); e.Code != tt.code || e.Message == "" {
					t.Errorf("error %+v, want code %s with a message", e, tt.code)
				}
			}
		})
	}
	// Public routes need no token.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/v1/openapi.json"} {
		fx.must(200, "", "GET", p, nil)
	}
	// Admin-only routes refuse scoped tokens.
	fx.must(403, siteTok, "GET", "/v1/tokens", nil)
	fx.must(403, siteTok, "PUT", "/v1/sites/paris", `{"name":"Paris"}`)
}

func TestSiteScope(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putSite("lyon")
		fx.putSite("paris")
		fx.putUser("alice", "lyon", "+33478000001")
		fx.putUser("pierre", "paris", "+33144000001")
		lyon := fx.token("lyon-admin", config.ScopeSite, "lyon")

		// Lists show the site only.
		var users api.Page[config.Sheet]
		fx.must(200, lyon, "GET", "/v1/users", nil).json(t, &users)
		if len(users.Items) != 1 || users.Items[0].ID != "alice" {
			t.Errorf("site token lists %+v, want alice only", users.Items)
		}
		fx.must(200, lyon, "GET", "/v1/users?site=paris", nil).json(t, &users)
		if len(users.Items) != 0 {
			t.Errorf("site token asking for paris sees %d users", len(users.Items))
		}
		var sites api.Page[config.Site]
		fx.must(200, lyon, "GET", "/v1/sites", nil).json(t, &sites)
		if len(sites.Items) != 1 || sites.Items[0].ID != "lyon" {
			t.Errorf("site token lists sites %+v", sites.Items)
		}

		fx.must(200, lyon, "GET", "/v1/users/alice", nil)
		fx.must(200, lyon, "GET", "/v1/sites/lyon", nil)
		fx.must(403, lyon, "GET", "/v1/users/pierre", nil)
		fx.must(403, lyon, "GET", "/v1/users/pierre/audit", nil)
		fx.must(403, lyon, "GET", "/v1/sites/paris", nil)
		fx.must(403, lyon, "POST", "/v1/users/pierre/dnd/on", nil)
		fx.must(403, lyon, "PATCH", "/v1/users/pierre", `{"dnd":true}`)
		fx.must(403, lyon, "DELETE", "/v1/users/pierre", nil)
		fx.must(403, lyon, "PUT", "/v1/users/pierre/voicemail/pin", `{"pin":"493817"}`)
		// It creates users in its own site only, and cannot move one out.
		fx.must(201, lyon, "PUT", "/v1/users/louis", `{"site":"lyon","name":"Louis","main_number":"+33478000007"}`)
		fx.must(403, lyon, "PUT", "/v1/users/paul", `{"site":"paris","name":"Paul"}`)
		fx.must(403, lyon, "PATCH", "/v1/users/alice", `{"site":"paris"}`)
		fx.must(403, lyon, "PUT", "/v1/users/pierre", `{"site":"lyon","name":"Taken"}`)
		fx.must(200, lyon, "POST", "/v1/users/alice/dnd/on", nil)
		if s := sheetOf(t, fx.must(200, fx.admin, "GET", "/v1/users/pierre", nil)); s.DND || s.Site != "paris" {
			t.Errorf("pierre changed by a lyon token: %+v", s)
		}
	})
}

func TestSelfScope(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		fx.putUser("alice", "", "+33478000001")
		fx.putUser("bob", "", "+33478000002")
		self := fx.token("alice-phone", config.ScopeUser, "alice")

		fx.must(200, self, "GET", "/v1/users/alice", nil)
		fx.must(403, self, "GET", "/v1/users/bob", nil)
		fx.must(403, self, "GET", "/v1/users/nobody", nil) // not even whether it exists
		fx.must(403, self, "POST", "/v1/users/bob/dnd/on", nil)
		fx.must(403, self, "GET", "/v1/sites/default", nil)
		fx.must(200, self, "POST", "/v1/users/alice/dnd/on", nil)
		fx.must(200, self, "PUT", "/v1/users/alice/forwards/busy", `{"target":"user:bob"}`)
		fx.must(204, self, "PUT", "/v1/users/alice/voicemail/pin", `{"pin":"493817"}`)
		fx.must(200, self, "GET", "/v1/users/alice/audit", nil)
		fx.must(200, self, "PATCH", "/v1/users/alice", `{"voicemail":{"max_messages":50}}`)
		// Its own number written nationally is no change.
		fx.must(200, self, "PATCH", "/v1/users/alice", `{"main_number":"04 78 00 00 01","comment":"moi"}`)
		cur := sheetOf(t, fx.must(200, self, "GET", "/v1/users/alice", nil))
		cur.MainNumber = "0478000001"
		fx.must(200, self, "PUT", "/v1/users/alice", cur)

		// Operator fields stay the operator's.
		r := fx.must(403, self, "PATCH", "/v1/users/alice", `{"main_number":"+33478000009","device":{"id":"x","endpoint":"PJSIP/x"}}`)
		e := r.errBody(t)
		var paths []string
		for _, f := range e.Fields {
			paths = append(paths, f.Path)
		}
		if strings.Join(paths, ",") != "main_number,device" {
			t.Errorf("403 fields %v, want main_number and device", paths)
		}
		fx.must(403, self, "DELETE", "/v1/users/alice", nil)
		fx.must(403, self, "PUT", "/v1/users/carol", `{"name":"Carol"}`)

		var users api.Page[config.Sheet]
		fx.must(200, self, "GET", "/v1/users", nil).json(t, &users)
		if len(users.Items) != 1 || users.Items[0].ID != "alice" {
			t.Errorf("self token lists %+v", users.Items)
		}
		var sites api.Page[config.Site]
		fx.must(200, self, "GET", "/v1/sites", nil).json(t, &sites)
		if len(sites.Items) != 0 {
			t.Errorf("self token lists sites %+v", sites.Items)
		}
		fx.must(403, self, "GET", "/v1/tokens", nil)
	})
}

func TestTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		r := fx.must(201, fx.admin, "POST", "/v1/tokens", `{"name":"lyon-admin","scope":{"kind":"site","id":"default"}}`)
		var nt api.NewToken
		r.json(t, &nt)
		if nt.Secret == "" || nt.Token == nil || nt.Token.Name != "lyon-admin" {
			t.Fatalf("created %s", r.body)
		}
		var who config.Token
		fx.must(200, nt.Secret, "GET", "/v1/whoami", nil).json(t, &who)
		if who.Name != "lyon-admin" || who.Scope.Kind != config.ScopeSite {
			t.Errorf("whoami %+v", who)
		}
		list := fx.must(200, fx.admin, "GET", "/v1/tokens", nil)
		if strings.Contains(string(list.body), nt.Secret) {
			t.Error("the token list shows a secret")
		}
		if !strings.Contains(string(list.body), "lyon-admin") {
			t.Errorf("the list lacks the new token: %s", list.body)
		}
		fx.must(422, fx.admin, "POST", "/v1/tokens", `{"name":"x","scope":{"kind":"galaxy"}}`)
		fx.must(422, fx.admin, "POST", "/v1/tokens", `{"name":"x","scope":{"kind":"all"},"secret":"mine"}`)
		fx.must(204, fx.admin, "DELETE", "/v1/tokens/"+nt.Token.Name, nil)
		fx.must(401, nt.Secret, "GET", "/v1/whoami", nil)
	})
}
