package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sophia-pbx/sophia/config"
)

// Options configures New. Store is required; every other field has a sane zero value.
type Options struct {
	Store *config.Store
	// Logger receives failed requests (5xx, with their cause) and readiness changes.
	Logger *slog.Logger
	// Registerer receives the API's metrics; Gatherer is what /metrics serves (sophiad
	// passes one registry holding the Go and process collectors and every part's
	// metrics). Nil: a private registry for both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Ready lists what /readyz checks besides nothing: sophiad passes the store's ping
	// and, later, each PBX link.
	Ready []ReadyCheck
	// MaxBodyBytes bounds a JSON body (default 1 MiB); MaxMediaBytes a media upload
	// (default 32 MiB).
	MaxBodyBytes  int64
	MaxMediaBytes int64
	// PublicMedia serves the media library without a token at /media/<name>.wav, for
	// the PBX's HTTP media cache (sophiad turns it on with a PBX link).
	PublicMedia bool
	// Now is the clock of the route explainer and the advice (nil: time.Now).
	Now func() time.Time
	// UI, when set, serves everything outside /v1/, /healthz, /readyz and /metrics:
	// the admin web page (sophiad passes ui.Handler()).
	UI http.Handler
}

func (o *Options) validate() error {
	if o.Store == nil {
		return errors.New("api: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil && o.Gatherer == nil {
		reg := prometheus.NewRegistry()
		o.Registerer, o.Gatherer = reg, reg
	}
	if o.Registerer == nil || o.Gatherer == nil {
		return errors.New("api: Registerer and Gatherer go together")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxMediaBytes == 0 {
		o.MaxMediaBytes = 32 << 20
	}
	if o.MaxBodyBytes < 0 || o.MaxMediaBytes < 0 {
		return errors.New("api: negative body limit")
	}
	for _, c := range o.Ready {
		if c.Name == "" || c.Check == nil {
			return fmt.Errorf("api: readiness check %q has no name or no function", c.Name)
		}
	}
	return nil
}

// Server is the admin HTTP API. Its only state is the store: any number of servers may
// share one Redis.
type Server struct {
	store   *config.Store
	log     *slog.Logger
	opts    Options
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	ready   []ReadyCheck
	// patterns lists every pattern registered on mux, for the OpenAPI check.
	patterns []string

	readyMu    sync.Mutex
	readyState map[string]bool
}

// New returns the API server for opts.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		store:      opts.Store,
		log:        opts.Logger,
		opts:       opts,
		mux:        http.NewServeMux(),
		metrics:    newMetrics(opts.Registerer),
		ready:      opts.Ready,
		readyState: map[string]bool{},
	}
	s.routes()
	s.handler = s.metrics.instrument(http.HandlerFunc(s.serve), s.log)
	return s, nil
}

// AddReadyCheck adds a check to /readyz. Call it before serving.
func (s *Server) AddReadyCheck(c ReadyCheck) { s.ready = append(s.ready, c) }

// Patterns returns every route pattern the server registered ("GET /v1/users/{id}").
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }

// Route returns the pattern r would be served by, or "" if none.
func (s *Server) Route(r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is an API handler: it answers, or returns the error to answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// access says who may call a route.
type access int

const (
	public access = iota // no token: health, readiness, metrics, the OpenAPI document
	token                // any valid token; the handler checks the scope
	admin                // a token of scope "all"
)

func (s *Server) handle(pattern string, a access, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a != public {
			tok, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if a == admin && tok.Scope.Kind != config.ScopeAll {
				s.writeError(w, r, errForbidden("this route needs a token of scope \"all\""))
				return
			}
			if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
				info.token = tok.Name
			}
			r = r.WithContext(withToken(r.Context(), tok))
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}))
}

func (s *Server) routes() {
	s.handle("GET /healthz", public, s.healthz)
	s.handle("GET /readyz", public, s.readyz)
	metrics := promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)})
	s.handle("GET /metrics", public, func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	})
	s.handle("GET /v1/openapi.json", public, s.openAPI)
	s.handle("GET /v1/whoami", token, s.whoami)

	s.handle("GET /v1/sites", token, s.listSites)
	s.handle("GET /v1/sites/{id}", token, s.getSite)
	s.handle("PUT /v1/sites/{id}", admin, s.putSite)
	s.handle("PATCH /v1/sites/{id}", admin, s.patchSite)
	s.handle("DELETE /v1/sites/{id}", admin, s.deleteSite)
	s.handle("GET /v1/sites/{id}/audit", token, s.siteAudit)

	s.handle("GET /v1/users", token, s.listUsers)
	s.handle("GET /v1/users/{id}", token, s.getUser)
	s.handle("PUT /v1/users/{id}", token, s.putUser)
	s.handle("PATCH /v1/users/{id}", token, s.patchUser)
	s.handle("DELETE /v1/users/{id}", token, s.deleteUser)
	s.handle("GET /v1/users/{id}/audit", token, s.userAudit)
	s.handle("PUT /v1/users/{id}/voicemail/pin", token, s.setPIN)
	s.handle("GET /v1/users/{id}/calls", token, s.userCalls)
	s.handle("GET /v1/users/{id}/route", token, s.route)
	s.handle("GET /v1/users/{id}/advice", token, s.advice)

	// Daily shortcuts: one small write each, applied to the latest sheet (If-Match
	// optional), answering the whole sheet.
	s.handle("POST /v1/users/{id}/dnd/on", token, s.dnd(true))
	s.handle("POST /v1/users/{id}/dnd/off", token, s.dnd(false))
	s.handle("PUT /v1/users/{id}/forwards/{kind}", token, s.setForward)
	s.handle("DELETE /v1/users/{id}/forwards/{kind}", token, s.clearForward)
	s.handle("POST /v1/users/{id}/forwards/{kind}/on", token, s.toggleForward(true))
	s.handle("POST /v1/users/{id}/forwards/{kind}/off", token, s.toggleForward(false))
	s.handle("POST /v1/users/{id}/forwards/scheduled/{index}/on", token, s.toggleScheduled(true))
	s.handle("POST /v1/users/{id}/forwards/scheduled/{index}/off", token, s.toggleScheduled(false))

	s.handle("GET /media/{file}", public, s.publicMedia)
	s.handle("GET /v1/media", token, s.listMedia)
	s.handle("GET /v1/media/{name}", token, s.getMedia)
	s.handle("PUT /v1/media/{name}", admin, s.putMedia)
	s.handle("DELETE /v1/media/{name}", admin, s.deleteMedia)

	s.handle("GET /v1/tokens", admin, s.listTokens)
	s.handle("POST /v1/tokens", admin, s.createToken)
	s.handle("DELETE /v1/tokens/{name}", admin, s.deleteToken)
}

// serve dispatches r on the mux; what the mux itself would answer (404, 405) is answered
// through writeError instead, keeping its status and Allow header.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if s.opts.UI != nil && !isAPIPath(r.URL.Path) {
		s.opts.UI.ServeHTTP(w, r)
		return
	}
	rec := &muxErrorWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"%s is not allowed here; allowed: %s", r.Method, rec.header.Get("Allow")))
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect:
		http.Redirect(w, r, rec.header.Get("Location"), rec.status)
	default:
		s.writeError(w, r, errorf(http.StatusNotFound, CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	}
}

func isAPIPath(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/metrics", "/v1":
		return true
	}
	return len(p) >= 4 && p[:4] == "/v1/"
}

// muxErrorWriter captures what the mux's own error handlers write.
type muxErrorWriter struct {
	header http.Header
	status int
}

func (w *muxErrorWriter) Header() http.Header { return w.header }
func (w *muxErrorWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *muxErrorWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
