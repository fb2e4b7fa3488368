package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo/command"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/switchboard"
)

// Adapter is sophia beside one FreeSWITCH (package doc).
type Adapter struct {
	o   Options
	b   *switchboard.Board
	st  *config.Store
	log *slog.Logger
	m   *metrics
	ln  net.Listener // nil: no outbound socket listener

	calls     sync.WaitGroup
	open      atomic.Int64 // outbound sockets open (tests: leftovers)
	connected atomic.Bool
	synced    atomic.Bool // the registration sync of the current connection has run

	// The inbound Event Socket connection, nil while disconnected.
	inMu   sync.Mutex
	in     *inConn
	domain atomic.Value // string: FreeSWITCH's global domain, or Options.Domain

	evq  eventQueue
	regs map[string]uint64 // device key → Event-Sequence of the last applied registration event (dispatcher only)
}

// New returns an Adapter. With Options.Listen it listens at once (a port in use fails
// here, not later); it connects to FreeSWITCH's Event Socket only in Run.
func New(o Options) (*Adapter, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Board == nil || o.Store == nil {
		return nil, errors.New("esl: Board and Store are required")
	}
	a := &Adapter{o: o, b: o.Board, st: o.Store, log: o.Logger, m: newMetrics(o.Registerer),
		ln: o.Listener, regs: map[string]uint64{}}
	a.evq.init()
	a.domain.Store(o.Domain)
	if a.ln == nil && o.Listen != "" {
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return nil, fmt.Errorf("esl: listen for FreeSWITCH's socket application on %s: %w", o.Listen, err)
		}
		a.ln = ln
	}
	if o.Addr != "" {
		a.b.AddPublisher(a)
	}
	a.b.SetLink("freeswitch", false)
	return a, nil
}

// Name is the component's name in sophiad (/readyz).
func (a *Adapter) Name() string { return "freeswitch" }

// Addr is where the outbound socket listener listens (nil without one).
func (a *Adapter) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Ready reports whether the Event Socket connection to FreeSWITCH is up and its
// registration sync has run, so that device states are FreeSWITCH's (nil without
// Options.Addr: there is nothing to connect to).
func (a *Adapter) Ready(context.Context) error {
	switch {
	case a.o.Addr == "":
		return nil
	case !a.connected.Load():
		return fmt.Errorf("not connected to FreeSWITCH's Event Socket at %s", a.o.Addr)
	case !a.synced.Load():
		return errors.New("connected to FreeSWITCH's Event Socket; registrations not synced yet")
	}
	return nil
}

// Run serves FreeSWITCH's outbound sockets (one goroutine per call) and keeps the
// inbound Event Socket connected, until ctx ends; then it stops accepting calls, lets
// those in flight go on for Options.Grace, and returns once every goroutine it started
// has stopped.
func (a *Adapter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.ln != nil {
		wg.Go(func() { a.serve(ctx) })
	}
	if a.o.Addr != "" {
		wg.Go(func() { a.dispatch(ctx) })
		wg.Go(func() { a.link(ctx) })
	}
	wg.Wait()
	return nil
}

// serve accepts outbound sockets until ctx ends, then waits for the calls.
func (a *Adapter) serve(ctx context.Context) {
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	stop := context.AfterFunc(ctx, func() { _ = a.ln.Close() })
	defer stop()
	delay := 5 * time.Millisecond
	for {
		nc, err := a.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of file descriptors and the like: wait a little, as net/http does.
			a.log.Warn("accept FreeSWITCH's socket", "err", err)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		arrived := time.Now()
		a.calls.Go(func() { a.handle(callCtx, nc, arrived) })
	}
	_ = a.ln.Close()
	done := make(chan struct{})
	go func() { a.calls.Wait(); close(done) }()
	t := time.NewTimer(a.o.Grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.log.Warn("calls still in progress after the grace period: closing their sockets (FreeSWITCH hangs them up)", "grace", a.o.Grace)
		cancelCalls()
		<-done
	}
}

// handle owns one call from its socket's connect to its close. OnCallEnd hears of the
// call once its socket is closed and no longer counted.
func (a *Adapter) handle(ctx context.Context, nc net.Conn, arrived time.Time) {
	a.m.calls.Inc()
	a.m.sockets.Inc()
	a.open.Add(1)
	s := newSock(a, nc)
	id, res := a.runCall(ctx, s, nc, arrived)
	s.close()
	a.m.sockets.Dec()
	a.open.Add(-1)
	if res != nil && a.o.OnCallEnd != nil {
		a.o.OnCallEnd(id, res)
	}
}

// runCall runs one call on its socket: the connect, the routing, the end. It returns the
// call's id and result, or a nil result when the socket never carried a call.
func (a *Adapter) runCall(ctx context.Context, s *sock, nc net.Conn, arrived time.Time) (string, *switchboard.Result) {
	replies, err := s.commands(ctx, render(command.Connect{}))
	if err != nil {
		a.log.Warn("outbound socket: no connect reply", "remote", nc.RemoteAddr().String(), "err", err)
		return "", nil
	}
	data := replies[0].hdrs
	sc := callOf(data, arrived)
	s.uuid = sc.ID
	log := a.log.With("call_id", sc.ID)
	// myevents: the channel's own events; linger: the socket outlives the channel, so
	// that CHANNEL_HANGUP_COMPLETE and what precedes it are never lost to a close.
	if err := s.mustOK(ctx, "myevents", "linger"); err != nil {
		log.Warn("outbound socket: set up", "err", err)
		return "", nil
	}
	d := &callDriver{s: s, a: a, sc: sc, log: log}
	res := a.b.Handle(ctx, sc, d)
	a.finish(ctx, d, log)
	return sc.ID, res
}

// finish ends a call's socket: the channel hung up unless given back to the dialplan,
// its CHANNEL_HANGUP_COMPLETE awaited, then exit and the socket drained until
// FreeSWITCH closes it.
func (a *Adapter) finish(ctx context.Context, d *callDriver, log *slog.Logger) {
	s := d.s
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.o.CommandTimeout)
	defer cancel()
	if !d.cont && !s.hungup && !s.gone {
		if err := d.Hangup(wctx, callflow.CauseNormal); err != nil {
			log.Warn("hang up at the end of the call", "err", err)
		}
	}
	for !d.cont && !s.completed && !s.gone {
		if _, err := s.event(wctx); err != nil {
			break
		}
	}
	if !s.gone {
		_ = s.write("exit")
	}
	s.drain(a.o.CommandTimeout)
}
