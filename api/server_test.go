package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/tone"
)

func TestErrorShapes(t *testing.T) {
	fx := newFixture(t, realRedis)
	fx.putUser("alice", "", "+33478000001")
	big := `{"comment":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code               string
		fields             []string // paths, in order
	}{
		{"no route", "GET", "/v1/nothing", nil, nil, 404, api.CodeNotFound, nil},
		{"no route outside v1", "GET", "/elsewhere", nil, nil, 404, api.CodeNotFound, nil},
		{"wrong method", "POST", "/v1/users/alice", "{}", nil, 405, api.CodeMethodNotAllowed, nil},
		{"malformed JSON", "PUT", "/v1/users/bob", `{"name":`, nil, 422, api.CodeInvalid, []string{""}},
		{"unknown fields", "PUT", "/v1/users/bob", `{"nmae":"x","forwards":{"busy":{"enabld":true}}}`, nil, 422, api.CodeInvalid, []string{"forwards.busy.enabld", "nmae"}},
		{"wrong type", "PUT", "/v1/users/bob", `{"dnd":"yes"}`, nil, 422, api.CodeInvalid, []string{"dnd"}},
		{"every problem at once", "PUT", "/v1/users/bob", `{"main_number":"12x","forwards":{"no_answer":{"timeout_s":1}}}`, nil, 422, api.CodeInvalid, []string{"forwards.no_answer.timeout_s", "main_number", "name"}},
		{"too large", "PATCH", "/v1/users/alice", big, nil, 413, api.CodeTooLarge, nil},
		{"wrong content type", "PUT", "/v1/users/bob", `{}`, []string{"Content-Type", "text/plain"}, 415, api.CodeUnsupportedMedia, nil},
		{"patch not an object", "PATCH", "/v1/users/alice", `[1]`, nil, 422, api.CodeInvalid, []string{""}},
		{"bad If-Match", "PATCH", "/v1/users/alice", `{}`, []string{"If-Match", "yesterday"}, 400, api.CodeBadRequest, []string{"If-Match"}},
		{"If-Match and version differ", "PATCH", "/v1/users/alice", `{"version":1}`, []string{"If-Match", `"2"`}, 409, api.CodeConflict, nil},
		{"stale If-Match", "PATCH", "/v1/users/alice", `{"dnd":true}`, []string{"If-Match", `"7"`}, 409, api.CodeConflict, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.call(fx.admin, tt.method, tt.path, tt.body, tt.header...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var raw map[string]map[string]any
			if err := json.Unmarshal(r.body, &raw); err != nil || raw["error"] == nil {
				t.Fatalf("not an error body: %s", r.body)
			}
			for k := range raw["error"] {
				if k != "code" && k != "message" && k != "fields" {
					t.Errorf("unexpected member error.%s", k)
				}
			}
			e := r.errBody(t)
			if e.Code != tt.code || e.Message == "" {
				t.Errorf("code %q message %q, want code %q", e.Code, e.Message, tt.code)
			}
			if strings.Contains(e.Message, "json:") || strings.Contains(e.Message, "goroutine") {
				t.Errorf("a Go error leaks: %q", e.Message)
			}
			if tt.fields != nil {
				var got []string
				for _, f := range e.Fields {
					got = append(got, f.Path)
					if f.Reason == "" {
						t.Errorf("field %q without a reason", f.Path)
					}
				}
				slices.Sort(got)
				if strings.Join(got, "|") != strings.Join(tt.fields, "|") {
					t.Errorf("fields %q, want %q", got, tt.fields)
				}
			}
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

// TestOpenAPIMatchesMux keeps /v1/openapi.json true: every route registered on the mux
// is documented, and every documented route is one the mux serves.
func TestOpenAPIMatchesMux(t *testing.T) {
	fx := newFixture(t, realRedis)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	fx.must(200, "", "GET", "/v1/openapi.json", nil).json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, p := range fx.api.Patterns() {
		registered[p] = true
		if !documented[p] {
			t.Errorf("route %q is served but not documented", p)
		}
	}
	for op := range documented {
		method, path, _ := strings.Cut(op, " ")
		if !registered[op] {
			t.Errorf("documented %q is not a registered pattern", op)
		}
		// The mux routes a concrete request of it to that very pattern.
		concrete := strings.NewReplacer("{id}", "x", "{kind}", "busy", "{index}", "0", "{name}", "m", "{file}", "m.wav").Replace(path)
		req, _ := http.NewRequest(method, concrete, nil)
		if got := fx.api.Route(req); got != op {
			t.Errorf("%s %s is routed to %q, want %q", method, concrete, got, op)
		}
	}
	// Every $ref resolves.
	var full map[string]any
	fx.must(200, "", "GET", "/v1/openapi.json", nil).json(t, &full)
	schemas := full["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				name := strings.TrimPrefix(r, "#/components/schemas/")
				if schemas[name] == nil {
					t.Errorf("$ref %s does not resolve", r)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(full)
	// The sheet's schema names every field of the sheet.
	props := schemas["Sheet"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"id", "main_number", "forwards", "voicemail", "function_keys", "presented_number"} {
		if props[f] == nil {
			t.Errorf("Sheet schema lacks %s", f)
		}
	}
}

func TestMetrics(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s, err := api.New(api.Options{Store: store, Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureWith(t, store, s)
	fx.putUser("alice", "", "+33478000001")
	fx.must(200, fx.admin, "GET", "/v1/users/alice", nil)
	fx.must(200, fx.admin, "GET", "/v1/users/alice", nil)
	fx.must(404, fx.admin, "GET", "/v1/users/nobody", nil)
	fx.must(404, fx.admin, "GET", "/no/such/route", nil)
	requests, err := testutil.GatherAndCount(reg, "sophia_api_requests_total")
	if err != nil || requests == 0 {
		t.Fatalf("no request counter: %v", err)
	}
	want := `
# HELP sophia_api_requests_total Admin API requests answered, by route pattern and status code.
# TYPE sophia_api_requests_total counter
sophia_api_requests_total{code="200",route="GET /v1/users/{id}"} 2
sophia_api_requests_total{code="201",route="PUT /v1/users/{id}"} 1
sophia_api_requests_total{code="404",route="GET /v1/users/{id}"} 1
sophia_api_requests_total{code="404",route="unmatched"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sophia_api_requests_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	body := fx.must(200, "", "GET", "/metrics", nil).body
	for _, m := range []string{"go_goroutines", "process_cpu_seconds_total", "sophia_api_request_duration_seconds_bucket"} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestReadiness(t *testing.T) {
	srv := redistest.Start(t)
	// No retries: a refused connection fails at once (the test is about the answer).
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	store, err := config.New(config.Options{Client: rdb, Prefix: redistest.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureOn(t, store)
	var st api.ReadyStatus
	fx.must(200, "", "GET", "/readyz", nil).json(t, &st)
	if st.Status != "ready" || st.Checks["store"] != "ok" {
		t.Errorf("readyz %+v", st)
	}
	srv.Stop()
	r := fx.must(503, "", "GET", "/readyz", nil)
	r.json(t, &st)
	if st.Status != "not_ready" || st.Checks["store"] != "failing" {
		t.Errorf("readyz with Redis down: %+v", st)
	}
	fx.must(200, "", "GET", "/healthz", nil) // alive all the same
	// A request needing the store answers a clean 503, not a hang or a Go error.
	r = fx.call(fx.admin, "GET", "/v1/users/alice", nil)
	if r.status != 503 || r.errBody(t).Code != api.CodeUnavailable || strings.Contains(string(r.body), "dial") {
		t.Errorf("with Redis down: %d %s", r.status, r.body)
	}
	srv.Restart() // returns once the server answers
	fx.must(200, "", "GET", "/readyz", nil)
}

func TestMedia(t *testing.T) {
	eachBackend(t, func(t *testing.T, fx *fixture) {
		wav := tone.WAV(8000, tone.Segment{Hz: 440, Dur: 100 * time.Millisecond})
		fx.must(201, fx.admin, "PUT", "/v1/media/busy-fr", wav, "Content-Type", "audio/wav")
		var list api.Page[map[string]any]
		fx.must(200, fx.admin, "GET", "/v1/media", nil).json(t, &list)
		if len(list.Items) != 1 {
			t.Errorf("media list %+v", list.Items)
		}
		r := fx.must(200, fx.admin, "GET", "/v1/media/busy-fr", nil)
		if !bytes.Equal(r.body, wav) || r.header.Get("Content-Type") != "audio/wav" {
			t.Errorf("download: %d bytes, type %s", len(r.body), r.header.Get("Content-Type"))
		}
		r = fx.must(206, fx.admin, "GET", "/v1/media/busy-fr", nil, "Range", "bytes=0-3")
		if string(r.body) != "RIFF" {
			t.Errorf("range: %q", r.body)
		}
		// Not a PCM WAV: a clear 4xx naming why.
		r = fx.call(fx.admin, "PUT", "/v1/media/bad", []byte("ID3 this is an mp3"), "Content-Type", "audio/wav")
		if r.status != 415 && r.status != 422 {
			t.Errorf("mp3 upload: %d %s", r.status, r.body)
		}
		fx.must(415, fx.admin, "PUT", "/v1/media/bad", wav, "Content-Type", "audio/mpeg")
		// In use: delete refused, naming the user.
		fx.must(201, fx.admin, "PUT", "/v1/users/alice", `{"name":"Alice","main_number":"+33478000001","audio":{"busy":"busy-fr"}}`)
		r = fx.must(409, fx.admin, "DELETE", "/v1/media/busy-fr", nil)
		if e := r.errBody(t); e.Code != api.CodeInUse || !strings.Contains(e.Message, "alice") {
			t.Errorf("in-use delete: %+v", e)
		}
		fx.must(200, fx.admin, "PATCH", "/v1/users/alice", `{"audio":{"busy":null}}`)
		fx.must(204, fx.admin, "DELETE", "/v1/media/busy-fr", nil)
		fx.must(404, fx.admin, "GET", "/v1/media/busy-fr", nil)
		// Scoped tokens read the library, only "all" writes it.
		site := fx.token("site", config.ScopeSite, "default")
		fx.must(200, site, "GET", "/v1/media", nil)
		fx.must(403, site, "PUT", "/v1/media/x", wav)
	})
}

// TestRequestLog: at debug level each request is logged with its route and the token's
// name, never its secret; a 500's cause goes to the log, not to the client.
func TestRequestLog(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := api.New(api.Options{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureWith(t, store, s)
	fx.must(404, fx.admin, "PUT", "/v1/users/nobody/voicemail/pin", `{"pin":"493817"}`)
	fx.call(fx.admin, "GET", "/v1/users/nobody", nil)
	out := logs.String()
	for _, want := range []string{`route="GET /v1/users/{id}"`, "status=404", "token=admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{fx.admin, "493817"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows a secret %q:\n%s", secret, out)
		}
	}
}

// TestUIPlace: Options.UI serves what is outside the API's paths (the admin page, later);
// the API's own paths keep their JSON errors.
func TestUIPlace(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	s, err := api.New(api.Options{Store: store, UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixtureWith(t, store, s)
	if r := fx.must(200, "", "GET", "/", nil); string(r.body) != "page /" {
		t.Errorf("GET / = %q", r.body)
	}
	if r := fx.must(200, "", "GET", "/users/alice", nil); string(r.body) != "page /users/alice" {
		t.Errorf("GET /users/alice = %q", r.body)
	}
	if e := fx.must(404, "", "GET", "/v1/nothing", nil).errBody(t); e.Code != api.CodeNotFound {
		t.Errorf("/v1/nothing: %+v", e)
	}
}
