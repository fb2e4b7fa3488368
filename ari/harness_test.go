package ari_test

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeari"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/switchboard"
)

// scale is the fake Asterisk's time scale in these tests: an Asterisk second lasts 10 ms
// (a 20 s ring 200 ms), and sophia's own timers shrink alike. The margins of the table
// (an answer 5 s before the timeout: 50 ms) hold on a loaded 2-core machine with -race.
const scale = 0.01

func seconds(s int) time.Duration {
	return time.Duration(float64(s) * scale * float64(time.Second))
}

const mediaBase = "http://sophiad.test:8080/media"

// harness is sophia's call path as sophiad wires it (store on real Redis, switchboard,
// the adapter) beside a fake Asterisk.
type harness struct {
	t     testing.TB
	fake  *fakeari.Fake
	store *config.Store
	board *switchboard.Board
	ad    *ari.Adapter
	reg   *prometheus.Registry
	now   time.Time

	mu    sync.Mutex
	ended map[string]*switchboard.Result
	wake  chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

type harnessOptions struct {
	scale   float64 // the time scale of the fake and sophia's timers (default scale)
	fake    fakeari.Options
	now     time.Time
	adapter func(*ari.Options)
	board   func(*switchboard.Options)
	noStart bool // do not wait for the link to come up
	// setup runs on the store before the adapter starts (users whose devices it must
	// subscribe to at its first connect).
	setup func(*config.Store)
}

func newHarness(t testing.TB, ho harnessOptions) *harness {
	t.Helper()
	if ho.scale == 0 {
		ho.scale = scale
	}
	if ho.fake.TimeScale == 0 && !ho.fake.ManualClock {
		ho.fake.TimeScale = ho.scale
	}
	secs := func(s int) time.Duration { return time.Duration(float64(s) * ho.scale * float64(time.Second)) }
	h := &harness{t: t, reg: prometheus.NewRegistry(), ended: map[string]*switchboard.Result{}, wake: make(chan struct{}, 1), now: ho.now}
	if h.now.IsZero() {
		h.now = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	}
	h.fake = fakeari.New(t, ho.fake)
	rdb, prefix := redistest.New(t)
	var err error
	h.store, err = config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bo := switchboard.Options{Logger: logger, Store: h.store, Registerer: h.reg, Region: "FR", Seconds: secs,
		Now: func() time.Time { return h.now }}
	if ho.board != nil {
		ho.board(&bo)
	}
	h.board, err = switchboard.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(h.fake.URL())
	ao := ari.Options{Logger: logger, URL: "http://" + u.Host, User: "sophia", Password: "sophia", Trunk: "PJSIP/{number}@trunk",
		Media: mediaBase, Board: h.board, Registerer: h.reg, Seconds: secs,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Grace: 2 * time.Second,
		OnCallEnd: func(id string, res *switchboard.Result) {
			h.mu.Lock()
			h.ended[id] = res
			h.mu.Unlock()
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}}
	if ho.adapter != nil {
		ho.adapter(&ao)
	}
	h.ad, err = ari.New(ao)
	if err != nil {
		t.Fatal(err)
	}
	if ho.setup != nil {
		ho.setup(h.store)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { h.board.Run(ctx) })
	wg.Go(func() { h.ad.Run(ctx) })
	go func() { wg.Wait(); close(h.done) }()
	t.Cleanup(h.stop)
	if !ho.noStart {
		h.waitUp()
	}
	return h
}

// stop shuts the adapter and board down and waits for them.
func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.t.Errorf("adapter did not stop within 10 s")
	}
}

// waitUp waits until the adapter's link is up (its readiness passes).
func (h *harness) waitUp() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.fake.WaitConnected(ctx, "sophia", true); err != nil {
		h.t.Fatalf("adapter never connected: %v", err)
	}
	// Connected is not yet resynced: wait for readiness, which follows the resync (and
	// for the board to follow sheet changes).
	for h.ad.Ready(ctx) != nil || h.board.Ready(ctx) != nil {
		select {
		case <-ctx.Done():
			h.t.Fatalf("adapter connected but never ready: %v", h.ad.Ready(ctx))
		case <-time.After(time.Millisecond):
		}
	}
}

// waitEnd waits for the end of call id (OnCallEnd) and returns its result.
func (h *harness) waitEnd(id string) *switchboard.Result {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		h.mu.Lock()
		res := h.ended[id]
		h.mu.Unlock()
		if res != nil {
			return res
		}
		select {
		case <-h.wake:
		case <-deadline:
			h.t.Fatalf("call %s did not end within 20 s; actions: %v", id, h.fake.Actions(id))
		}
	}
}

// endedCount returns how many calls have ended.
func (h *harness) endedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ended)
}

// waitEnded waits until n calls have ended.
func (h *harness) waitEnded(n int, within time.Duration) {
	h.t.Helper()
	deadline := time.After(within)
	for h.endedCount() < n {
		select {
		case <-h.wake:
		case <-deadline:
			h.t.Fatalf("%d of %d calls ended within %v", h.endedCount(), n, within)
		}
	}
}

// legStep returns the ring step of a leg channel id (<call>-<step>-<index>).
func legStep(callID, legID string) (step, idx int, ok bool) {
	rest, found := strings.CutPrefix(legID, callID+"-")
	if !found {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(rest, "-")
	s, err1 := strconv.Atoi(a)
	i, err2 := strconv.Atoi(b)
	return s, i, err1 == nil && err2 == nil
}

// tlog writes log lines to the test's log (shown when it fails).
type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// counterOf returns the collector of a metric by name from the harness registry.
func counterOf(t testing.TB, h *harness, name string) prometheus.Collector {
	t.Helper()
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, _ := h.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name {
				v := 0.0
				for _, m := range mf.GetMetric() {
					if m.Counter != nil {
						v += m.Counter.GetValue()
					}
				}
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "x", nil, nil), prometheus.CounterValue, v)
			}
		}
	})
}

// syncBuf is a log buffer safe for a logger's writes and the test's reads.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
