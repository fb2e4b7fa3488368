package fakeari

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// EventOrder decides how the events a REST request causes are ordered against
// its response. A real Asterisk gives no guarantee (README "Ordering / races"):
// the adapter must work with all three.
type EventOrder int

const (
	// Natural lets the WebSocket writer race the REST reply, as Asterisk does.
	Natural EventOrder = iota
	// EventsFirst holds each REST reply until the events it caused were written
	// to the WebSocket (e.g. StasisStart of a created channel before its 200).
	EventsFirst
	// ResponseFirst holds the events a request causes until its reply was
	// written (e.g. the 204 of /answer before ChannelStateChange Up).
	ResponseFirst
)

// Options configures a Fake. The zero value is a fake Asterisk on 127.0.0.1:0
// in real time with user "sophia", password "sophia".
type Options struct {
	// User and Password are the ARI credentials (default sophia / sophia).
	User, Password string

	// TimeScale multiplies every duration the fake waits on its own in real-time
	// mode: scripted answer/hangup/DTMF delays, dial and originate timeouts,
	// playback lengths, restart windows. 0 means 1 (real time); 0.001 makes a
	// scripted second last one millisecond. ARI's own parameters stay in
	// seconds on the wire (dial?timeout=20 means 20 fake seconds).
	TimeScale float64

	// ManualClock makes the fake's clock stand still until the test calls
	// Advance: timers fire in order inside Advance, timestamps and channel ids
	// follow the manual clock. TimeScale is then ignored.
	ManualClock bool
	// Start is the manual clock's start (default 2026-11-25T00:08:15Z).
	Start time.Time

	// EventBuffer bounds the events queued for one WebSocket (default 65536).
	// Overflow is never silent: the connection is dropped (1006) and the
	// overflow is reported as a failure.
	EventBuffer int

	// PlaybackDurations gives the length of media URIs ("sound:beep" → 250ms).
	// Unknown sounds last DefaultPlayback (default 1s); "tone:" media play until
	// stopped. The defaults are those of the traces' sound files.
	PlaybackDurations map[string]time.Duration
	DefaultPlayback   time.Duration

	// DTMFGap is the time between two digits a scripted far end presses
	// (default 350ms, SendDTMF's pace in the traces).
	DTMFGap time.Duration

	// CrashOnDoubleDial makes the fake behave like Asterisk 22.10.1 did (15b):
	// after a channel was dialed twice, hanging it up "crashes" the fake: every
	// WebSocket drops without a close frame, all state is lost and connections
	// are refused for RestartDowntime. The double dial is reported as a failure
	// either way.
	CrashOnDoubleDial bool

	// RestartDropAfter is how long after Restart's hangups the WebSockets drop
	// (default 1.2s, as traced); RestartDowntime how long connections are then
	// refused (default 500ms).
	RestartDropAfter, RestartDowntime time.Duration
}

// Fake is a fake Asterisk 22 speaking ARI (REST + events WebSocket) on
// loopback. All methods are safe for concurrent use.
type Fake struct {
	opts  Options
	tb    testing.TB
	sched *scheduler

	mu      sync.Mutex
	addr    string
	ln      net.Listener
	srv     *http.Server
	serving sync.WaitGroup
	conns   map[net.Conn]struct{}
	wss     map[*wsConn]struct{}
	down    bool
	closed  bool
	started time.Time

	counter   int
	localSeq  int
	pjsipSeq  int
	channels  map[string]*channel
	chanOrder []*channel
	bridges   map[string]*bridge
	brOrder   []*bridge
	playbacks map[string]*playback
	apps      map[string]*app
	appOrder  []*app
	endpoints map[string]*endpoint
	epOrder   []*endpoint
	scripts   map[string]Behavior
	devices   map[string]string
	devOrder  []string
	mailboxes map[string]*mailbox

	order       EventOrder
	holdStasis  bool
	held        []*channel
	stasisDelay time.Duration

	// testAfterReply, when set, runs just before a REST reply is written
	// (after EventsFirst waited, before ResponseFirst's gates open): tests of
	// the ordering modes read the WebSocket counters there.
	testAfterReply func()

	routesOnce sync.Once
	routeTable []route

	handling     bool // a REST handler runs (f.mu held)
	crashPending bool // crash once the current reply is written
	// loseReplies: requests ("POST channels/create") to carry out, then close the
	// connection on without a reply, by how many more times.
	loseReplies map[string]int

	// changed is closed and replaced whenever a WebSocket comes or goes.
	changed chan struct{}

	dials    []DialRecord
	actions  []Action
	failures []string
	crashed  []string
	missed   int
	calls    []*Call
}

// New starts a fake Asterisk on 127.0.0.1:0. tb (may be nil) gets the fake
// closed at cleanup and every fatal protocol misuse (double dial, event
// overflow, an ARI route the fake does not implement) reported with Errorf as
// it happens, so adapter tests fail loudly.
func New(tb testing.TB, opts Options) *Fake {
	if opts.User == "" {
		opts.User = "sophia"
	}
	if opts.Password == "" {
		opts.Password = "sophia"
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 11, 25, 0, 8, 15, 0, time.UTC)
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 1 << 16
	}
	if opts.DefaultPlayback <= 0 {
		opts.DefaultPlayback = time.Second
	}
	if opts.DTMFGap <= 0 {
		opts.DTMFGap = 350 * time.Millisecond
	}
	if opts.RestartDropAfter <= 0 {
		opts.RestartDropAfter = 1200 * time.Millisecond
	}
	if opts.RestartDowntime <= 0 {
		opts.RestartDowntime = 500 * time.Millisecond
	}
	f := &Fake{opts: opts, tb: tb,
		sched:     newScheduler(opts.ManualClock, opts.TimeScale, opts.Start),
		conns:     map[net.Conn]struct{}{},
		wss:       map[*wsConn]struct{}{},
		scripts:   map[string]Behavior{},
		devices:   map[string]string{},
		mailboxes: map[string]*mailbox{},
		endpoints: map[string]*endpoint{},
		changed:   make(chan struct{}),
	}
	f.reset()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if tb != nil {
			tb.Fatalf("fakeari: listen: %v", err)
		}
		panic(fmt.Sprintf("fakeari: listen: %v", err))
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	if tb != nil {
		tb.Cleanup(f.Close)
	}
	return f
}

// reset drops the volatile state, as an Asterisk restart does. Device states
// and mailboxes live in astdb and survive; endpoints keep their registration.
func (f *Fake) reset() {
	f.channels = map[string]*channel{}
	f.chanOrder = nil
	f.bridges = map[string]*bridge{}
	f.brOrder = nil
	f.playbacks = map[string]*playback{}
	f.apps = map[string]*app{}
	f.appOrder = nil
	f.held = nil
	f.started = f.sched.Now()
	for _, e := range f.epOrder {
		e.channels = nil
	}
}

func (f *Fake) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(f.serveHTTP), ConnState: f.connState,
		ReadHeaderTimeout: 10 * time.Second}
	f.mu.Lock()
	f.ln, f.srv, f.down = ln, srv, false
	f.mu.Unlock()
	f.serving.Add(1)
	go func() {
		defer f.serving.Done()
		_ = srv.Serve(ln)
	}()
}

func (f *Fake) connState(c net.Conn, s http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch s {
	case http.StateNew:
		f.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(f.conns, c)
	}
}

// URL is the ARI base URL, e.g. http://127.0.0.1:41234/ari (ari/v6's Options.URL).
func (f *Fake) URL() string { return "http://" + f.addr + "/ari" }

// WebsocketURL is the events URL without query (ari/v6's Options.WebsocketURL).
func (f *Fake) WebsocketURL() string { return "ws://" + f.addr + "/ari/events" }

// Addr is host:port of the fake; it keeps it across Restart.
func (f *Fake) Addr() string { return f.addr }

// Now is the fake's clock.
func (f *Fake) Now() time.Time { return f.sched.Now() }

// Advance moves a ManualClock fake's clock by d, firing every timer due on
// the way, in order, before it returns. It panics on a real-time fake.
func (f *Fake) Advance(d time.Duration) {
	if !f.opts.ManualClock {
		panic("fakeari: Advance needs Options.ManualClock")
	}
	f.sched.advance(d)
}

// SetEventOrder changes how events race REST replies from now on.
func (f *Fake) SetEventOrder(o EventOrder) {
	f.mu.Lock()
	f.order = o
	f.mu.Unlock()
}

// Close stops the fake: listener, connections, timers. Idempotent.
func (f *Fake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	srv, ln := f.srv, f.ln
	var wss []*wsConn
	for w := range f.wss {
		wss = append(wss, w)
	}
	f.mu.Unlock()
	f.sched.close()
	if ln != nil {
		_ = ln.Close()
	}
	for _, w := range wss {
		w.drop()
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		_ = srv.Close()
	}
	f.serving.Wait()
	for _, w := range wss {
		<-w.done
	}
}

// fail records a fatal misuse and reports it to the test at once. f.mu held.
func (f *Fake) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.failures = append(f.failures, msg)
	if f.tb != nil && !f.closed {
		f.tb.Errorf("fakeari: %s", msg)
	}
}

// Failures lists every fatal misuse seen so far: double dials, event buffer
// overflows, ARI routes the fake does not implement.
func (f *Fake) Failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failures...)
}

// Crashed lists the channels whose double dial would have crashed Asterisk
// 22.10.1 (15b). It is empty in a correct adapter run.
func (f *Fake) Crashed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.crashed...)
}

// DropConnections drops every events WebSocket without a close frame (the
// client sees 1006), as a network cut would, once the events already queued
// were written. Apps stay registered.
func (f *Fake) DropConnections() {
	f.mu.Lock()
	var wss []*wsConn
	for w := range f.wss {
		wss = append(wss, w)
	}
	f.mu.Unlock()
	for _, w := range wss {
		w.flushDrop()
	}
}

// Restart behaves like `core restart now` (16): every channel in Stasis gets
// ChannelHangupRequest{cause 4, soft} and StasisEnd at once; RestartDropAfter
// later every WebSocket and HTTP connection drops without a close frame, all
// channels, bridges, playbacks and apps vanish and new connections are
// refused; RestartDowntime after that the fake listens again on the same
// address. Restart returns at once; the timeline runs on the fake's clock.
func (f *Fake) Restart() {
	f.mu.Lock()
	for _, c := range append([]*channel(nil), f.chanOrder...) {
		if c.inStasis && !c.destroyed {
			f.chanEvent(c, obj{{"cause", 4}, {"soft", true}}, "ChannelHangupRequest", nil)
			f.leaveStasis(c)
		}
	}
	f.mu.Unlock()
	f.after(f.opts.RestartDropAfter, func() { f.goDown(f.opts.RestartDowntime) })
}

// goDown closes the listener and every connection, forgets the volatile
// state and listens again after downtime. Called without f.mu.
func (f *Fake) goDown(downtime time.Duration) {
	f.mu.Lock()
	if f.closed || f.down {
		f.mu.Unlock()
		return
	}
	f.down = true
	ln := f.ln
	var wss []*wsConn
	for w := range f.wss {
		wss = append(wss, w)
	}
	var conns []net.Conn
	for c := range f.conns {
		conns = append(conns, c)
	}
	for _, c := range f.chanOrder {
		c.timersStop(f.sched)
		for _, p := range c.playbacks {
			f.sched.cancel(p.timer)
		}
	}
	for _, b := range f.brOrder {
		for _, p := range b.playbacks {
			f.sched.cancel(p.timer)
		}
	}
	f.reset()
	// The way back is scheduled now, so that a manual clock advanced right
	// after the crash brings it back; it waits until everything is closed.
	closedAll := make(chan struct{})
	f.after(downtime, func() {
		<-closedAll
		f.comeUp()
	})
	f.mu.Unlock()
	_ = ln.Close()
	for _, w := range wss {
		w.flushDrop()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	close(closedAll)
}

func (f *Fake) comeUp() {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.mu.Lock()
		f.fail("restart: listen again on %s: %v", f.addr, err)
		f.mu.Unlock()
		return
	}
	f.serve(ln)
}

// Up reports whether the fake accepts connections (false during a restart).
func (f *Fake) Up() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down && !f.closed
}

// after runs fn on the fake's clock unless the fake is closed.
func (f *Fake) after(d time.Duration, fn func()) *timer {
	return f.sched.after(d, fn)
}

// soon runs fn now when d <= 0 (f.mu held), else at d like afterLocked:
// "after 0 s" must not wait for a manual clock's next Advance.
func (f *Fake) soon(c *channel, d time.Duration, fn func()) {
	if d <= 0 {
		fn()
		return
	}
	c.timers = append(c.timers, f.afterLocked(d, fn))
}

// afterLocked schedules fn to run with f.mu held, skipped if t was cancelled
// meanwhile (cancel is always called with f.mu held, so the check is exact).
func (f *Fake) afterLocked(d time.Duration, fn func()) *timer {
	t := &timer{}
	t.fn = func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.closed || !f.sched.alive(t) {
			return
		}
		fn()
	}
	f.sched.start(t, d)
	return t
}

// connsChanged wakes WaitConnected callers. f.mu held.
func (f *Fake) connsChanged() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Connected reports whether app has a WebSocket receiving its events.
func (f *Fake) Connected(app string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active(app)
}

// WaitConnected waits until app has (want true) or has no (want false)
// WebSocket receiving its events, or ctx ends: inject inbound calls only
// once the adapter is connected, or they fail like on a real Asterisk.
func (f *Fake) WaitConnected(ctx context.Context, app string, want bool) error {
	for {
		f.mu.Lock()
		ok, ch := f.active(app) == want, f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakeari: app %q connected=%v: %w", app, want, ctx.Err())
		}
	}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
