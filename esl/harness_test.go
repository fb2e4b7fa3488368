package esl

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/switchboard"
)

// scale shrinks FreeSWITCH's time in the tests: the fake's clock runs every delay
// (rings, answers, timeouts) 50× faster, and sophia's own ring deadlines are the same
// seconds shrunk alike plus a margin, so that FreeSWITCH's timers decide, as they do
// in production.
const scale = 0.02

func scaled(s int) time.Duration { return time.Duration(float64(s) * scale * float64(time.Second)) }

// harness is one sophia (store on real Redis, board, adapter) beside one fake FreeSWITCH.
type harness struct {
	t     *testing.T
	store *config.Store
	board *switchboard.Board
	fake  *fakeesl.Server
	clock *fakeesl.ScaledClock
	a     *Adapter
	reg   *prometheus.Registry
	ctx   context.Context
	stop  func() // stops sophia and the fake (also at cleanup)

	mu    sync.Mutex
	ended map[string]*switchboard.Result
	wake  chan struct{}
}

type harnessOptions struct {
	now        time.Time                   // the board's clock (routing); zero = time.Now
	endpoints  map[string]fakeesl.Endpoint // the fake's scripted dial targets
	noFake     bool                        // FreeSWITCH absent: the inbound address refuses
	addr       string                      // inbound address to use instead of the fake's
	noInbound  bool                        // no inbound connection at all
	store      *config.Store               // a store to share (several daemons)
	seconds    func(int) time.Duration     // sophia's ring deadlines (default: scaled + 2 s)
	clockScale float64                     // the fake's clock scale (default: scale)
	directory  []string                    // extra directory users of the fake
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	cs := o.clockScale
	if cs == 0 {
		cs = scale
	}
	h := &harness{t: t, ended: map[string]*switchboard.Result{}, wake: make(chan struct{}, 1),
		clock: fakeesl.NewScaledClock(cs), reg: prometheus.NewRegistry()}
	h.store = o.store
	if h.store == nil {
		c, prefix := redistest.New(t)
		st, err := config.New(config.Options{Client: c, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		h.store = st
	}
	bo := switchboard.Options{Store: h.store, Registerer: h.reg,
		Seconds: func(s int) time.Duration { return scaled(s) + 2*time.Second }}
	if o.seconds != nil {
		bo.Seconds = o.seconds
	}
	if !o.now.IsZero() {
		now := o.now
		bo.Now = func() time.Time { return now }
	}
	board, err := switchboard.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	h.board = board
	addr := o.addr
	if !o.noFake {
		eps := map[string]fakeesl.Endpoint{"sofia/gateway/trunk/*": fakeesl.NeverAnswers()}
		for k, v := range o.endpoints {
			eps[k] = v
		}
		f, err := fakeesl.New(fakeesl.Options{Clock: h.clock, Endpoints: eps,
			Directory: append([]string{"alice", "bob", "carol", "1000", "1001"}, o.directory...)})
		if err != nil {
			t.Fatal(err)
		}
		h.fake = f
		if addr == "" {
			addr = f.Addr()
		}
	}
	if o.noInbound {
		addr = ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	a, err := New(Options{Listen: "127.0.0.1:0", Addr: addr, Password: "ClueCon",
		Gateway: "sofia/gateway/trunk/{number}", Media: "http://127.0.0.1:8080/media",
		Board: board, Store: h.store, Registerer: h.reg, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Grace: 2 * time.Second, CommandTimeout: 20 * time.Second, OnCallEnd: h.onEnd})
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	var wg sync.WaitGroup
	wg.Go(func() { _ = board.Run(ctx) })
	wg.Go(func() { _ = a.Run(ctx) })
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			if h.fake != nil {
				_ = h.fake.Close()
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) onEnd(id string, res *switchboard.Result) {
	h.mu.Lock()
	h.ended[id] = res
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// waitEnd waits until sophia has finished call id (socket closed), up to a deadline.
func (h *harness) waitEnd(id string) *switchboard.Result {
	h.t.Helper()
	deadline := time.After(30 * time.Second) // reached only on a failure; CI shares 2 cores
	for {
		h.mu.Lock()
		res, ok := h.ended[id]
		h.mu.Unlock()
		if ok {
			return res
		}
		select {
		case <-h.wake:
		case <-deadline:
			h.t.Fatalf("call %s never ended; %d leftovers on the fake", id, len(h.fake.Leftovers()))
		}
	}
}

// waitFor polls cond (the state of another process: the fake, Redis) until it holds,
// up to a deadline: no event tells these, so this is the one wait by polling.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitLinked waits for the inbound connection.
func (h *harness) waitLinked() {
	h.t.Helper()
	waitFor(h.t, "the inbound Event Socket connection", func() bool { return h.a.Ready(context.Background()) == nil })
}

// register registers a phone on the fake and waits until sophia, through its inbound
// socket, has it online in Redis (a directory user no sheet holds: until the fake
// took it). On FreeSWITCH registering precedes calling by far; here the next line calls.
func (h *harness) register(r fakeesl.Registration) {
	h.t.Helper()
	if err := h.fake.Register(r); err != nil {
		h.t.Fatal(err)
	}
	waitFor(h.t, r.User+"'s registration in Redis", func() bool {
		v, err := h.store.CallViewByDevice(context.Background(), "user/"+r.User)
		return errors.Is(err, config.ErrNotFound) || err == nil && v.Device == config.DeviceOnline
	})
}

// inject makes a call arrive at the fake and hands it to sophia's socket.
func (h *harness) inject(spec fakeesl.CallSpec) string {
	h.t.Helper()
	spec.Socket = h.a.Addr().String()
	id, err := h.fake.InjectCall(spec)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// commands returns the commands sophia sent on call id's socket, as "word arg" lines:
// "execute bridge <arg>", "hangup USER_BUSY", "myevents"…
func (h *harness) commands(id string) []string {
	var out []string
	for _, m := range h.fake.CommandsFor(id) {
		if strings.EqualFold(m.Command, "sendmsg") || strings.HasPrefix(strings.ToLower(m.Command), "sendmsg ") {
			switch strings.ToLower(m.Get("call-command")) {
			case "execute":
				arg := m.Get("execute-app-arg")
				if arg == "" {
					arg = strings.TrimRight(string(m.Body), "\r\n")
				}
				out = append(out, "execute "+m.Get("execute-app-name")+" "+arg)
			case "hangup":
				out = append(out, "hangup "+m.Get("hangup-cause"))
			}
			continue
		}
		out = append(out, m.Command)
	}
	return out
}
