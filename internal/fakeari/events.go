package fakeari

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// app is a Stasis application as Asterisk keeps it: registered by the first
// WebSocket, kept (with its subscriptions) after the WebSocket goes, forgotten
// only by a restart.
type app struct {
	name         string
	conn         *wsConn // the one WebSocket that receives events, or nil
	endpoints    []string
	devices      []string
	subscribeAll bool
}

func (a *app) hasEndpoint(key string) bool {
	for _, e := range a.endpoints {
		if e == key {
			return true
		}
	}
	return false
}

func (a *app) hasDevice(name string) bool {
	for _, d := range a.devices {
		if d == name {
			return true
		}
	}
	return false
}

// wsConn is one events WebSocket: a bounded queue drained by one writer goroutine.
type wsConn struct {
	f        *Fake
	app      *app
	cmu      sync.Mutex
	c        *websocket.Conn // nil until the upgrade is done
	q        chan qitem
	gone     chan struct{} // closed when the connection is finished
	done     chan struct{} // closed when both goroutines returned
	once     sync.Once
	replaced bool
	written  atomic.Int64 // events written, for the ordering tests
	queued   atomic.Int64 // events queued
}

// qitem is an event, or a marker (closed once everything before it is
// written), or a gate (the writer waits until it is closed).
type qitem struct {
	data []byte
	mark chan struct{}
	gate chan struct{}
}

// flushDrop waits (bounded) until the events queued so far were written,
// then drops the connection: the fake's clock says they were sent already.
func (w *wsConn) flushDrop() {
	m := make(chan struct{})
	select {
	case w.q <- qitem{mark: m}:
		select {
		case <-m:
		case <-w.gone:
		case <-time.After(2 * time.Second):
		}
	default:
	}
	w.drop()
}

func (w *wsConn) drop() {
	w.once.Do(func() {
		close(w.gone)
		// Closing the TCP connection without a close frame: the client reads 1006.
		w.cmu.Lock()
		if w.c != nil {
			_ = w.c.NetConn().Close()
		}
		w.cmu.Unlock()
	})
}

func (w *wsConn) writer(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-w.gone:
			return
		case it := <-w.q:
			switch {
			case it.mark != nil:
				close(it.mark)
			case it.gate != nil:
				select {
				case <-it.gate:
				case <-w.gone:
					return
				}
			default:
				_ = w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := w.c.WriteMessage(websocket.TextMessage, it.data); err != nil {
					w.drop()
					return
				}
				w.written.Add(1)
			}
		}
	}
}

func (w *wsConn) reader(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		if _, _, err := w.c.ReadMessage(); err != nil {
			// A close frame was answered by gorilla's default close handler; a
			// dropped TCP connection just ends here.
			w.drop()
			return
		}
	}
}

var upgrader = websocket.Upgrader{
	// Asterisk does not check the Origin of the events WebSocket; ari/v6 sends
	// http://localhost/ whatever the host.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveEvents is GET /ari/events: the WebSocket upgrade (auth checked by the caller).
func (f *Fake) serveEvents(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query().Get("app")
	if names == "" {
		// Asterisk answers this one with its HTML error page.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n" +
			"<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n" +
			"<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n"))
		return
	}
	subAll := r.URL.Query().Get("subscribeAll") == "true"
	// The app is registered before the 101 goes out, so that a client may
	// inject calls as soon as its handshake is done.
	f.mu.Lock()
	if f.closed || f.down {
		f.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, nil)
		return
	}
	// Asterisk accepts app=a,b: one WebSocket for several apps.
	conn := &wsConn{f: f, q: make(chan qitem, f.opts.EventBuffer),
		gone: make(chan struct{}), done: make(chan struct{})}
	type prev struct {
		a   *app
		old *wsConn
	}
	var prevs []prev
	for _, name := range strings.Split(names, ",") {
		a := f.app(name)
		if conn.app == nil {
			conn.app = a
		}
		prevs = append(prevs, prev{a, a.conn})
		a.conn = conn
		a.subscribeAll = subAll
	}
	f.wss[conn] = struct{}{}
	f.mu.Unlock()

	c, err := upgrader.Upgrade(w, r, nil)
	f.mu.Lock()
	if err != nil {
		for _, p := range prevs {
			if p.a.conn == conn {
				p.a.conn = p.old
			}
		}
		delete(f.wss, conn)
		f.mu.Unlock()
		return
	}
	conn.cmu.Lock()
	conn.c = c
	conn.cmu.Unlock()
	for _, p := range prevs {
		if p.old != nil && p.old != conn {
			// The old WebSocket stays open but gets nothing more (16).
			p.old.enqueue(f, mustJSON(obj{{"type", "ApplicationReplaced"}, {"timestamp", stamp(f.sched.Now())},
				{"application", p.a.name}, {"asterisk_id", asteriskID}}))
			p.old.replaced = true
		}
	}
	f.connsChanged()
	f.mu.Unlock()
	select {
	case <-conn.gone:
		_ = c.NetConn().Close()
	default:
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go conn.writer(&wg)
	go conn.reader(&wg)
	go func() {
		wg.Wait()
		_ = c.Close()
		f.mu.Lock()
		delete(f.wss, conn)
		for _, a := range f.appOrder {
			if a.conn == conn {
				a.conn = nil
			}
		}
		f.connsChanged()
		f.mu.Unlock()
		close(conn.done)
	}()
}

// app returns the app named name, registering it. f.mu held.
func (f *Fake) app(name string) *app {
	a := f.apps[name]
	if a == nil {
		a = &app{name: name}
		f.apps[name] = a
		f.appOrder = append(f.appOrder, a)
	}
	return a
}

// active reports whether app name has a WebSocket. f.mu held.
func (f *Fake) active(name string) bool {
	a := f.apps[name]
	return a != nil && a.conn != nil
}

// enqueue hands data to the writer; a full queue drops the connection loudly.
func (w *wsConn) enqueue(f *Fake, data []byte) {
	select {
	case <-w.gone:
		return
	default:
	}
	select {
	case w.q <- qitem{data: data}:
		w.queued.Add(1)
	default:
		f.fail("event buffer of app %q overflowed (%d events): WebSocket dropped", w.app.name, cap(w.q))
		go w.drop()
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// deliver sends one event to app a (n times). f.mu held. Events for an app
// without WebSocket are dropped, as Asterisk drops them ("missed message").
func (f *Fake) deliver(a *app, pre obj, typ string, body obj, n int) {
	if n <= 0 {
		return
	}
	if a.conn == nil {
		f.missed += n
		return
	}
	o := make(obj, 0, len(pre)+len(body)+4)
	o = append(o, pre...)
	o = append(o, kv{"type", typ}, kv{"timestamp", stamp(f.sched.Now())})
	o = append(o, body...)
	o = append(o, kv{"asterisk_id", asteriskID}, kv{"application", a.name})
	data := mustJSON(o)
	for i := 0; i < n; i++ {
		a.conn.enqueue(f, data)
	}
}

// chanSubs is how many times app a hears the channel topic of c: once for its
// channel subscription (Stasis, create, originator, originate, REST), once
// more for a subscription to c's endpoint (13 shows both).
func (f *Fake) chanSubs(a *app, c *channel) int {
	n := 0
	if c.subs[a.name] > 0 || a.subscribeAll {
		n++
	}
	if c.endpoint != nil && a.hasEndpoint(c.endpoint.key()) {
		n++
	}
	return n
}

// chanEvent publishes an event on c's channel topic. f.mu held.
func (f *Fake) chanEvent(c *channel, pre obj, typ string, extra obj) {
	body := append(append(obj{}, extra...), kv{"channel", c.snapshot()})
	for _, a := range f.appOrder {
		f.deliver(a, pre, typ, body, f.chanSubs(a, c))
	}
}

// dialEvent publishes Dial on the peer's topic (ARI dials have no caller).
func (f *Fake) dialEvent(c *channel, status, dialstring string) {
	body := obj{{"dialstatus", status}, {"forward", ""}, {"dialstring", dialstring}, {"peer", c.snapshot()}}
	for _, a := range f.appOrder {
		f.deliver(a, nil, "Dial", body, f.chanSubs(a, c))
	}
}

// appEvent sends an app-specific event (StasisStart/End) to c's app only.
func (f *Fake) appEvent(c *channel, typ string, extra obj) {
	a := f.apps[c.app]
	if a == nil {
		return
	}
	body := append(append(obj{}, extra...), kv{"channel", c.snapshot()})
	f.deliver(a, nil, typ, body, 1)
}

// bridgeEvent goes once to every app subscribed to the bridge or the channel.
func (f *Fake) bridgeEvent(b *bridge, c *channel, typ string) {
	body := obj{{"bridge", b.snapshot()}}
	if c != nil {
		body = append(body, kv{"channel", c.snapshot()})
	}
	for _, a := range f.appOrder {
		if b.subs[a.name] > 0 || a.subscribeAll || (c != nil && f.chanSubs(a, c) > 0) {
			f.deliver(a, nil, typ, body, 1)
		}
	}
}

// playbackEvent goes once to the apps that hear the playback's target.
func (f *Fake) playbackEvent(p *playback, typ string) {
	body := obj{{"playback", p.json()}}
	for _, a := range f.appOrder {
		hears := a.subscribeAll
		if p.ch != nil && f.chanSubs(a, p.ch) > 0 {
			hears = true
		}
		if p.br != nil && p.br.subs[a.name] > 0 {
			hears = true
		}
		if hears {
			f.deliver(a, nil, typ, body, 1)
		}
	}
}

// endpointEvent goes to the apps subscribed to the endpoint.
func (f *Fake) endpointEvent(e *endpoint, typ string, extra obj) {
	body := append(obj{{"endpoint", e.json()}}, extra...)
	for _, a := range f.appOrder {
		if a.hasEndpoint(e.key()) || a.subscribeAll {
			f.deliver(a, nil, typ, body, 1)
		}
	}
}

// deviceEvent is DeviceStateChanged, whose "application" comes second.
func (f *Fake) deviceEvent(name, state string) {
	for _, a := range f.appOrder {
		if !a.hasDevice(name) && !a.subscribeAll {
			continue
		}
		if a.conn == nil {
			f.missed++
			continue
		}
		a.conn.enqueue(f, mustJSON(obj{{"type", "DeviceStateChanged"}, {"application", a.name},
			{"timestamp", stamp(f.sched.Now())}, {"device_state", obj{{"name", name}, {"state", state}}},
			{"asterisk_id", asteriskID}}))
	}
}

// gates holds the events of one REST request behind its reply (ResponseFirst).
func (f *Fake) gates() []chan struct{} {
	var gs []chan struct{}
	for _, a := range f.appOrder {
		if a.conn == nil {
			continue
		}
		g := make(chan struct{})
		select {
		case a.conn.q <- qitem{gate: g}:
			gs = append(gs, g)
		default:
		}
	}
	return gs
}

// mark is closed once every event queued before it was written, unless the
// connection went first.
type mark struct{ written, gone chan struct{} }

// marks queues a mark on every active WebSocket (EventsFirst).
func (f *Fake) marks() []mark {
	var ms []mark
	for _, a := range f.appOrder {
		if a.conn == nil {
			continue
		}
		m := mark{make(chan struct{}), a.conn.gone}
		select {
		case a.conn.q <- qitem{mark: m.written}:
			ms = append(ms, m)
		default:
		}
	}
	return ms
}
