package main

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sophia-pbx/sophia/esl"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
)

// freeswitch: the fake FreeSWITCH 1.10 in the child, whose `socket` application connects
// to sophia's listener here for each call; sophia's side times the calls.
var freeswitch = pbx{
	span:     "socket accept → first bridge execute written, timed by sophia",
	endpoint: func(id string) string { return "user/" + id },
	fake:     newFakeFreeSWITCH,
	sophia:   newFreeSWITCHSide,
}

type fakeFreeSWITCH struct {
	f      *fakeesl.Server
	sophia string
}

func newFakeFreeSWITCH(p params, users []string, sophia string) (fakePBX, error) {
	f, err := fakeesl.New(fakeesl.Options{Directory: users})
	if err != nil {
		return nil, err
	}
	for _, id := range users {
		if err := f.Register(fakeesl.Registration{User: id, Endpoint: fakeesl.AnswerThenHangup(p.Ring, p.Talk)}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &fakeFreeSWITCH{f: f, sophia: sophia}, nil
}

func (s *fakeFreeSWITCH) addr() string               { return s.f.Addr() }
func (s *fakeFreeSWITCH) close()                     { s.f.Close() }
func (s *fakeFreeSWITCH) latencies() []time.Duration { return nil }

func (s *fakeFreeSWITCH) place(caller, number string) error {
	_, err := s.f.InjectCall(fakeesl.CallSpec{Socket: s.sophia, CallerIDNumber: caller, Destination: number})
	return err
}

// up counts the channels and sockets alive, but for sophia's inbound Event Socket
// connection, which stays.
func (s *fakeFreeSWITCH) up() int {
	n := 0
	for _, l := range s.f.Leftovers() {
		if strings.HasPrefix(l, "connection ") && strings.HasSuffix(l, " inbound") {
			continue
		}
		n++
	}
	return n
}

type freeswitchSide struct{ ln *timedListener }

func newFreeSWITCHSide() (side, error) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return freeswitchSide{ln: &timedListener{Listener: raw}}, nil
}

func (s freeswitchSide) childArgs() []string        { return []string{"--socket", s.ln.Addr().String()} }
func (s freeswitchSide) latencies() []time.Duration { return s.ln.latencies() }

func (s freeswitchSide) adapter(addr string, w wiring) (adapter, error) {
	return esl.New(esl.Options{Listener: s.ln, Addr: addr, Password: "ClueCon", Gateway: "sofia/gateway/trunk/{number}",
		Media: "http://127.0.0.1:8080/media", Board: w.board, Store: w.store, Registerer: w.reg, Logger: w.log,
		OnCallEnd: w.onEnd})
}

// timedListener records, per accepted socket, the time from the accept to the first
// write of a bridge execute.
type timedListener struct {
	net.Listener
	mu  sync.Mutex
	lat []time.Duration
}

func (l *timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, l: l, at: time.Now()}, nil
}

func (l *timedListener) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration{}, l.lat...)
}

type timedConn struct {
	net.Conn
	l    *timedListener
	at   time.Time
	seen bool // the call's goroutine is the socket's only writer
}

// bridgeMarker is how eslgo's call.Execute renders the application's name.
var bridgeMarker = []byte("Execute-App-Name: bridge")

func (c *timedConn) Write(p []byte) (int, error) {
	if !c.seen && bytes.Contains(p, bridgeMarker) {
		c.seen = true
		d := time.Since(c.at)
		c.l.mu.Lock()
		c.l.lat = append(c.l.lat, d)
		c.l.mu.Unlock()
	}
	return c.Conn.Write(p)
}
