package fakeesl

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadOutboundCalls runs hundreds of concurrent calls through the outbound socket: the
// fake dials a listener of ours for each, which answers and bridges to a trunk that
// answers and hangs up, then hangs up itself. Afterwards nothing may be left: no channel,
// no connection (Leftovers) and no goroutine of the fake's.
func TestLoadOutboundCalls(t *testing.T) {
	const calls = 200
	before := runtime.NumGoroutine()

	s, err := New(Options{
		Clock: NewScaledClock(0.01), // ring 2 s → 20 ms, talk 3 s → 30 ms
		Endpoints: map[string]Endpoint{
			"sofia/gateway/trunk/*": AnswerThenHangup(2*time.Second, 3*time.Second),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	var ok, failed atomic.Int64
	var handlers sync.WaitGroup
	errs := make(chan error, calls)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				if err := driveCall(nc); err != nil {
					failed.Add(1)
					errs <- err
					return
				}
				ok.Add(1)
			}()
		}
	}()

	var inject sync.WaitGroup
	for i := 0; i < calls; i++ {
		inject.Add(1)
		go func() {
			defer inject.Done()
			if _, err := s.InjectCall(CallSpec{Socket: ln.Addr().String(), CallerIDNumber: fmt.Sprint(5550000 + i),
				Destination: fmt.Sprint(1000 + i%20)}); err != nil {
				errs <- err
			}
		}()
	}
	inject.Wait()
	start := time.Now()

	deadline := time.Now().Add(60 * time.Second)
	for ok.Load()+failed.Load() < calls && time.Now().Before(deadline) {
		select {
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if ok.Load() != calls {
		t.Fatalf("%d of %d calls completed (%d failed)", ok.Load(), calls, failed.Load())
	}
	t.Logf("%d calls done in %v", calls, time.Since(start))
	for left := s.Leftovers(); len(left) > 0; left = s.Leftovers() {
		if time.Now().After(deadline) {
			t.Fatalf("leftovers after every call ended: %d, first %q", len(left), left[0])
		}
		time.Sleep(time.Millisecond)
	}
	if n := len(s.Bridges()); n != calls {
		t.Fatalf("%d bridges recorded, want %d", n, calls)
	}
	t.Logf("no leftovers after %v", time.Since(start))
	_ = ln.Close()
	handlers.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// No goroutine left behind: back to where we started (the runtime may need a moment
	// to retire the network poller's and the timers' goroutines).
	for n := runtime.NumGoroutine(); n > before; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// driveCall is a minimal outbound-socket client: connect, myevents, answer, bridge to the
// trunk, wait for the bridge's result, hang up, and read until FreeSWITCH closes.
func driveCall(nc net.Conn) error {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	fr := NewFrameReader(nc, 0)
	send := func(cmd string) error {
		_, err := nc.Write([]byte(cmd + "\n\n"))
		return err
	}
	reply := func() (*Message, error) {
		for {
			m, err := fr.ReadMessage()
			if err != nil {
				return nil, err
			}
			if m.Get("Content-Type") == "command/reply" {
				return m, nil
			}
		}
	}
	if err := send("connect"); err != nil {
		return err
	}
	m, err := reply()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	uuid := m.Get("Unique-ID")
	dest := m.Get("Caller-Destination-Number")
	for _, cmd := range []string{"myevents",
		"sendmsg\ncall-command: execute\nexecute-app-name: answer",
		"sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: {originate_timeout=600}sofia/gateway/trunk/" + dest} {
		if err := send(cmd); err != nil {
			return err
		}
		if m, err := reply(); err != nil || m.Get("Reply-Text")[0] != '+' {
			return fmt.Errorf("%s %q: %v %v", uuid, cmd, m, err)
		}
	}
	var sawBridge bool
	for {
		m, err := fr.ReadMessage()
		if err != nil {
			return fmt.Errorf("%s: waiting for the bridge result: %w", uuid, err)
		}
		if !isEventFrame(m) {
			continue
		}
		e, err := ParseEvent(m.Body)
		if err != nil {
			return err
		}
		switch {
		case e.Name() == "CHANNEL_BRIDGE":
			sawBridge = true
		case e.Name() == "CHANNEL_EXECUTE_COMPLETE" && e.Get("Application") == "bridge":
			if !sawBridge || e.Get("variable_originate_disposition") != "SUCCESS" ||
				e.Get("variable_last_bridge_hangup_cause") != "NORMAL_CLEARING" {
				return fmt.Errorf("%s: bridge result %q/%q, bridged %v", uuid, e.Get("variable_originate_disposition"),
					e.Get("variable_last_bridge_hangup_cause"), sawBridge)
			}
			if err := send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"); err != nil {
				return err
			}
			for {
				m, err := fr.ReadMessage()
				if err != nil {
					return fmt.Errorf("%s: FreeSWITCH did not close after the disconnect notice: %w", uuid, err)
				}
				if m.Get("Content-Type") == "text/disconnect-notice" {
					if _, err := fr.ReadMessage(); err == nil {
						return fmt.Errorf("%s: data after the disconnect notice", uuid)
					}
					return nil
				}
			}
		}
	}
}
