package esl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo"
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

// session is one inbound connection, from dial to drop (or ctx's end).
func (a *Adapter) session(ctx context.Context) error {
	var once sync.Once
	gone := make(chan struct{})
	opts := eslgo.DefaultInboundOptions
	opts.Password = string(a.o.Password)
	opts.Logger = nil // eslgo's logger writes to stdout; its failures reach us as errors
	opts.AuthTimeout = a.o.CommandTimeout
	opts.ExitTimeout = time.Second // a wrong password makes Dial wait this long (ExitAndClose)
	opts.OnDisconnect = func() { once.Do(func() { close(gone) }) }
	type dialed struct {
		c   *eslgo.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() { c, err := opts.Dial(a.o.Addr); ch <- dialed{c, err} }()
	var conn *eslgo.Conn
	select {
	case r := <-ch:
		if r.err != nil {
			a.m.connects.WithLabelValues("error").Inc()
			return fmt.Errorf("connect to %s: %w", a.o.Addr, r.err)
		}
		conn = r.c
	case <-ctx.Done():
		// A dial in progress (a host that does not answer): when it returns, close what
		// it made the only race-free way, by asking FreeSWITCH to drop it.
		go func() {
			if r := <-ch; r.err == nil {
				a.bye(r.c, gone)
			}
		}()
		return ctx.Err()
	}
	a.m.connects.WithLabelValues("ok").Inc()
	// One listener for every event: eslgo runs each call of it in a goroutine of its
	// own, so it only queues; the dispatcher puts them back in Event-Sequence order.
	conn.RegisterEventListener(eslgo.EventListenAll, a.evq.push)
	a.inMu.Lock()
	a.in = conn
	a.inMu.Unlock()
	defer func() {
		a.inMu.Lock()
		a.in = nil
		a.inMu.Unlock()
		a.connected.Store(false)
		a.m.connected.Set(0)
		a.b.SetLink("freeswitch", false)
	}()
	if err := a.setup(ctx, conn); err != nil {
		a.bye(conn, gone)
		return err
	}
	a.connected.Store(true)
	a.m.connected.Set(1)
	a.b.SetLink("freeswitch", true)
	a.b.Republish() // a FreeSWITCH that restarted forgot every presence
	a.log.Info("connected to FreeSWITCH's Event Socket", "addr", a.o.Addr, "domain", a.domain.Load())
	select {
	case <-gone:
		return errors.New("connection closed")
	case <-ctx.Done():
		a.bye(conn, gone)
		return ctx.Err()
	}
}

// setup subscribes, learns the domain and queues the registration sync.
func (a *Adapter) setup(ctx context.Context, conn *eslgo.Conn) error {
	if _, err := a.send(ctx, conn, subscription); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if a.o.Domain == "" {
		r, err := a.send(ctx, conn, command.API{Command: "global_getvar", Arguments: "domain"})
		if err != nil {
			return fmt.Errorf("global_getvar domain: %w", err)
		}
		if d := strings.TrimSpace(r.GetReply()); d != "" && !strings.HasPrefix(d, "-ERR") {
			a.domain.Store(d)
		}
	}
	// The sync runs in the dispatcher, in line with the events: those FreeSWITCH sends
	// after the snapshot are applied after it.
	a.evq.pushSync()
	return nil
}

// bye ends an inbound connection the way eslgo v1.5.0 tears down without a data race:
// FreeSWITCH drops the socket after `exit`, eslgo's reader sees it and closes itself
// (Close and ExitAndClose race with its reader goroutines). If FreeSWITCH does not
// answer, Close is the last resort.
func (a *Adapter) bye(conn *eslgo.Conn, gone <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), a.o.CommandTimeout)
	defer cancel()
	a.inMu.Lock()
	_, _ = conn.SendCommand(ctx, command.Exit{})
	a.inMu.Unlock()
	select {
	case <-gone:
	case <-ctx.Done():
		conn.Close()
	}
}

// send sends one command on the inbound connection, serialized with the others, and
// checks the reply. A command without a reply in time leaves the connection out of step
// (eslgo would hand the late reply to the next command): it is dropped, and reconnected.
func (a *Adapter) send(ctx context.Context, conn *eslgo.Conn, cmd command.Command) (*eslgo.RawResponse, error) {
	a.inMu.Lock()
	defer a.inMu.Unlock()
	if conn == nil {
		conn = a.in
	}
	if conn == nil {
		return nil, errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, a.o.CommandTimeout)
	defer cancel()
	r, err := conn.SendCommand(ctx, cmd)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			a.m.commands.WithLabelValues("timeout").Inc()
			go conn.Close() // out of step: drop it (OnDisconnect reconnects)
		} else {
			a.m.commands.WithLabelValues("error").Inc()
		}
		return nil, err
	}
	if t := r.GetReply(); strings.HasPrefix(t, "-ERR") || strings.HasPrefix(t, "-USAGE") {
		a.m.commands.WithLabelValues("error").Inc()
		return r, fmt.Errorf("FreeSWITCH answered %q", strings.TrimSpace(t))
	}
	a.m.commands.WithLabelValues("ok").Inc()
	return r, nil
}

// API runs a FreeSWITCH API command on the inbound connection ("show", "registrations
// as json") and returns its output.
func (a *Adapter) API(ctx context.Context, cmd, args string) (string, error) {
	r, err := a.send(ctx, nil, command.API{Command: cmd, Arguments: args})
	if r != nil {
		return r.GetReply(), err
	}
	return "", err
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
	e    *eslgo.Event
	sync bool // a registration sync request
}

const maxQueue = 100_000

func (q *eventQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *eventQueue) push(e *eslgo.Event) { q.add(queued{e: e}) }
func (q *eventQueue) pushSync()           { q.add(queued{sync: true}) }

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
			slices.SortStableFunc(seg, func(x, y queued) int { return cmpSeq(seqOf(x.e), seqOf(y.e)) })
			for _, it := range seg {
				a.apply(ctx, it.e)
			}
			if i < len(batch) {
				if err := a.syncRegistrations(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("sync registrations from FreeSWITCH", "err", err)
				}
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

func seqOf(e *eslgo.Event) uint64 {
	var n uint64
	for _, c := range e.GetHeader("Event-Sequence") {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// apply handles one inbound event.
func (a *Adapter) apply(ctx context.Context, e *eslgo.Event) {
	if e.GetName() != "CUSTOM" {
		return // HEARTBEAT: the link is alive
	}
	var st config.DeviceState
	var kind string
	switch e.GetHeader("Event-Subclass") {
	case "sofia::register":
		st, kind = config.DeviceOnline, "register"
	case "sofia::unregister":
		st, kind = config.DeviceOffline, "unregister"
	case "sofia::expire":
		st, kind = config.DeviceOffline, "expire"
	default:
		return
	}
	user := first(e.GetHeader("from-user"), e.GetHeader("user"), e.GetHeader("username"))
	host := first(e.GetHeader("from-host"), e.GetHeader("host"), e.GetHeader("realm"))
	if user == "" {
		a.m.dropped.WithLabelValues("undecodable").Inc()
		return
	}
	key := strings.ToLower(user + "@" + host)
	seq := seqOf(e)
	if last, ok := a.regs[key]; ok && seq != 0 && seq < last {
		a.m.dropped.WithLabelValues("stale").Inc()
		return
	}
	a.regs[key] = seq
	a.m.registered.WithLabelValues(kind).Inc()
	for _, ep := range endpointsOf(user, host, first(e.GetHeader("profile-name"), "internal")) {
		if err := a.deviceState(ctx, ep, st); err != nil && ctx.Err() == nil {
			a.log.Warn("record device state", "endpoint", ep, "err", err)
		}
	}
}

func (a *Adapter) deviceState(ctx context.Context, ep string, st config.DeviceState) error {
	return a.b.DeviceState(ctx, ep, st)
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
	if _, err := a.send(ctx, nil, ev); err != nil && !errors.Is(err, errNotConnected) {
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
