package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cyari "github.com/CyCoreSystems/ari/v6"
	"github.com/gorilla/websocket"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/switchboard"
)

// Adapter is sophia's Stasis application on one Asterisk: it keeps the events WebSocket
// up, gives each call its own goroutine, and carries out the plans through ARI.
type Adapter struct {
	o     Options
	log   *slog.Logger
	rest  *rest
	wsURL string
	m     *metrics
	b     *switchboard.Board

	up      atomic.Bool            // the WebSocket is connected and resynced
	lastErr atomic.Pointer[string] // why the link is down

	mu     sync.Mutex
	routes map[string]*call // channel id → the call that owns it
	calls  map[*call]struct{}

	devices chan []byte // endpoint events, to the device goroutine, in order

	subMu      sync.Mutex
	subscribed map[string]bool // endpoints subscribed at the last sync (PJSIP/alice)
	newDevice  chan struct{}   // cap 1: a sheet names a device not subscribed: sync now
	callCtx    context.Context
	wg         sync.WaitGroup // call goroutines
}

// New returns an Adapter; it connects when Run runs.
func New(o Options) (*Adapter, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Board == nil {
		return nil, errors.New("ari: board: required")
	}
	base, ws := o.urls()
	a := &Adapter{o: o, log: o.Logger, b: o.Board, wsURL: ws, m: newMetrics(o.Registerer),
		rest:   &rest{base: base, user: o.User, pass: o.Password, hc: newHTTPClient(o.RequestTimeout)},
		routes: map[string]*call{}, calls: map[*call]struct{}{}, newDevice: make(chan struct{}, 1),
	}
	why := "not connected yet"
	a.lastErr.Store(&why)
	o.Board.AddPublisher(a)
	o.Board.OnDevice(a.noticeDevice)
	a.b.SetLink("asterisk", false)
	return a, nil
}

// Name names the component (sophiad's /readyz).
func (a *Adapter) Name() string { return "asterisk" }

// Ready reports whether the link to Asterisk is up.
func (a *Adapter) Ready(context.Context) error {
	if a.up.Load() {
		return nil
	}
	return fmt.Errorf("asterisk: %s", *a.lastErr.Load())
}

// Run keeps the link to Asterisk until ctx ends: it connects (sophiad starts and serves
// without Asterisk), reconnects with capped, jittered backoff when the WebSocket drops
// or Asterisk restarts, resyncs calls and devices after each connect, and dispatches
// events to the calls. At the end it lets calls in flight finish within Options.Grace.
func (a *Adapter) Run(ctx context.Context) error {
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	a.callCtx = callCtx
	devDone := make(chan struct{})
	a.devices = make(chan []byte, 1024)
	go func() { defer close(devDone); a.deviceLoop(ctx) }()
	defer func() {
		<-devDone
		a.shutdownCalls(cancelCalls)
		a.rest.hc.CloseIdleConnections() // nothing left open towards Asterisk
	}()

	delay := a.o.MinBackoff
	for {
		started := time.Now()
		err := a.session(ctx)
		a.setDown(err)
		if ctx.Err() != nil {
			return nil
		}
		a.m.reconnects.Inc()
		if time.Since(started) > 30*time.Second {
			delay = a.o.MinBackoff // it was up a while: start over
		}
		a.log.Warn("asterisk link down: reconnecting", "err", err, "in", delay)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, a.o.MaxBackoff)
	}
}

func (a *Adapter) setDown(err error) {
	if err == nil {
		err = errors.New("disconnected")
	}
	why := err.Error()
	a.lastErr.Store(&why)
	a.up.Store(false)
	a.b.SetLink("asterisk", false)
}

// session is one WebSocket connection: connect, resync, read until it drops.
func (a *Adapter) session(ctx context.Context) error {
	h := http.Header{}
	req, _ := http.NewRequest(http.MethodGet, a.rest.base, nil)
	req.SetBasicAuth(a.o.User, string(a.o.Password))
	h.Set("Authorization", req.Header.Get("Authorization"))
	d := websocket.Dialer{HandshakeTimeout: a.o.RequestTimeout}
	conn, res, err := d.DialContext(ctx, a.wsURL, h)
	if err != nil {
		if res != nil {
			return fmt.Errorf("connect events WebSocket: %s", res.Status)
		}
		return fmt.Errorf("connect events WebSocket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // shutdown unblocks the read
	defer stop()

	// The reader only reads and hands off, in wire order; the dispatcher decodes and
	// routes. The queue between them grows as needed: nothing is ever dropped.
	q := newQueue[[]byte]()
	readErr := make(chan error, 1)
	go func() {
		defer q.close()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			q.put(data)
		}
	}()
	if err := a.rest.info(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("asterisk info: %w", err)
	}
	// Events of the calls in flight are not replayed after a drop: resync from
	// Asterisk's own lists once the new WebSocket is live (events arriving meanwhile
	// are queued, and apply after it).
	if err := a.resync(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("resync: %w", err)
	}
	a.up.Store(true)
	a.b.SetLink("asterisk", true)
	a.b.Republish()
	a.log.Info("asterisk link up", "app", a.o.App)
	for {
		if data, ok, closed := q.next(); ok {
			if replaced := a.dispatch(data); replaced {
				return errors.New("another client took the Stasis application (ApplicationReplaced): two daemons with one --ari-app?")
			}
			continue
		} else if closed {
			return fmt.Errorf("events WebSocket: %w", <-readErr)
		}
		select {
		case <-q.ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// envelope is the part of an event the dispatcher routes by. Decoding it is cheaper
// than the whole event, which the call's own goroutine decodes (cyari.DecodeEvent): the
// dispatcher, the one goroutine every event goes through, stays light under bursts.
type envelope struct {
	Type    string   `json:"type"`
	Args    []string `json:"args"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Peer struct {
		ID string `json:"id"`
	} `json:"peer"`
	Playback struct {
		TargetURI string `json:"target_uri"`
	} `json:"playback"`
}

// dispatch routes one event to whoever owns it. It reports whether the application was
// replaced.
func (a *Adapter) dispatch(data []byte) bool {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Type == "" {
		a.m.dropped.WithLabelValues("undecodable").Inc()
		a.log.Warn("undecodable ARI event", "err", err, "bytes", len(data))
		return false
	}
	a.m.events.Inc()
	var id string
	switch env.Type {
	case "StasisStart":
		if len(env.Args) > 0 && (env.Args[0] == "inbound" || env.Args[0] == "outbound") {
			ev, err := cyari.DecodeEvent(data)
			if e, ok := ev.(*cyari.StasisStart); err == nil && ok {
				a.startCall(e)
			} else {
				a.m.dropped.WithLabelValues("undecodable").Inc()
				a.log.Warn("undecodable StasisStart", "err", err)
			}
			return false
		}
		id = env.Channel.ID
	case "StasisEnd", "ChannelHangupRequest", "ChannelDestroyed", "ChannelDtmfReceived":
		id = env.Channel.ID
	case "Dial":
		id = env.Peer.ID
	case "PlaybackFinished":
		id, _ = strings.CutPrefix(env.Playback.TargetURI, "channel:")
	case "EndpointStateChange":
		select {
		case a.devices <- data:
		default:
			// The device goroutine is behind by a thousand events: the next resync
			// reads the states again, but say so.
			a.m.dropped.WithLabelValues("device_backlog").Inc()
		}
		return false
	case "ApplicationReplaced":
		return true
	default:
		return false // events sophia does not act on (ChannelVarset, ChannelStateChange…)
	}
	a.mu.Lock()
	c := a.routes[id]
	a.mu.Unlock()
	if c != nil {
		c.events.put(inbox{raw: data})
	}
	return false
}

// inbox is one event for a call: as received (decoded by the call's goroutine), or
// made by the adapter itself at a resync.
type inbox struct {
	raw []byte
	ev  cyari.Event
}

// startCall gives a call that entered Stasis its own goroutine.
func (a *Adapter) startCall(e *cyari.StasisStart) {
	c := newCall(a, e)
	a.mu.Lock()
	if _, dup := a.routes[c.id]; dup {
		a.mu.Unlock()
		return // the same StasisStart twice (an endpoint subscription doubles them)
	}
	a.routes[c.id] = c
	a.calls[c] = struct{}{}
	a.mu.Unlock()
	a.m.calls.Inc()
	a.wg.Go(func() {
		res := c.run(a.callCtx)
		// Forgotten before OnCallEnd: whoever learns that the call ended finds the
		// adapter no longer holding it.
		a.forget(c)
		if a.o.OnCallEnd != nil {
			a.o.OnCallEnd(c.id, res)
		}
	})
}

func (a *Adapter) route(id string, c *call) {
	a.mu.Lock()
	a.routes[id] = c
	a.mu.Unlock()
}

// forget drops the call's routes: its own channel and its legs' (the only ids routed to
// it), without a scan of every call's.
func (a *Adapter) forget(c *call) {
	a.mu.Lock()
	if a.routes[c.id] == c {
		delete(a.routes, c.id)
	}
	for id := range c.legs {
		if a.routes[id] == c {
			delete(a.routes, id)
		}
	}
	delete(a.calls, c)
	a.mu.Unlock()
}

// Calls returns how many calls the adapter is handling now.
func (a *Adapter) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// shutdownCalls lets the calls in flight finish within the grace period, then cancels
// them (they hang up what they can) and waits for their goroutines.
func (a *Adapter) shutdownCalls(cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	t := time.NewTimer(a.o.Grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.log.Warn("calls still in flight after the grace period: ending them", "calls", a.Calls())
	}
	cancel()
	<-done
}

// resync runs after each connect: a channel that vanished while the WebSocket was down
// ended its call's part (Asterisk replays nothing), and device states may have changed.
func (a *Adapter) resync(ctx context.Context) error {
	chans, err := a.rest.channels(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]string, len(chans)) // id → state
	for _, ch := range chans {
		live[ch.ID] = ch.State
	}
	a.mu.Lock()
	var gone []struct {
		id string
		c  *call
	}
	var up []struct {
		id string
		c  *call
	}
	for id, c := range a.routes {
		state, ok := live[id]
		if ok && state == "Up" && id != c.id {
			// A leg up: it may have answered while the WebSocket was down (its Dial
			// ANSWER was lost). Answered twice is no change for the call.
			up = append(up, struct {
				id string
				c  *call
			}{id, c})
		}
		if !ok {
			gone = append(gone, struct {
				id string
				c  *call
			}{id, c})
		}
	}
	a.mu.Unlock()
	for _, u := range up {
		u.c.events.put(inbox{ev: &cyari.Dial{Dialstatus: "ANSWER", Peer: cyari.ChannelData{ID: u.id}}})
	}
	for _, g := range gone {
		a.m.resynced.Inc()
		// As if its StasisEnd had come: the end of the app's control of the channel.
		g.c.events.put(inbox{ev: &cyari.StasisEnd{Channel: cyari.ChannelData{ID: g.id}}})
	}
	return a.syncEndpoints(ctx)
}

// Publish sets the ARI-controlled device state Stasis:<user> (BLF keys watch it through
// hints: exten => 201,hint,Stasis:alice).
func (a *Adapter) Publish(ctx context.Context, user string, p switchboard.Presence) error {
	if !a.up.Load() {
		return nil // republished once the link is up again
	}
	return a.rest.setDeviceState(ctx, "Stasis:"+user, deviceState(p))
}

// deviceState maps presence to Asterisk's device states (what a BLF key shows).
func deviceState(p switchboard.Presence) string {
	switch p {
	case switchboard.PresenceRinging:
		return "RINGING"
	case switchboard.PresenceInCall:
		return "INUSE"
	case switchboard.PresenceDND:
		return "BUSY"
	case switchboard.PresenceOffline:
		return "UNAVAILABLE"
	}
	return "NOT_INUSE"
}

// endpointState maps ARI's endpoint state to a device state: "online" is online,
// "offline" offline; Local and other stateless technologies say "unknown" and count as
// online (the dial result decides).
func endpointState(state string) config.DeviceState {
	if strings.EqualFold(state, "offline") {
		return config.DeviceOffline
	}
	return config.DeviceOnline
}
