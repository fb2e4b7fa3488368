package main

import (
	"strings"
	"sync"
	"time"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/internal/fakeari"
)

// asterisk: the fake Asterisk 22 in the child, sophia's ARI adapter here. The fake
// times the calls: sophia's ari adapter makes its own connections (REST and WebSocket)
// with no hook to time their bytes on sophia's side.
var asterisk = pbx{
	span:     "StasisStart → first dial, timed by the fake Asterisk (event queued → request handled: both loopback hops in)",
	endpoint: func(id string) string { return "PJSIP/" + id },
	fake:     newFakeAsterisk,
	sophia:   func() (side, error) { return asteriskSide{}, nil },
}

type fakeAsterisk struct {
	f     *fakeari.Fake
	mu    sync.Mutex
	calls []*fakeari.Call
}

func newFakeAsterisk(p params, users []string, _ string) (fakePBX, error) {
	f := fakeari.New(nil, fakeari.Options{TimeScale: 1})
	for _, id := range users {
		f.Script("PJSIP/"+id, fakeari.AnswersAfter(p.Ring).ThenHangsUp(p.Talk))
	}
	return &fakeAsterisk{f: f}, nil
}

func (a *fakeAsterisk) addr() string { return a.f.Addr() }
func (a *fakeAsterisk) close()       { a.f.Close() }

func (a *fakeAsterisk) place(caller, number string) error {
	c, err := a.f.Inbound(fakeari.InboundCall{CallerNumber: caller, CallerName: "Load", Exten: number})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.calls = append(a.calls, c)
	a.mu.Unlock()
	return nil
}

// up counts the calls whose channel in Stasis is not gone.
func (a *fakeAsterisk) up() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.calls {
		if !c.Ended() {
			n++
		}
	}
	return n
}

// latencies: per call, the fake's "inbound" action (the StasisStart queued) to the
// first "dial" action on one of its legs (sophia names a leg "<call id>-<n>").
func (a *fakeAsterisk) latencies() []time.Duration {
	start := map[string]time.Time{}
	first := map[string]time.Time{}
	for _, act := range a.f.Actions() {
		switch act.Kind {
		case "inbound":
			start[act.ChannelID] = act.At
		case "dial":
			call, _, _ := strings.Cut(act.ChannelID, "-")
			if _, seen := first[call]; !seen {
				first[call] = act.At
			}
		}
	}
	lat := []time.Duration{}
	for call, at := range first {
		if s, ok := start[call]; ok {
			lat = append(lat, at.Sub(s))
		}
	}
	return lat
}

type asteriskSide struct{}

func (asteriskSide) childArgs() []string        { return nil }
func (asteriskSide) latencies() []time.Duration { return nil }

func (asteriskSide) adapter(addr string, w wiring) (adapter, error) {
	return ari.New(ari.Options{URL: "http://" + addr, User: "sophia", Password: "sophia", Board: w.board,
		Registerer: w.reg, Logger: w.log, Trunk: "PJSIP/{number}@trunk", Media: "http://127.0.0.1:8080/media",
		OnCallEnd: w.onEnd})
}
