package esl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/switchboard"
)

// errNotConnected: no inbound Event Socket connection now.
var errNotConnected = errors.New("esl: not connected to FreeSWITCH's Event Socket")

// Events the inbound connection subscribes to. Normal event names come before CUSTOM:
// every word after CUSTOM is read as a subclass (mod_event_socket's `event` command).
var subscription = command.Event{Format: "plain", Listen: []string{"HEARTBEAT",
	"CUSTOM", "sofia::register", "sofia::unregister", "sofia::expire"}}

// link keeps the inbound Event Socket connected until ctx ends: connect, subscribe,
// sync the registrations, serve; on a drop, reconnect after a capped, jittered backoff.
func (a *Adapter) link(ctx context.Context) {
	delay := a.o.MinBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := a.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > a.o.MaxBackoff {
			delay = a.o.MinBackoff // it was up a good while: the next try is quick again
		}
		a.log.Warn("FreeSWITCH Event Socket down; reconnecting", "addr", a.o.Addr, "err", err, "in", delay)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, a.o.MaxBackoff)
	}
}

// inConn is the inbound Event Socket connection. One goroutine reads it: replies go to
// the command waiting for them (commands are serialized by mu, so replies come in the
// order of the commands), events to the dispatcher's queue in wire order.
type inConn struct {
	nc      net.Conn
	mu      sync.Mutex  // one command at a time
	replies chan *frame // the reader hands the waiting command its reply
	done    chan struct{}
	err     error // why the reader stopped, once done is closed
}

// session is one inbound connection, from dial to drop (or ctx's end).
func (a *Adapter) session(ctx context.Context) error {
	c, err := a.dial(ctx)
	if err != nil {
		a.m.connects.WithLabelValues("error").Inc()
		return err
	}
	a.m.connects.WithLabelValues("ok").Inc()
	a.inMu.Lock()
	a.in = c
	a.inMu.Unlock()
	defer func() {
		a.inMu.Lock()
		a.in = nil
		a.inMu.Unlock()
		a.connected.Store(false)
		a.m.connected.Set(0)
		a.b.SetLink("freeswitch", false)
		a.bye(c)
	}()
	if err := a.setup(ctx, c); err != nil {
		return err
	}
	a.connected.Store(true)
	a.m.connected.Set(1)
	a.b.SetLink("freeswitch", true)
	a.b.Republish() // a FreeSWITCH that restarted forgot every presence
	a.log.Info("connected to FreeSWITCH's Event Socket", "addr", a.o.Addr, "domain", a.domain.Load())
	select {
	case <-c.done:
		return fmt.Errorf("connection lost: %w", c.err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial connects and authenticates: FreeSWITCH greets with auth/request, `auth` answers
// +OK accepted, or -ERR invalid followed by a goodbye and a close.
func (a *Adapter) dial(ctx context.Context) (*inConn, error) {
	dctx, cancel := context.WithTimeout(ctx, a.o.CommandTimeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", a.o.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", a.o.Addr, err)
	}
	c := &inConn{nc: nc, replies: make(chan *frame, 1), done: make(chan struct{})}
	br := bufio.NewReaderSize(nc, 32<<10)
	stop := context.AfterFunc(dctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	f, err := readFrame(br)
	if err == nil && f.contentType() != "auth/request" {
		err = fmt.Errorf("greeting %q, want auth/request", f.contentType())
	}
	if err == nil {
		_, err = nc.Write([]byte(render(command.Auth{Password: string(a.o.Password)}) + "\n\n"))
	}
	if err == nil {
		f, err = readFrame(br)
	}
	stopped := stop()
	if err == nil && !strings.HasPrefix(f.replyText(), "+OK") {
		err = fmt.Errorf("authentication refused (%s): check the Event Socket password", strings.TrimSpace(f.replyText()))
	}
	if err == nil && !stopped {
		err = dctx.Err()
	}
	if err != nil {
		_ = nc.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) && dctx.Err() != nil {
			err = dctx.Err()
		}
		return nil, fmt.Errorf("connect to %s: %w", a.o.Addr, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	go a.readInbound(c, br)
	return c, nil
}

// readInbound is the inbound connection's only reader.
func (a *Adapter) readInbound(c *inConn, br *bufio.Reader) {
	defer close(c.done)
	for {
		f, err := readFrame(br)
		if err != nil {
			c.err = err
			return
		}
		switch f.contentType() {
		case "command/reply", "api/response":
			select {
			case c.replies <- f:
			default:
				// A reply nobody waits for (its command timed out): the connection is
				// out of step, drop it.
				c.err = errors.New("a reply came that no command waits for")
				_ = c.nc.Close()
				return
			}
		case "text/event-plain":
			e, err := decodeEvent(f.body)
			if err != nil {
				a.m.dropped.WithLabelValues("undecodable").Inc()
				continue
			}
			a.evq.push(e)
		case "text/disconnect-notice":
			// FreeSWITCH closes the socket next (exit, shutdown, a wrong password).
		}
	}
}

// setup subscribes, learns the domain and queues the registration sync.
func (a *Adapter) setup(ctx context.Context, c *inConn) error {
	if _, err := a.send(ctx, c, render(subscription)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if a.o.Domain == "" {
		r, err := a.send(ctx, c, render(command.API{Command: "global_getvar", Arguments: "domain"}))
		if err != nil {
			return fmt.Errorf("global_getvar domain: %w", err)
		}
		if d := strings.TrimSpace(r); d != "" {
			a.domain.Store(d)
		}
	}
	// The sync runs in the dispatcher, in line with the events: those FreeSWITCH sends
	// after the snapshot are applied after it. Ready waits for it.
	a.synced.Store(false)
	a.evq.pushSync()
	return nil
}

// bye ends an inbound connection: exit (FreeSWITCH answers +OK bye and closes), then
// the socket is closed whatever happened, and the reader awaited.
func (a *Adapter) bye(c *inConn) {
	ctx, cancel := context.WithTimeout(context.Background(), a.o.CommandTimeout)
	defer cancel()
	_, _ = a.send(ctx, c, "exit")
	_ = c.nc.SetReadDeadline(time.Now().Add(a.o.CommandTimeout))
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	_ = c.nc.Close()
	<-c.done
}

// send sends one command on the inbound connection (nil: the current one), serialized
// with the others, and returns its reply text. A reply starting -ERR or -USAGE is an
// error. A command without a reply in time leaves the connection out of step: it is
// closed, and the link reconnects.
func (a *Adapter) send(ctx context.Context, c *inConn, cmd string) (string, error) {
	if c == nil {
		a.inMu.Lock()
		c = a.in
		a.inMu.Unlock()
	}
	if c == nil {
		return "", errNotConnected
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, a.o.CommandTimeout)
	defer cancel()
	_ = c.nc.SetWriteDeadline(time.Now().Add(a.o.CommandTimeout))
	if _, err := c.nc.Write([]byte(cmd + "\n\n")); err != nil {
		a.m.commands.WithLabelValues("error").Inc()
		return "", fmt.Errorf("%s: %w", firstLine(cmd), err)
	}
	select {
	case f := <-c.replies:
		t := f.replyText()
		if strings.HasPrefix(t, "-ERR") || strings.HasPrefix(t, "-USAGE") {
			a.m.commands.WithLabelValues("error").Inc()
			return t, fmt.Errorf("%s: FreeSWITCH answered %q", firstLine(cmd), strings.TrimSpace(t))
		}
		a.m.commands.WithLabelValues("ok").Inc()
		return t, nil
	case <-c.done:
		a.m.commands.WithLabelValues("error").Inc()
		return "", fmt.Errorf("%s: %w", firstLine(cmd), errNotConnected)
	case <-ctx.Done():
		a.m.commands.WithLabelValues("timeout").Inc()
		_ = c.nc.Close()
		return "", fmt.Errorf("%s: no reply: %w", firstLine(cmd), ctx.Err())
	}
}

// API runs a FreeSWITCH API command on the inbound connection ("show", "registrations
// as json") and returns its output.
func (a *Adapter) API(ctx context.Context, cmd, args string) (string, error) {
	return a.send(ctx, nil, render(command.API{Command: cmd, Arguments: args}))
}

// eventQueue carries inbound events from eslgo's listener goroutines to the dispatcher.
// It never blocks eslgo; past maxQueue events it drops and counts.
type eventQueue struct {
	mu    sync.Mutex
	items []queued
	wake  chan struct{}
	drops func()
}

type queued struct {
	e    *event
	sync bool // a registration sync request
}

const maxQueue = 100_000

func (q *eventQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *eventQueue) push(e *event) { q.add(queued{e: e}) }
func (q *eventQueue) pushSync()     { q.add(queued{sync: true}) }

func (q *eventQueue) add(it queued) {
	q.mu.Lock()
	if len(q.items) >= maxQueue && !it.sync {
		q.mu.Unlock()
		if q.drops != nil {
			q.drops()
		}
		return
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) take() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// dispatch applies inbound events one batch at a time, each batch in Event-Sequence
// order (a sync request keeps its place: it was queued after the events before it).
// Events of one device that still come late (eslgo's goroutines) are recognized by
// their sequence: older than the last applied for that device, they are counted stale
// and not applied.
func (a *Adapter) dispatch(ctx context.Context) {
	a.evq.drops = func() { a.m.dropped.WithLabelValues("queue_full").Inc() }
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.evq.wake:
		}
		batch := a.evq.take()
		start := 0
		for i := 0; i <= len(batch); i++ {
			if i < len(batch) && !batch[i].sync {
				continue
			}
			seg := batch[start:i]
			slices.SortStableFunc(seg, func(x, y queued) int { return cmpSeq(x.e.seq, y.e.seq) })
			for _, it := range seg {
				a.apply(ctx, it.e)
			}
			if i < len(batch) {
				if err := a.syncRegistrations(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("sync registrations from FreeSWITCH", "err", err)
				}
				a.synced.Store(true) // run, if not succeeded: the events go on all the same
			}
			start = i + 1
		}
	}
}

func cmpSeq(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// apply handles one inbound event.
func (a *Adapter) apply(ctx context.Context, e *event) {
	if e.name() != "CUSTOM" {
		return // HEARTBEAT: the link is alive
	}
	var st config.DeviceState
	var kind string
	switch e.get("Event-Subclass") {
	case "sofia::register":
		st, kind = config.DeviceOnline, "register"
	case "sofia::unregister":
		st, kind = config.DeviceOffline, "unregister"
	case "sofia::expire":
		st, kind = config.DeviceOffline, "expire"
	default:
		return
	}
	user := first(e.get("from-user"), e.get("user"), e.get("username"))
	host := first(e.get("from-host"), e.get("host"), e.get("realm"))
	if user == "" {
		a.m.dropped.WithLabelValues("undecodable").Inc()
		return
	}
	key := strings.ToLower(user + "@" + host)
	seq := e.seq
	if last, ok := a.regs[key]; ok && seq != 0 && seq < last {
		a.m.dropped.WithLabelValues("stale").Inc()
		return
	}
	a.regs[key] = seq
	a.m.registered.WithLabelValues(kind).Inc()
	for _, ep := range endpointsOf(user, host, first(e.get("profile-name"), "internal")) {
		if err := a.deviceState(ctx, ep, st); err != nil && ctx.Err() == nil {
			a.log.Warn("record device state", "endpoint", ep, "err", err)
		}
	}
}

func (a *Adapter) deviceState(ctx context.Context, ep string, st config.DeviceState) error {
	_, err := a.b.DeviceState(ctx, ep, st)
	return err
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// endpointsOf lists the dial strings a sheet may store for a registered user:
// user/1000, user/1000@example.com, sofia/internal/1000%example.com.
func endpointsOf(user, host, profile string) []string {
	eps := []string{"user/" + user}
	if host != "" {
		eps = append(eps, "user/"+user+"@"+host, "sofia/"+profile+"/"+user+"%"+host)
	}
	return eps
}

// regOf reads which registration an endpoint stands for: ("1000", "" or the domain,
// true) for user/1000[@domain] and sofia/<profile>/1000%domain; false for any other
// dial string (a gateway, loopback…), whose state registrations do not tell.
func regOf(ep string) (user, host string, ok bool) {
	if rest, ok := strings.CutPrefix(ep, "user/"); ok && rest != "" {
		u, h, _ := strings.Cut(rest, "@")
		return u, h, u != ""
	}
	if rest, ok := strings.CutPrefix(ep, "sofia/"); ok {
		_, target, _ := strings.Cut(rest, "/")
		if u, h, ok := strings.Cut(target, "%"); ok && u != "" && !strings.ContainsAny(target, "@:") {
			return u, h, true
		}
	}
	return "", "", false
}

// syncRegistrations reads who is registered now (show registrations as json) and sets
// every device sophia knows of the user/ and sofia/…% forms online or offline from it:
// registrations and unregistrations missed while disconnected are caught up.
func (a *Adapter) syncRegistrations(ctx context.Context) error {
	out, err := a.API(ctx, "show", "registrations as json")
	if err != nil {
		return err
	}
	var regs struct {
		Rows []struct {
			User  string `json:"reg_user"`
			Realm string `json:"realm"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &regs); err != nil {
		return fmt.Errorf("show registrations as json: %w", err)
	}
	users, domains := map[string]bool{}, map[string]bool{}
	for _, r := range regs.Rows {
		users[strings.ToLower(r.User)] = true
		domains[strings.ToLower(r.User+"@"+r.Realm)] = true
	}
	after := ""
	for {
		page, next, err := a.st.ListUsers(ctx, config.UserFilter{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, s := range page {
			if s.Device == nil {
				continue
			}
			u, h, ok := regOf(s.Device.Endpoint)
			if !ok {
				continue
			}
			on := users[strings.ToLower(u)]
			if h != "" {
				on = domains[strings.ToLower(u+"@"+h)]
			}
			st := config.DeviceOffline
			if on {
				st = config.DeviceOnline
			}
			if err := a.deviceState(ctx, s.Device.Endpoint, st); err != nil {
				return err
			}
		}
		a.m.registered.WithLabelValues("sync").Add(float64(len(page)))
		if next == "" {
			return nil
		}
		after = next
	}
}

// presenceOf is what a BLF key shows for a presence: PRESENCE_IN's status, answer-state
// (dialog-info: early blinks, confirmed is lit, terminated is off) and channel-state.
func presenceOf(p switchboard.Presence) (status, answer, state, rpid string) {
	switch p {
	case switchboard.PresenceRinging:
		return "Ringing", "early", "CS_ROUTING", "unknown"
	case switchboard.PresenceInCall:
		return "Talk", "confirmed", "CS_EXCHANGE_MEDIA", "unknown"
	case switchboard.PresenceDND:
		return "DND", "confirmed", "CS_EXCHANGE_MEDIA", "busy"
	case switchboard.PresenceOffline:
		return "Unregistered", "terminated", "CS_HANGUP", "unknown"
	}
	return "Available", "terminated", "CS_HANGUP", "unknown"
}

// Publish implements switchboard.Publisher: a user's presence as a PRESENCE_IN event
// (sendevent), from the user's device's SIP identity, so the BLF keys that watch it
// light (mod_sofia turns PRESENCE_IN into dialog NOTIFYs). Without a connection it does
// nothing: the board publishes everything again once connected (Republish).
func (a *Adapter) Publish(ctx context.Context, uid string, p switchboard.Presence) error {
	if !a.connected.Load() {
		return nil
	}
	v, err := a.st.CallView(ctx, uid)
	if errors.Is(err, config.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.User == nil || v.User.Sheet == nil || v.User.Sheet.Device == nil {
		return nil
	}
	user, host, ok := regOf(v.User.Sheet.Device.Endpoint)
	if !ok {
		return nil // a device presence cannot name (a gateway…)
	}
	if host == "" {
		host, _ = a.domain.Load().(string)
	}
	id := user + "@" + host
	status, answer, state, rpid := presenceOf(p)
	ev := &command.SendEvent{Name: "PRESENCE_IN", Headers: textproto.MIMEHeader{
		"proto": {"sip"}, "from": {id}, "login": {id}, "status": {status}, "rpid": {rpid},
		"event_type": {"presence"}, "alt_event_type": {"dialog"}, "event_count": {"1"},
		"unique-id": {presenceID(uid)}, "channel-state": {state}, "answer-state": {answer},
		"Presence-Call-Direction": {"inbound"},
	}}
	if _, err := a.send(ctx, nil, render(ev)); err != nil && !errors.Is(err, errNotConnected) {
		return fmt.Errorf("sendevent PRESENCE_IN for %s: %w", id, err)
	}
	return nil
}

// presenceID is a stable dialog id per user, so that successive PRESENCE_IN events
// update one dialog on the watching phones.
func presenceID(uid string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(uid); i++ {
		h ^= uint64(uid[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("50f1a000-0000-4000-8000-%012x", h&0xffffffffffff)
}
