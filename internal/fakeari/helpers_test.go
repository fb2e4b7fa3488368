package fakeari

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// client is a minimal ARI client for the fake's own tests: raw REST and a
// WebSocket whose events arrive on a channel.
type client struct {
	t      testing.TB
	f      *Fake
	ws     *websocket.Conn
	events chan map[string]any
	closed chan struct{}
}

func newFake(t testing.TB, opts Options) *Fake {
	t.Helper()
	return New(t, opts)
}

func connect(t testing.TB, f *Fake, app string) *client {
	t.Helper()
	c := &client{t: t, f: f, events: make(chan map[string]any, 4096), closed: make(chan struct{})}
	h := http.Header{}
	h.Set("Authorization", "Basic "+basic(f.opts.User, f.opts.Password))
	ws, resp, err := websocket.DefaultDialer.Dial(f.WebsocketURL()+"?app="+url.QueryEscape(app), h)
	if err != nil {
		t.Fatalf("connect: %v (%v)", err, resp)
	}
	c.ws = ws
	go func() {
		defer close(c.closed)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("event %s: %v", data, err)
				return
			}
			c.events <- m
		}
	}()
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

func basic(u, p string) string {
	return strings.TrimSpace(base64Std(u + ":" + p))
}

// next waits for the next event (deadline 5 s).
func (c *client) next() map[string]any {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no event within 5s")
		return nil
	}
}

// expect reads events until one of type typ (failing on a deadline) and
// returns it with the types skipped on the way.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	var skipped []string
	for {
		select {
		case e := <-c.events:
			if e["type"] == typ {
				return e
			}
			skipped = append(skipped, fmt.Sprint(e["type"]))
		case <-deadline:
			c.t.Fatalf("no %s within 5s (saw %v)", typ, skipped)
			return nil
		}
	}
}

// types reads n events and returns their types.
func (c *client) types(n int) []string {
	c.t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprint(c.next()["type"]))
	}
	return out
}

// quiet fails if an event arrives within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case e := <-c.events:
		c.t.Fatalf("unexpected event %v", e)
	case <-time.After(d):
	}
}

type response struct {
	status int
	body   any
	raw    []byte
	header http.Header
}

func (c *client) do(method, path, query string, body any) response {
	c.t.Helper()
	return doREST(c.t, c.f, method, path, query, body)
}

func doREST(t testing.TB, f *Fake, method, path, query string, body any) response {
	t.Helper()
	return doRESTAs(t, f.Addr(), f.opts.User, f.opts.Password, method, path, query, body)
}

func doRESTAs(t testing.TB, addr, user, pass, method, path, query string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, _ := json.Marshal(b)
			rd = bytes.NewReader(raw)
		}
	}
	u := "http://" + addr + path
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(method, u, rd)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: raw, header: resp.Header}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

func (r response) field(k string) string {
	m, _ := r.body.(map[string]any)
	return fmt.Sprint(m[k])
}

func chanOf(e map[string]any) map[string]any {
	if c, ok := e["channel"].(map[string]any); ok {
		return c
	}
	c, _ := e["peer"].(map[string]any)
	return c
}

func base64Std(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}
