package fakeesl

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"
)

// eventSink collects events from eslgo listeners, which eslgo runs each in its own
// goroutine: order is not kept, so tests wait for a predicate, never for a position.
type eventSink struct {
	mu     sync.Mutex
	events []*eslgo.Event
	ch     chan struct{}
}

func newSink() *eventSink { return &eventSink{ch: make(chan struct{}, 1)} }

func (s *eventSink) add(e *eslgo.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// wait returns the first event matching ok, or fails after the deadline.
func (s *eventSink) wait(t *testing.T, what string, ok func(e *eslgo.Event) bool) *eslgo.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		for _, e := range s.events {
			if ok(e) {
				s.mu.Unlock()
				return e
			}
		}
		s.mu.Unlock()
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func named(name string) func(e *eslgo.Event) bool {
	return func(e *eslgo.Event) bool { return e.GetName() == name }
}

func newFake(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = NewScaledClock(0.01)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dialInbound connects eslgo. The returned func ends the connection the only way eslgo
// v1.5.0 tears down without a data race: the server drops the socket, eslgo's reader sees
// EOF and closes itself (its Close/ExitAndClose race with its own reader goroutines).
func dialInbound(t *testing.T, s *Server) (*eslgo.Conn, func()) {
	t.Helper()
	gone := make(chan struct{})
	opts := eslgo.DefaultInboundOptions
	opts.Password = s.Password()
	opts.Logger = nil
	opts.OnDisconnect = func() { close(gone) }
	c, err := opts.Dial(s.Addr())
	if err != nil {
		t.Fatalf("eslgo dial: %v", err)
	}
	return c, func() {
		s.DropConnections()
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("eslgo never saw the disconnect")
		}
	}
}

func TestEslgoInbound(t *testing.T) {
	s := newFake(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// eslgo's own wrong-password path is racy (its close() writes the response-channel
	// map its reader goroutines read) and waits ExitTimeout for a reply to `exit` on a
	// socket FreeSWITCH already closed; the replay test covers the wire bytes instead.
	c, hangup := dialInbound(t, s)
	sink := newSink()
	c.RegisterEventListener(eslgo.EventListenAll, sink.add)
	if _, err := c.SendCommand(ctx, command.Event{Format: "plain", Listen: []string{"CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "PRESENCE_IN", "CUSTOM", "sofia::register"}}); err != nil {
		t.Fatal(err)
	}
	r, err := c.SendCommand(ctx, command.API{Command: "version"})
	if err != nil || !strings.HasPrefix(r.GetReply(), "FreeSWITCH Version 1.10.12") {
		t.Fatalf("api version = %q, %v", r.GetReply(), err)
	}

	// originate replies once the leg answered.
	r, err = c.SendCommand(ctx, command.API{Command: "originate", Arguments: "{origination_uuid=11111111-0000-0000-0000-000000000001,origination_caller_id_number=5551000}loopback/answer/sophia &park"})
	if err != nil || r.GetReply() != "+OK 11111111-0000-0000-0000-000000000001\n" {
		t.Fatalf("originate = %q, %v", r.GetReply(), err)
	}
	sink.wait(t, "CHANNEL_ANSWER of the originated leg", func(e *eslgo.Event) bool {
		return e.GetName() == "CHANNEL_ANSWER" && e.GetHeader("Unique-ID") == "11111111-0000-0000-0000-000000000001"
	})
	r, _ = c.SendCommand(ctx, command.API{Command: "uuid_exists", Arguments: "11111111-0000-0000-0000-000000000001"})
	if r.GetReply() != "true" {
		t.Fatalf("uuid_exists = %q", r.GetReply())
	}
	r, _ = c.SendCommand(ctx, command.API{Command: "uuid_kill", Arguments: "11111111-0000-0000-0000-000000000001"})
	if r.GetReply() != "+OK\n" {
		t.Fatalf("uuid_kill = %q", r.GetReply())
	}
	sink.wait(t, "CHANNEL_HANGUP_COMPLETE", func(e *eslgo.Event) bool {
		return e.GetName() == "CHANNEL_HANGUP_COMPLETE" && e.GetHeader("Unique-ID") == "11111111-0000-0000-0000-000000000001"
	})

	// bgapi: the job's result arrives as BACKGROUND_JOB with our Job-UUID listener.
	r, err = c.SendCommand(ctx, command.API{Command: "status", Background: true})
	if err != nil || !r.IsOk() {
		t.Fatalf("bgapi = %v %v", r, err)
	}
	job := r.GetHeader("Job-UUID")
	ev := sink.wait(t, "BACKGROUND_JOB", func(e *eslgo.Event) bool {
		return e.GetName() == "BACKGROUND_JOB" && e.GetHeader("Job-UUID") == job
	})
	if !strings.Contains(string(ev.Body), "is ready") {
		t.Fatalf("BACKGROUND_JOB body = %q", ev.Body)
	}

	// Registrations reach the subscriber as CUSTOM sofia::register.
	if err := s.Register(Registration{User: "1000"}); err != nil {
		t.Fatal(err)
	}
	reg := sink.wait(t, "sofia::register", func(e *eslgo.Event) bool { return e.GetHeader("Event-Subclass") == "sofia::register" })
	if reg.GetHeader("from-user") != "1000" {
		t.Fatalf("from-user = %q", reg.GetHeader("from-user"))
	}
	r, _ = c.SendCommand(ctx, command.API{Command: "sofia_contact", Arguments: "1000"})
	if !strings.HasPrefix(r.GetReply(), "sofia/internal/sip:1000@") {
		t.Fatalf("sofia_contact = %q", r.GetReply())
	}

	// sendevent PRESENCE_IN comes back to the subscriber.
	if _, err := c.SendCommand(ctx, &command.SendEvent{Name: "PRESENCE_IN", Headers: map[string][]string{"From": {"1000@127.0.0.1"}, "Status": {"Ringing"}}}); err != nil {
		t.Fatal(err)
	}
	p := sink.wait(t, "PRESENCE_IN", named("PRESENCE_IN"))
	if p.GetHeader("From") != "1000@127.0.0.1" {
		t.Fatalf("PRESENCE_IN from = %q", p.GetHeader("From"))
	}
	if got := len(s.Presence()); got != 1 {
		t.Fatalf("Presence() = %d events", got)
	}
	hangup()
	waitNoLeftovers(t, s)
}

func waitNoLeftovers(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := s.Leftovers()
		if len(l) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leftovers: %v", l)
		}
		time.Sleep(5 * time.Millisecond) // polling Leftovers, not waiting for an event
	}
}

// TestEslgoOutbound: eslgo's outbound server accepts the fake's `socket` connection,
// answers and bridges to a scripted endpoint; the bridge result comes in
// CHANNEL_EXECUTE_COMPLETE only when the bridge ends.
func TestEslgoOutbound(t *testing.T) {
	s := newFake(t, Options{Endpoints: map[string]Endpoint{
		"sofia/gateway/trunk/+33612345678": AnswerThenHangup(2*time.Second, 3*time.Second),
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // eslgo's ListenAndServe opens its own listener and cannot be stopped.

	type result struct {
		complete *eslgo.Event
		err      error
	}
	results := make(chan result, 1)
	opts := eslgo.DefaultOutboundOptions
	opts.Logger = nil
	go func() {
		_ = opts.ListenAndServe(addr, func(ctx context.Context, conn *eslgo.Conn, connect *eslgo.RawResponse) {
			sink := newSink()
			conn.RegisterEventListener(eslgo.EventListenAll, sink.add)
			if connect.GetHeader("Socket-Mode") != "async" || connect.GetHeader("Caller-Caller-ID-Number") != "5551234" {
				results <- result{err: errorf("connect reply: mode %q cid %q", connect.GetHeader("Socket-Mode"), connect.GetHeader("Caller-Caller-ID-Number"))}
				return
			}
			uuid := connect.GetHeader("Unique-ID")
			if err := conn.EnableEvents(ctx); err != nil {
				results <- result{err: err}
				return
			}
			// command.Linger would make eslgo write closeDelay, which its dummyLoop reads
			// unlocked (a data race); the raw command keeps eslgo out of it.
			if _, err := conn.SendCommand(ctx, rawCommand("linger")); err != nil {
				results <- result{err: err}
				return
			}
			if err := conn.AnswerCall(ctx, uuid); err != nil {
				results <- result{err: err}
				return
			}
			if _, err := conn.SendCommand(ctx, &call.Execute{AppName: "bridge", AppArgs: "{origination_caller_id_number=+33478000001}sofia/gateway/trunk/+33612345678", AppUUID: "bbbbbbbb-0000-0000-0000-000000000001"}); err != nil {
				results <- result{err: err}
				return
			}
			done := make(chan *eslgo.Event, 1)
			go func() {
				done <- sink.waitNoT(func(e *eslgo.Event) bool {
					return e.GetName() == "CHANNEL_EXECUTE_COMPLETE" && e.GetHeader("Application-UUID") == "bbbbbbbb-0000-0000-0000-000000000001"
				})
			}()
			ev := <-done
			_ = conn.HangupCall(ctx, uuid, "NORMAL_CLEARING")
			sink.waitNoT(named("CHANNEL_HANGUP_COMPLETE"))
			results <- result{complete: ev}
		})
	}()
	var uuid string
	for i := 0; ; i++ { // the listener appears when eslgo's goroutine runs
		uuid, err = s.InjectCall(CallSpec{Socket: addr, CallerIDNumber: "5551234", Destination: "+33478000001"})
		if err != nil {
			t.Fatal(err)
		}
		if waitConnected(s, uuid) {
			break
		}
		if i > 50 {
			t.Fatal("eslgo outbound server never accepted")
		}
	}
	select {
	case r := <-results:
		if r.err != nil {
			t.Fatal(r.err)
		}
		e := r.complete
		if got := e.GetHeader("Variable_originate_disposition"); got != "SUCCESS" {
			t.Errorf("originate_disposition = %q", got)
		}
		if got := e.GetHeader("Variable_last_bridge_hangup_cause"); got != "NORMAL_CLEARING" {
			t.Errorf("last_bridge_hangup_cause = %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no bridge result")
	}
	b := s.Bridges()
	if len(b) != 1 || b[0].Legs[0].Vars["origination_caller_id_number"] != "+33478000001" || b[0].Result != "SUCCESS" {
		t.Fatalf("Bridges() = %+v", b)
	}
	waitNoLeftovers(t, s)
}

func (s *eventSink) waitNoT(ok func(e *eslgo.Event) bool) *eslgo.Event {
	deadline := time.After(8 * time.Second)
	for {
		s.mu.Lock()
		for _, e := range s.events {
			if ok(e) {
				s.mu.Unlock()
				return e
			}
		}
		s.mu.Unlock()
		select {
		case <-s.ch:
		case <-deadline:
			return &eslgo.Event{}
		}
	}
}

// waitConnected reports whether the channel's socket got connected (or false once the
// channel was hung up because the dial failed).
func waitConnected(s *Server, uuid string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range s.Connections() {
			if c.Channel == uuid && len(c.Commands) > 0 {
				return true
			}
		}
		if _, ok := s.Channels()[uuid]; !ok {
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling state, not waiting for an event
	}
	return false
}

type strErr string

func (e strErr) Error() string { return string(e) }

func errorf(format string, a ...any) error {
	return strErr(strings.TrimSpace(sprintf(format, a...)))
}

var sprintf = fmt.Sprintf

type rawCommand string

func (r rawCommand) BuildMessage() string { return string(r) }
