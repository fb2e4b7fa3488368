package config_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

func TestTokens(t *testing.T) {
	e := newEnv(t)
	if has, err := e.st.HasTokens(ctx); has || err != nil {
		t.Fatalf("HasTokens on an empty store = %v, %v", has, err)
	}
	tok, secret, err := e.st.CreateToken(ctx, "ci-bot", config.Scope{Kind: config.ScopeAll}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(secret), config.TokenPrefix) || len(secret) < 4+43 {
		t.Errorf("secret of %d chars, want sph_ and 43+ base64url chars", len(secret))
	}
	got, err := e.st.Authenticate(ctx, secret)
	if err != nil || !reflect.DeepEqual(got, tok) {
		t.Errorf("Authenticate = %+v, %v; want %+v", got, err, tok)
	}
	if _, err := e.st.Authenticate(ctx, secret+"x"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Authenticate(wrong) = %v", err)
	}
	if has, _ := e.st.HasTokens(ctx); !has {
		t.Error("HasTokens false after CreateToken")
	}
	// The secret is stored nowhere; the hash is never listed.
	for _, k := range []string{e.keys.Tokens(), e.keys.TokenHashes()} {
		for f, v := range e.hash(t, k) {
			if strings.Contains(f+v, string(secret)) {
				t.Errorf("%s holds the secret", k)
			}
		}
	}
	list, err := e.st.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(list)
	if strings.Contains(string(out), "hash") || len(list) != 1 {
		t.Errorf("ListTokens = %s", out)
	}

	tests := []struct {
		name  string
		scope config.Scope
		want  string
	}{
		{"ci-bot", config.Scope{Kind: config.ScopeAll}, `name: a token named "ci-bot" already exists`},
		{"Bad Name", config.Scope{Kind: config.ScopeAll}, "name: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		{"t1", config.Scope{Kind: "admin"}, "scope.kind: must be one of all, site, user"},
		{"t2", config.Scope{Kind: config.ScopeSite, ID: "paris"}, `scope.id: no site "paris"`},
		{"t3", config.Scope{Kind: config.ScopeUser, ID: "zoe"}, `scope.id: no user "zoe"`},
		{"t4", config.Scope{Kind: config.ScopeAll, ID: "x"}, "scope.id: must be empty for scope all"},
	}
	for _, tt := range tests {
		_, _, err := e.st.CreateToken(ctx, tt.name, tt.scope, "admin")
		if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{tt.want}) {
			t.Errorf("CreateToken(%s, %+v): %q, want %q", tt.name, tt.scope, got, tt.want)
		}
	}
	e.put(t, `{"id": "alice", "name": "A", "main_number": "+33478000001"}`)
	if _, _, err := e.st.CreateToken(ctx, "alice-self", config.Scope{Kind: config.ScopeUser, ID: "alice"}, "admin"); err != nil {
		t.Errorf("user-scoped token: %v", err)
	}
	if _, _, err := e.st.CreateToken(ctx, "default-site", config.Scope{Kind: config.ScopeSite, ID: "default"}, "admin"); err != nil {
		t.Errorf("site-scoped token: %v", err)
	}

	if err := e.st.DeleteToken(ctx, "ci-bot", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Authenticate(ctx, secret); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Authenticate after DeleteToken = %v", err)
	}
	if err := e.st.DeleteToken(ctx, "ci-bot", "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("DeleteToken twice = %v", err)
	}
	audit, _ := e.st.Audit(ctx, config.KindToken, "ci-bot", 0)
	if len(audit) != 2 || audit[0].Op != config.OpDelete || audit[1].Op != config.OpCreate {
		t.Errorf("token audit %+v", audit)
	}
}

func TestEnsureToken(t *testing.T) {
	e := newEnv(t)
	admin := config.Secret("a-long-admin-secret-from-env")
	all := config.Scope{Kind: config.ScopeAll}
	if err := e.st.EnsureToken(ctx, "admin", admin, all); err != nil {
		t.Fatal(err)
	}
	rev, _ := e.st.Rev(ctx)
	if err := e.st.EnsureToken(ctx, "admin", admin, all); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.st.Rev(ctx); again != rev {
		t.Errorf("EnsureToken with nothing to change wrote (rev %d → %d)", rev, again)
	}
	if tok, err := e.st.Authenticate(ctx, admin); err != nil || tok.Name != "admin" {
		t.Errorf("Authenticate(admin) = %+v, %v", tok, err)
	}
	// A new secret replaces the old one.
	rotated := config.Secret("another-long-admin-secret")
	if err := e.st.EnsureToken(ctx, "admin", rotated, all); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Authenticate(ctx, admin); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("old secret still works: %v", err)
	}
	if _, err := e.st.Authenticate(ctx, rotated); err != nil {
		t.Errorf("new secret: %v", err)
	}
	err := e.st.EnsureToken(ctx, "admin", "short", all)
	if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{"secret: must be at least 16 characters"}) {
		t.Errorf("short secret: %q", got)
	}
}
