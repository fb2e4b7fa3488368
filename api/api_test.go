package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/embedded"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// fixture is an API server over a real store, and an admin token.
type fixture struct {
	t     testing.TB
	srv   *httptest.Server
	api   *api.Server
	store *config.Store
	reg   *prometheus.Registry
	admin string
}

type backend string

const (
	realRedis     backend = "redis"
	embeddedStore backend = "embedded"
)

// eachBackend runs f against the shared redis-server and against the embedded store.
func eachBackend(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for _, b := range []backend{realRedis, embeddedStore} {
		t.Run(string(b), func(t *testing.T) { f(t, newFixture(t, b)) })
	}
}

func newFixture(t testing.TB, b backend) *fixture {
	t.Helper()
	var opts config.Options
	switch b {
	case realRedis:
		rdb, prefix := redistest.New(t)
		opts = config.Options{Client: rdb, Prefix: prefix}
	case embeddedStore:
		emb, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { emb.Close() })
		opts = config.Options{Client: emb.Client()}
	}
	store, err := config.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, store)
}

func newFixtureOn(t testing.TB, store *config.Store) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := api.New(api.Options{Store: store, Registerer: reg, Gatherer: reg,
		Ready: []api.ReadyCheck{{Name: "store", Check: store.Ping}}})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureWith(t, store, s)
	fx.reg = reg
	return fx
}

// newFixtureWith serves s, an API over store, and makes an admin token.
func newFixtureWith(t testing.TB, store *config.Store, s *api.Server) *fixture {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	_, secret, err := store.CreateToken(context.Background(), "admin", config.Scope{Kind: config.ScopeAll}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, api: s, store: store, admin: string(secret)}
}

// token creates a token of scope kind:id and returns its secret.
func (fx *fixture) token(name, kind, id string) string {
	fx.t.Helper()
	_, secret, err := fx.store.CreateToken(context.Background(), name, config.Scope{Kind: kind, ID: id}, "test")
	if err != nil {
		fx.t.Fatal(err)
	}
	return string(secret)
}

// resp is an answer, read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) errBody(t testing.TB) api.ErrorDetail {
	t.Helper()
	var eb api.ErrorBody
	r.json(t, &eb)
	return eb.Error
}

// call sends method path with the token (none if ""), a body (string, []byte or a value
// to marshal) and header pairs.
func (fx *fixture) call(token, method, path string, body any, header ...string) resp {
	fx.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			fx.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, fx.srv.URL+path, rd)
	if err != nil {
		fx.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := fx.srv.Client().Do(req)
	if err != nil {
		fx.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		fx.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must calls and fails the test unless the answer has status want.
func (fx *fixture) must(want int, token, method, path string, body any, header ...string) resp {
	fx.t.Helper()
	r := fx.call(token, method, path, body, header...)
	if r.status != want {
		fx.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

func (fx *fixture) putSite(id string) {
	fx.t.Helper()
	fx.must(201, fx.admin, "PUT", "/v1/sites/"+id, map[string]any{"name": "Site " + id, "region": "FR", "timezone": "Europe/Paris"})
}

// putUser creates a user of site with main number num.
func (fx *fixture) putUser(id, site, num string) *config.Sheet {
	fx.t.Helper()
	r := fx.must(201, fx.admin, "PUT", "/v1/users/"+id, map[string]any{"site": site, "name": "User " + id, "main_number": num})
	var s config.Sheet
	r.json(fx.t, &s)
	return &s
}

func sheetOf(t testing.TB, r resp) *config.Sheet {
	t.Helper()
	var s config.Sheet
	r.json(t, &s)
	return &s
}

func etag(v int64) string { return fmt.Sprintf(`"%d"`, v) }
