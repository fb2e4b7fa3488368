package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

const testToken = "test-admin-token-0123456789"

// watchWriter is a log sink tests can wait on.
type watchWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wakes []chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, c := range w.wakes {
		close(c)
	}
	w.wakes = nil
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor returns once the output contains s, or fails the test at the deadline.
func (w *watchWriter) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		if strings.Contains(w.buf.String(), s) {
			w.mu.Unlock()
			return
		}
		c := make(chan struct{})
		w.wakes = append(w.wakes, c)
		w.mu.Unlock()
		select {
		case <-c:
		case <-deadline:
			t.Fatalf("no %q in the output:\n%s", s, w.String())
		}
	}
}

// startApp runs sophiad in the process on cfg; stop cancels it and returns run's error.
func startApp(t *testing.T, cfg *Config, logs io.Writer) (base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := newApp(ctx, cfg, log, logs)
	if err != nil {
		cancel()
		t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return "http://" + a.api.ln.Addr().String(), stop
}

func testConfig(t *testing.T, dir string) *Config {
	t.Helper()
	c, err := parseConfig([]string{"--api-addr", "127.0.0.1:0", "--data-dir", dir}, envOf("SOPHIA_ADMIN_TOKEN", testToken), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func call(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestEmbeddedKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startApp(t, testConfig(t, dir), io.Discard)
	if st, b := call(t, "PUT", base+"/v1/users/alice", `{"name":"Alice","main_number":"+33478000001"}`); st != 201 {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if st, b := call(t, "PUT", base+"/v1/users/alice/voicemail/pin", `{"pin":"493817"}`); st != 204 {
		t.Fatalf("PIN: %d %s", st, b)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	base, _ = startApp(t, testConfig(t, dir), io.Discard)
	st, b := call(t, "GET", base+"/v1/users/alice", "")
	var s config.Sheet
	json.Unmarshal(b, &s)
	if st != 200 || s.MainNumber != "+33478000001" || !s.Voicemail.PINSet {
		t.Errorf("after restart: %d %s", st, b)
	}
}

// TestGracefulShutdown: a request in flight when SIGTERM (here: ctx) arrives finishes,
// and its write is kept.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	logs := &watchWriter{}
	base, stop := startApp(t, testConfig(t, dir), logs)

	body, bodyW := io.Pipe()
	req, _ := http.NewRequest("PUT", base+"/v1/users/slow", body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	// Expect: 100-continue makes the server say when the handler starts reading.
	req.Header.Set("Expect", "100-continue")
	inHandler := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(inHandler) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		r, err := client.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		r.Body.Close()
		res <- result{status: r.StatusCode}
	}()
	// The transport writes the body only after 100 Continue: feed it then.
	go bodyW.Write([]byte(`{"name":"Slow",`))
	select {
	case <-inHandler:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached its handler")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	logs.waitFor(t, "api shutting down")
	// New connections are refused while the request in flight goes on. The log line
	// comes just before Shutdown closes the listener, so wait (with a deadline) for
	// the refusal rather than expecting it at once.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	for deadline := time.Now().Add(10 * time.Second); ; {
		r, err := probe.Get(base + "/healthz")
		if err != nil {
			break
		}
		r.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections were still served 10 s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond) // polling a listener's close: no event to wait on
	}
	bodyW.Write([]byte(`"main_number":"+33478000009"}`))
	bodyW.Close()
	r := <-res
	if r.err != nil || r.status != 201 {
		t.Fatalf("request in flight: %d %v", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	logs.waitFor(t, "embedded store flushed")
	base, _ = startApp(t, testConfig(t, dir), io.Discard)
	if st, b := call(t, "GET", base+"/v1/users/slow", ""); st != 200 || !bytes.Contains(b, []byte("+33478000009")) {
		t.Errorf("after restart: %d %s", st, b)
	}
}

func TestDemoIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Demo = true
	base, stop := startApp(t, cfg, io.Discard)
	st, b := call(t, "GET", base+"/v1/users?site=acme", "")
	var page struct {
		Items []config.Sheet `json:"items"`
	}
	json.Unmarshal(b, &page)
	if st != 200 || len(page.Items) != 5 {
		t.Fatalf("demo users: %d %s", st, b)
	}
	// An admin's change survives the next --demo start.
	if st, b := call(t, "POST", base+"/v1/users/alice/dnd/on", ""); st != 200 {
		t.Fatalf("dnd: %d %s", st, b)
	}
	stop()
	base, _ = startApp(t, cfg, io.Discard)
	st, b = call(t, "GET", base+"/v1/users/alice", "")
	var s config.Sheet
	json.Unmarshal(b, &s)
	if st != 200 || !s.DND || s.Version != 2 {
		t.Errorf("alice after a second --demo start: %d dnd %v version %d", st, s.DND, s.Version)
	}
	if st, b := call(t, "GET", base+"/v1/media/greeting-alice", ""); st != 200 || string(b[:4]) != "RIFF" {
		t.Errorf("demo greeting: %d", st)
	}
}

// TestDemoOnRealRedis: the demo loads through the same store code on a real Redis.
func TestDemoOnRealRedis(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for range 2 {
		if err := loadDemo(ctx, store, log); err != nil {
			t.Fatalf("loadDemo: %v", err)
		}
	}
	alice, err := store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	f := alice.Forwards
	if !f.SimultaneousRing.Confirm || len(f.Scheduled) != 2 || len(alice.FunctionKeys) != 4 || !alice.Voicemail.Email.Enabled ||
		alice.Voicemail.Greeting != "greeting-alice" || alice.Version != 1 {
		t.Errorf("alice does not show every feature: %+v", alice)
	}
}

// TestKill9KeepsAcknowledgedWrites builds sophiad, writes through its API, kills it with
// SIGKILL right after the answer, and reads the write back from a new process.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sophiad")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()

	// First start: no SOPHIA_ADMIN_TOKEN, so the token is printed once.
	p1, out1, base := startProcess(t, bin, dir)
	tokenRE := regexp.MustCompile(`sophia admin API token \(shown once\) =+\n(\S+)\n`)
	m := tokenRE.FindStringSubmatch(out1.String())
	if m == nil {
		t.Fatalf("no admin token banner:\n%s", out1)
	}
	tok := m[1]
	if strings.Count(out1.String(), tok) != 1 {
		t.Errorf("the token appears %d times in the output", strings.Count(out1.String(), tok))
	}
	for i, user := range []string{"u1", "u2", "u3"} {
		req, _ := http.NewRequest("PUT", base+"/v1/users/"+user, strings.NewReader(`{"name":"K`+user+`","main_number":"+3347800000`+string(rune('1'+i))+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("PUT %s: %v %v", user, res, err)
		}
		res.Body.Close()
	}
	p1.Process.Signal(syscall.SIGKILL)
	p1.Wait()

	p2, out2, base := startProcess(t, bin, dir)
	if strings.Contains(out2.String(), "shown once") {
		t.Error("the second start printed a new admin token")
	}
	for _, user := range []string{"u1", "u2", "u3"} {
		req, _ := http.NewRequest("GET", base+"/v1/users/"+user, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Contains(b, []byte(`"K`+user+`"`)) {
			t.Errorf("%s after kill -9: %d %s", user, res.StatusCode, b)
		}
	}
	// SIGTERM: a clean stop, exit code 0, the store flushed.
	p2.Process.Signal(syscall.SIGTERM)
	if err := p2.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, out2)
	}
	out2.waitFor(t, "embedded store flushed")
}

// lineWriter calls line for each whole line written.
type lineWriter struct {
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// startProcess runs bin on dir and returns once its API listens.
func startProcess(t *testing.T, bin, dir string) (*exec.Cmd, *watchWriter, string) {
	t.Helper()
	out := &watchWriter{}
	addr := make(chan string, 1)
	cmd := exec.Command(bin, "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json")
	cmd.Env = append(os.Environ(), "SOPHIA_ADMIN_TOKEN=")
	// A Writer, not a pipe: Wait returns once everything written has been read.
	cmd.Stderr = &lineWriter{line: func(line string) {
		out.Write([]byte(line + "\n"))
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "api listening" {
			addr <- rec.Addr
		}
	}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	select {
	case a := <-addr:
		return cmd, out, "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("sophiad did not start:\n%s", out)
	}
	return nil, nil, ""
}
