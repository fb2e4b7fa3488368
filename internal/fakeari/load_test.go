package fakeari

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// router hands each channel's events to that channel's queue, so hundreds of
// concurrent calls can each wait for their own events.
type router struct {
	mu sync.Mutex
	q  map[string]chan map[string]any
}

func (r *router) ch(id string) chan map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.q[id]
	if c == nil {
		c = make(chan map[string]any, 256)
		r.q[id] = c
	}
	return c
}

func (r *router) wait(id, typ string) (map[string]any, error) {
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.ch(id):
			if e["type"] == typ {
				return e, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("no %s for %s within 10s", typ, id)
		}
	}
}

// TestLoad runs 200 calls at once (inbound, answer, create + dial a leg,
// bridge, hang up both, delete the bridge) through one WebSocket: nothing
// may be left, lost or reported afterwards.
func TestLoad(t *testing.T) {
	const calls = 200
	f := newFake(t, Options{TimeScale: 0.001})
	f.Script("Local/answer@devices", Answers())
	c := connect(t, f, "sophia")
	rt := &router{q: map[string]chan map[string]any{}}
	stop := make(chan struct{})
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		for {
			select {
			case e := <-c.events:
				if ch := chanOf(e); ch != nil {
					rt.ch(fmt.Sprint(ch["id"])) <- e
				}
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-routed }()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: calls}}
	defer hc.CloseIdleConnections()
	rest := func(method, path, query string) (map[string]any, error) {
		req, _ := http.NewRequest(method, "http://"+f.Addr()+path+"?"+query, nil)
		req.SetBasicAuth("sophia", "sophia")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var m map[string]any
		if len(bytes.TrimSpace(raw)) > 0 {
			_ = json.Unmarshal(raw, &m)
		}
		return m, nil
	}

	oneCall := func(i int) error {
		call, err := f.Inbound(InboundCall{CallerNumber: fmt.Sprintf("+1555%07d", i)})
		if err != nil {
			return err
		}
		in := call.ID()
		steps := []func() error{
			func() error { _, err := rt.wait(in, "StasisStart"); return err },
			func() error { _, err := rest("POST", "/ari/channels/"+in+"/answer", ""); return err },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		legResp, err := rest("POST", "/ari/channels/create", "app=sophia&appArgs=dialed&endpoint=Local/answer@devices&originator="+in)
		if err != nil {
			return err
		}
		leg := fmt.Sprint(legResp["id"])
		if _, err := rt.wait(leg, "StasisStart"); err != nil {
			return err
		}
		if _, err := rest("POST", "/ari/channels/"+leg+"/dial", "timeout=20&caller="+in); err != nil {
			return err
		}
		for {
			e, err := rt.wait(leg, "Dial")
			if err != nil {
				return err
			}
			if e["dialstatus"] == "ANSWER" {
				break
			}
		}
		br, err := rest("POST", "/ari/bridges", "type=mixing")
		if err != nil {
			return err
		}
		bid := fmt.Sprint(br["id"])
		if _, err := rest("POST", "/ari/bridges/"+bid+"/addChannel", "channel="+in+","+leg); err != nil {
			return err
		}
		if _, err := rt.wait(leg, "ChannelEnteredBridge"); err != nil {
			return err
		}
		if _, err := rest("DELETE", "/ari/channels/"+leg, ""); err != nil {
			return err
		}
		if _, err := rt.wait(leg, "ChannelDestroyed"); err != nil {
			return err
		}
		if err := call.Hangup(); err != nil {
			return err
		}
		if _, err := rt.wait(in, "ChannelDestroyed"); err != nil {
			return err
		}
		_, err = rest("DELETE", "/ari/bridges/"+bid, "")
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := oneCall(i); err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l := f.Leftovers(); len(l) != 0 {
		t.Errorf("%d leftovers, first %v", len(l), l[0])
	}
	if fl := f.Failures(); len(fl) != 0 {
		t.Errorf("failures: %v", fl)
	}
	if m := f.Missed(); m != 0 {
		t.Errorf("%d events missed", m)
	}
	if n := len(f.Dials()); n != calls {
		t.Errorf("%d dials recorded, want %d", n, calls)
	}
}
