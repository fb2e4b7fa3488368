package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/esl"
	"github.com/sophia-pbx/sophia/internal/embedded"
	"github.com/sophia-pbx/sophia/switchboard"
	"github.com/sophia-pbx/sophia/ui"
)

// boardComponent runs the switchboard (lease renewal, presence publishing) beside the
// PBX adapters.
type boardComponent struct{ b *switchboard.Board }

func (boardComponent) Name() string                    { return "switchboard" }
func (boardComponent) Ready(context.Context) error     { return nil }
func (c boardComponent) Run(ctx context.Context) error { return c.b.Run(ctx) }

// component is a long-lived part of sophiad: the API server now, the ARI and ESL links
// later. Run returns when ctx ends, once the part has stopped cleanly (or its grace
// period ran out), or earlier with the error that stopped it; Ready reports whether it
// can do its job now (/readyz).
//
// Adding one (an ARI link, say): its flags in Config (config.go: a field, a flag with
// its SOPHIA_* twin for free, a rule in validate, a line in LogValue without secrets);
// build it in newApp from a.store and a.reg, append it to a.components. Its readiness
// shows on /readyz; it runs until shutdown; a failure stops sophiad with exit code 1.
type component interface {
	Name() string
	Run(ctx context.Context) error
	Ready(ctx context.Context) error
}

// app is sophiad wired: the store, the metrics registry and the components.
type app struct {
	cfg        *Config
	log        *slog.Logger
	rdb        redis.UniversalClient
	emb        *embedded.Store // nil with --redis-url
	store      *config.Store
	reg        *prometheus.Registry
	api        *apiServer
	components []component
}

// newApp opens the store, makes sure an admin token exists, loads the demo if asked,
// and binds the API's address (so a port in use fails the start, not later).
func newApp(ctx context.Context, cfg *Config, log *slog.Logger, stderr io.Writer) (a *app, err error) {
	log.Info("sophiad starting", "config", cfg)
	a = &app{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Embedded() {
		a.emb, err = embedded.Open(embedded.Options{Dir: cfg.DataDir, Logger: log.With("component", "embedded-store"), Registerer: a.reg})
		if err != nil {
			return nil, err
		}
		a.rdb = a.emb.Client()
	} else {
		if a.rdb, err = config.ParseRedisURL(cfg.RedisURL); err != nil {
			return nil, fmt.Errorf("redis-url: %w", err)
		}
	}
	a.store, err = config.New(config.Options{Client: a.rdb, Prefix: cfg.RedisPrefix, Logger: log.With("component", "store")})
	if err != nil {
		return nil, err
	}
	if err := bootstrapToken(ctx, a.store, cfg, log, stderr); err != nil {
		return nil, err
	}
	if cfg.Demo {
		if err := loadDemo(ctx, a.store, log); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	srv, err := api.New(api.Options{Store: a.store, Logger: log.With("component", "api"), Registerer: a.reg, Gatherer: a.reg,
		UI:          ui.Handler(),
		PublicMedia: cfg.ARIURL != "" || cfg.FreeSWITCH(),
		Ready:       []api.ReadyCheck{{Name: "store", Check: func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() }}}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	a.api = &apiServer{ln: ln, grace: cfg.ShutdownTimeout, log: log,
		srv: &http.Server{Handler: srv, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			// Bounded, so a slow or stuck client cannot hold a connection (or a
			// shutdown) forever; a 32 MiB media upload fits in ReadTimeout on a slow link.
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
			WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}}
	a.components = []component{a.api}
	if cfg.ARIURL != "" || cfg.FreeSWITCH() {
		// One switchboard for every PBX: leases, presence and the call log are shared.
		policy, _ := switchboard.ParseUnknownPolicy(cfg.UnknownNumber) // validated
		board, err := switchboard.New(switchboard.Options{Store: a.store, Registerer: a.reg,
			Logger: log.With("component", "switchboard"), Unknown: policy, Region: cfg.Region})
		if err != nil {
			ln.Close()
			return nil, err
		}
		a.components = append(a.components, boardComponent{board})
		if cfg.ARIURL != "" {
			ao := cfg.ariOptions(board, ln.Addr().String())
			ao.Registerer, ao.Logger = a.reg, log.With("component", "asterisk")
			ao.Grace = cfg.ShutdownTimeout
			ad, err := ari.New(ao)
			if err != nil {
				ln.Close()
				return nil, err
			}
			a.components = append(a.components, ad)
		}
		if cfg.FreeSWITCH() {
			eo := cfg.eslOptions(board, a.store, ln.Addr().String())
			eo.Registerer, eo.Logger = a.reg, log.With("component", "freeswitch")
			eo.Grace = cfg.ShutdownTimeout
			ad, err := esl.New(eo)
			if err != nil {
				ln.Close()
				return nil, err
			}
			if eo.Listen != "" {
				log.Info("listening for FreeSWITCH's socket application", "addr", ad.Addr().String())
			}
			a.components = append(a.components, ad)
		}
	}
	// Each component's readiness shows on /readyz (the API's own is implied).
	for _, c := range a.components {
		if c != component(a.api) {
			srv.AddReadyCheck(api.ReadyCheck{Name: c.Name(), Check: c.Ready})
		}
	}
	log.Info("api listening", "addr", ln.Addr().String())
	return a, nil
}

// run runs every component until ctx ends or one fails, then flushes the store.
func (a *app) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(a.components))
	for _, c := range a.components {
		wg.Go(func() {
			err := c.Run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.Name(), err)
			} else if ctx.Err() == nil {
				err = fmt.Errorf("%s stopped by itself", c.Name())
			}
			if err != nil {
				errs <- err
				cancel() // one part failing stops the others
			}
		})
	}
	wg.Wait()
	close(errs)
	runErr := <-errs
	if err := a.close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// close releases the store; the embedded one writes its snapshot first.
func (a *app) close() error {
	var err error
	if a.emb != nil {
		if err = a.emb.Close(); err == nil {
			a.log.Info("embedded store flushed", "dir", a.emb.Dir())
		}
	} else if a.rdb != nil {
		err = a.rdb.Close()
	}
	return err
}

// apiServer runs the admin API as a component.
type apiServer struct {
	srv   *http.Server
	ln    net.Listener
	grace time.Duration
	log   *slog.Logger
}

func (s *apiServer) Name() string                { return "api" }
func (s *apiServer) Ready(context.Context) error { return nil }

// Run serves until ctx ends, then lets requests in flight finish within the grace period.
func (s *apiServer) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("api shutting down: finishing requests in flight", "grace", s.grace)
	sctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("api: requests still in flight after the grace period were cut")
		s.srv.Close()
		err = nil
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// bootstrapToken makes sure the API can be used: SOPHIA_ADMIN_TOKEN makes a token named
// "admin" with that secret; otherwise the first start of the embedded store creates one
// and prints its secret once, on stderr, outside the log.
func bootstrapToken(ctx context.Context, store *config.Store, cfg *Config, log *slog.Logger, stderr io.Writer) error {
	all := config.Scope{Kind: config.ScopeAll}
	if cfg.AdminToken != "" {
		if err := store.EnsureToken(ctx, "admin", cfg.AdminToken, all); err != nil {
			return fmt.Errorf("admin token from SOPHIA_ADMIN_TOKEN: %w", err)
		}
		log.Info("admin token set from SOPHIA_ADMIN_TOKEN")
		return nil
	}
	has, err := store.HasTokens(ctx)
	if err != nil {
		return fmt.Errorf("look for API tokens: %w", err)
	}
	if has {
		return nil
	}
	if !cfg.Embedded() {
		log.Warn("no API token exists: set SOPHIA_ADMIN_TOKEN to create the admin token")
		return nil
	}
	_, secret, err := store.CreateToken(ctx, "admin", all, "sophiad")
	if err != nil {
		return fmt.Errorf("create the admin token: %w", err)
	}
	fmt.Fprintf(stderr, "\n"+
		"==================== sophia admin API token (shown once) ====================\n"+
		"%s\n"+
		"Keep it now: it is stored hashed and cannot be shown again. Use it as\n"+
		"  export SOPHIA_TOKEN=<the token above>      (sophiactl)\n"+
		"  curl -H \"Authorization: Bearer $SOPHIA_TOKEN\" http://%s/v1/users\n"+
		"=============================================================================\n\n",
		string(secret), cfg.APIAddr)
	log.Info("first start: admin token created and printed once on stderr")
	return nil
}
