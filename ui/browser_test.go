package ui_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/ui"
)

var screenshots = flag.String("screenshots", "", "directory where TestBrowser saves PNGs of the page (desktop and phone width)")

// chromium finds the browser: $SOPHIA_CHROMIUM, else Debian's chromium on PATH. The
// test fails without one (CI installs it; skipping would hide a page that does not work).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SOPHIA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: the browser test needs one. Install Debian's (apt-get install -y chromium; " +
		".ci/run does it) or name a binary in SOPHIA_CHROMIUM")
	return ""
}

// world is the API over the real store on the shared redis-server, serving the page,
// with a site and a few users.
type world struct {
	t     *testing.T
	srv   *httptest.Server
	store *config.Store
	admin string
	log   *lockedBuffer // the API's log, at debug level (each request, by token name)
}

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newWorld(t *testing.T, poll time.Duration) *world {
	t.Helper()
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	s, err := api.New(api.Options{Store: store, UI: ui.New(ui.Options{Poll: poll}),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: httptest.NewServer(s), store: store, log: logs}
	t.Cleanup(w.srv.Close)
	_, secret, err := store.CreateToken(context.Background(), "helpdesk-anna", config.Scope{Kind: config.ScopeAll}, "test")
	if err != nil {
		t.Fatal(err)
	}
	w.admin = string(secret)
	w.call("PUT", "/v1/sites/acme", `{"name":"Acme Lyon","region":"FR","timezone":"Europe/Paris","number":"+33478000000"}`, 201)
	w.call("PUT", "/v1/users/bob", `{"site":"acme","name":"Bob Durand","main_number":"+33478000002",
		"device":{"id":"desk-bob","endpoint":"PJSIP/bob"},
		"forwards":{"unconditional":{"enabled":true,"target":"+33612345679"}}}`, 201)
	w.call("PUT", "/v1/users/alice", `{"site":"acme","name":"Alice Martin","main_number":"+33478000001",
		"device":{"id":"desk-alice","endpoint":"PJSIP/alice"},
		"forwards":{"no_answer":{"enabled":true,"target":"voicemail","timeout_s":20},
		  "scheduled":[{"enabled":true,"target":"voicemail","days":["mon","tue","wed","thu","fri"],"start":"18:00","end":"08:00"}]}}`, 201)
	w.call("PUT", "/v1/users/carol", `{"site":"acme","name":"Carol Petit","main_number":"+33478000003","dnd":true}`, 201)
	w.call("PUT", "/v1/users/zoe", `{"name":"Zoé Faure","main_number":"2010"}`, 201)
	return w
}

func (w *world) call(method, path, body string, want int) []byte {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.admin)
	res, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		w.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return b
}

func (w *world) user(id string) *config.Sheet {
	w.t.Helper()
	u, err := w.store.GetUser(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// tab is one browser tab on the page, and what its console said.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	console  []string // every message, for failure reports
	problems []string // exceptions, console errors, CSP violations
	urls     []string // every URL the page requested
}

func newTab(t *testing.T) *tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	tb := &tab{t: t, ctx: ctx}
	start := time.Now()
	// The browser lives as long as the context of its first action, so that context has
	// no deadline; a start that hangs is ended by cancelling the allocator.
	hung := time.AfterFunc(60*time.Second, cancelAlloc)
	err := chromedp.Do(ctx)
	if !hung.Stop() || err != nil {
		t.Fatalf("start %s: %v (within 60 s)", chromium(t), err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	messages := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			line := fmt.Sprintf("%s: %s", m.Type, m)
			tb.console = append(tb.console, line)
			// The page's own failed requests (a 409 or 422 it then explains) are logged
			// by the browser as network errors: expected. Anything else is a problem.
			expected := strings.Contains(m.Text, "Failed to load resource: the server responded with a status of")
			if (m.IsException() || m.Type == "error") && !expected {
				tb.problems = append(tb.problems, line)
			}
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.urls = append(tb.urls, ev.Request.URL)
			tb.mu.Unlock()
		}
	}()
	return tb
}

func (b *tab) fail(step string, err error) {
	b.t.Helper()
	if *screenshots != "" {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(*screenshots, "failed.png"), png, 0o644)
		}
		cancel()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Fatalf("%s: %v\nconsole:\n%s", step, err, strings.Join(b.console, "\n"))
}

// do runs actions as one step, within 10 s.
func (b *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// clear empties an input (chromedp's SetValue refuses "").
func (b *tab) clear(sel string) {
	b.t.Helper()
	eval[chromedp.Void](b, fmt.Sprintf(`document.querySelector(%q).value = ''`, sel))
}

// waitJS waits until the expression is truthy.
func (b *tab) waitJS(step, expr string) {
	b.t.Helper()
	b.do(step, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(25*time.Millisecond))(ctx, t)
		return chromedp.Void{}, err
	})
}

// waitText waits until the element sel shows text containing want.
func (b *tab) waitText(step, sel, want string) {
	b.t.Helper()
	b.waitJS(step, fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes(%q)`, sel, want))
}

func (b *tab) shot(name string) {
	b.t.Helper()
	if *screenshots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot", err)
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("the page reported problems:\n%s", strings.Join(b.problems, "\n"))
	}
}

// TestBrowser drives the page in a real headless Chromium against the API over the
// real store: sign in, find a user, toggle DND, set a forward, see a refused value
// next to its field, see another admin's change arrive by itself, get the conflict
// message instead of overwriting another admin's change, sign out; then a
// self-service token lands on its own sheet.
func TestBrowser(t *testing.T) {
	start := time.Now()
	w := newWorld(t, 300*time.Millisecond)
	b := newTab(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Sign in.
	b.do("open the page", chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitVisible(css("#token")))
	b.shot("signin")
	b.do("bad token", chromedp.SendKeys(css("#token"), "not-a-token"), chromedp.Click(css("#signin")))
	b.waitText("bad token refused", "#token-error", "not valid")
	b.clear("#token")
	b.do("sign in", chromedp.SendKeys(css("#token"), w.admin),
		chromedp.Click(css("#signin")), chromedp.WaitVisible(css(`tr[data-user="alice"]`)))
	b.waitText("who", "#who-name", "helpdesk-anna")
	if got := eval[string](b, `sessionStorage.getItem('sophia.token')`); got != w.admin {
		t.Errorf("sessionStorage token = %q", got)
	}
	if n := eval[int](b, `localStorage.length + document.cookie.length`); n != 0 {
		t.Errorf("localStorage or cookies hold %d entries/bytes", n)
	}

	// The list: DND and forwards at a glance; search by name, then by number.
	b.waitText("carol's DND", `tr[data-user="carol"]`, "DND on")
	b.waitText("bob's forward", `tr[data-user="bob"]`, "Always → +33612345679")
	b.shot("users")
	b.do("search bob", chromedp.SendKeys(css("#search"), "bob"))
	b.waitJS("only bob", `document.querySelectorAll('tr[data-user]').length === 1 && !!document.querySelector('tr[data-user="bob"]')`)
	b.clear("#search")
	b.do("search a number", chromedp.SendKeys(css("#search"), "04 78 00 00 01"))
	b.waitJS("only alice", `document.querySelectorAll('tr[data-user]').length === 1 && !!document.querySelector('tr[data-user="alice"]')`)
	if loc := eval[string](b, `location.search`); !strings.Contains(loc, "q=") {
		t.Errorf("the search is not in the URL: %q", loc)
	}

	// Filter by site, page with the API's cursor.
	w.call("PUT", "/v1/sites/paris", `{"name":"Acme Paris","region":"FR","timezone":"Europe/Paris"}`, 201)
	for i := 1; i <= 27; i++ {
		w.call("PUT", fmt.Sprintf("/v1/users/agent%02d", i), fmt.Sprintf(`{"site":"paris","name":"Agent %02d","main_number":"+331400000%02d"}`, i, i), 201)
	}
	// A reload keeps the tab signed in (and loads the new site into the filter).
	b.do("reload", chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitReady(css(`#site-filter option[value="paris"]`)))
	b.do("site filter", chromedp.SetValue(css("#site-filter"), "paris"))
	eval[chromedp.Void](b, `document.querySelector('#site-filter').dispatchEvent(new Event('change'))`)
	b.waitJS("first page", `document.querySelectorAll('tr[data-user]').length === 25 && !!document.querySelector('tr[data-user="agent01"]')`)
	b.do("next page", chromedp.Click(css("#next")))
	b.waitJS("second page", `document.querySelectorAll('tr[data-user]').length === 2 && !!document.querySelector('tr[data-user="agent27"]')`)
	b.waitText("page status", "#list-status", "Users 26–27 (last page)")
	b.do("previous page", chromedp.Click(css("#prev")))
	b.waitJS("first page again", `document.querySelectorAll('tr[data-user]').length === 25`)
	b.do("back to all sites", chromedp.SetValue(css("#site-filter"), "acme"), chromedp.SendKeys(css("#search"), "alice"))
	b.waitJS("alice found", `document.querySelectorAll('tr[data-user]').length === 1 && !!document.querySelector('tr[data-user="alice"]')`)

	// Alice's page; a call in her log first.
	at := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	if err := w.store.RecordCall(context.Background(), &config.CallRecord{ID: "c1", Direction: "inbound",
		From: "+33699887766", FromName: "Jean Client", To: "+33478000001", Start: at, End: at.Add(20 * time.Second),
		Outcome: "voicemail", By: "alice", Reason: "no_answer"}, []string{"alice"}, nil); err != nil {
		t.Fatal(err)
	}
	b.do("open alice", chromedp.Click(css(`a[href="/users/alice"]`)), chromedp.WaitVisible(css(`#dnd-switch[aria-checked="false"]`)))
	b.waitJS("explained", `document.querySelectorAll('#route-steps li').length > 0`)
	b.waitText("recent calls", "#calls-table", "Jean Client +33699887766")
	b.waitText("call outcome", "#calls-table", "voicemail")
	b.waitJS("scheduled rule listed", `(document.querySelector('#sched-0')?.textContent || '').includes('Mon–Fri, 18:00–08:00')`)

	// DND on, by mouse; stored.
	b.do("dnd on", chromedp.Click(css("#dnd-switch")), chromedp.WaitVisible(css(`#dnd-switch[aria-checked="true"]`)))
	if u := w.user("alice"); !u.DND || u.Version != 2 {
		t.Errorf("after the DND switch: dnd %v version %d, want true and 2", u.DND, u.Version)
	}
	b.waitText("route follows", "#route-steps", "do not disturb")

	// The busy forward to a number, typed as people do; stored in E.164.
	b.do("edit busy", chromedp.Click(css("#fwd-busy-edit")), chromedp.WaitVisible(css("#fwd-busy-editor")),
		chromedp.Click(css("#fwd-busy-kind-number")), chromedp.SendKeys(css("#fwd-busy-target"), "06 12 34 56 78"),
		chromedp.Click(css("#fwd-busy-save")), chromedp.WaitVisible(css(`#fwd-busy-switch[aria-checked="true"]`)))
	b.waitText("busy target shown", "#fwd-busy-shows", "+33612345678")
	if f := w.user("alice").Forwards.Busy; !f.Enabled || f.Target != "+33612345678" {
		t.Errorf("busy forward stored as %+v", f)
	}
	// Off again, from the keyboard (the switch is a button: Space toggles it), while
	// another forward's editor holds typed input: the redraw keeps it.
	b.do("type in an editor", chromedp.Click(css("#fwd-simultaneous_ring-edit")),
		chromedp.SendKeys(css("#fwd-simultaneous_ring-targets"), "+33612345600"))
	b.do("busy off by keyboard", chromedp.Focus(css("#fwd-busy-switch")), chromedp.KeyEvent(" "),
		chromedp.WaitVisible(css(`#fwd-busy-switch[aria-checked="false"]`)))
	if f := w.user("alice").Forwards.Busy; f.Enabled || f.Target != "+33612345678" {
		t.Errorf("busy forward after off: %+v, want off with its target kept", f)
	}
	if v := eval[string](b, `document.querySelector('#fwd-simultaneous_ring-targets').value`); v != "+33612345600" {
		t.Errorf("the editor's input after a redraw: %q", v)
	}
	b.do("escape closes the editor", chromedp.Focus(css("#fwd-simultaneous_ring-targets")), chromedp.KeyEvent("\x1b"),
		chromedp.WaitNotPresent(css("#fwd-simultaneous_ring-editor")))

	// A refused value is shown next to its field, and nothing is stored.
	b.do("bad timeout", chromedp.Click(css("#fwd-no_answer-edit")), chromedp.WaitVisible(css("#fwd-no_answer-timeout")),
		chromedp.SetValue(css("#fwd-no_answer-timeout"), "2"), chromedp.Click(css("#fwd-no_answer-save")))
	b.waitText("timeout error", "#fwd-no_answer-timeout-error", "between 5 and 120")
	if inv := eval[string](b, `document.querySelector('#fwd-no_answer-timeout').getAttribute('aria-invalid')`); inv != "true" {
		t.Errorf("the timeout input is not marked invalid: %q", inv)
	}
	b.shot("alice-invalid")
	if got := w.user("alice").Forwards.NoAnswer.TimeoutS; got != 20 {
		t.Errorf("timeout stored %d after a refused save", got)
	}
	b.do("cancel", chromedp.Click(css(`#fwd-no_answer-editor button.btn:not(.btn-primary)`)),
		chromedp.WaitNotPresent(css("#fwd-no_answer-editor")))

	// Another admin's change shows up by itself (the page polls with If-None-Match).
	if _, err := w.store.UpdateUser(context.Background(), "alice", 0, func(s *config.Sheet) error {
		s.Forwards.Unconditional = config.Forward{Enabled: true, Target: "voicemail"}
		return nil
	}, "other-admin"); err != nil {
		t.Fatal(err)
	}
	b.do("live update", chromedp.WaitVisible(css(`#fwd-unconditional-switch[aria-checked="true"]`)))
	b.waitText("live target", "#fwd-unconditional-shows", "Voicemail")

	// A change made while this admin edits: saving is refused with the conflict
	// message, never written over the other change.
	b.do("edit not connected", chromedp.Click(css("#fwd-not_connected-edit")), chromedp.WaitVisible(css("#fwd-not_connected-editor")),
		chromedp.Click(css("#fwd-not_connected-kind-number")), chromedp.SendKeys(css("#fwd-not_connected-target"), "+33612345699"))
	if _, err := w.store.UpdateUser(context.Background(), "alice", 0, func(s *config.Sheet) error {
		s.DND = false
		return nil
	}, "other-admin"); err != nil {
		t.Fatal(err)
	}
	b.do("save over a change", chromedp.Click(css("#fwd-not_connected-save")))
	b.waitText("conflict", "#conflict", "Changed by someone else")
	b.shot("alice-conflict")
	if u := w.user("alice"); u.Forwards.NotConnected.Target == "+33612345699" || u.DND {
		t.Errorf("the refused save was written, or the other change lost: %+v dnd %v", u.Forwards.NotConnected, u.DND)
	}
	b.do("reload", chromedp.Click(css("#reload")), chromedp.WaitNotPresent(css("#conflict")),
		chromedp.WaitVisible(css(`#dnd-switch[aria-checked="false"]`)))
	b.waitText("route with DND off", "#route-steps", "unconditional forward")
	b.waitText("outcome", "#route-outcome", "voicemail")

	// The audit log names who did what.
	b.do("audit tab", chromedp.Click(css("#tab-audit")))
	b.waitText("audit", "#audit-list", "helpdesk-anna")
	b.waitText("audit other", "#audit-list", "other-admin")
	b.shot("alice")
	b.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.WaitVisible(css("#dnd-switch")))
	if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
		t.Error("at phone width the page scrolls sideways")
	}
	b.shot("alice-phone")
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))

	// Sign out forgets the token.
	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#token")))
	if got := eval[bool](b, `sessionStorage.getItem('sophia.token') === null`); !got {
		t.Error("the token outlived sign out")
	}

	// A self-service token goes straight to its own sheet, with no list.
	_, self, err := w.store.CreateToken(context.Background(), "alice-self", config.Scope{Kind: config.ScopeUser, ID: "alice"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	b.do("self sign in", chromedp.SendKeys(css("#token"), string(self)), chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(`#dnd-switch`)))
	if p := eval[string](b, `location.pathname`); p != "/users/alice" {
		t.Errorf("a self token lands on %q, want /users/alice", p)
	}
	if hidden := eval[bool](b, `document.getElementById('nav').hidden`); !hidden {
		t.Error("a self token is offered the users list")
	}

	// A site token sees its site's users only, with no site filter.
	_, lyon, err := w.store.CreateToken(context.Background(), "acme-desk", config.Scope{Kind: config.ScopeSite, ID: "acme"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	b.do("site sign in", chromedp.Click(css("#signout")), chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), string(lyon)), chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(`tr[data-user="alice"]`)))
	b.waitJS("acme only", `document.querySelectorAll('tr[data-user]').length === 3 && !document.querySelector('tr[data-user="zoe"]')`)
	if hidden := eval[bool](b, `document.querySelector('#site-filter').closest('.field').hidden`); !hidden {
		t.Error("a site token is offered the site filter")
	}

	b.mu.Lock()
	for _, u := range b.urls {
		if strings.Contains(u, w.admin) || strings.Contains(u, string(self)) || strings.Contains(u, string(lyon)) {
			t.Errorf("a token went into a URL: %s", u)
		}
	}
	b.mu.Unlock()
	// The API logged the page's requests by token name, never a secret.
	logged := w.log.String()
	if !strings.Contains(logged, "token=helpdesk-anna") || !strings.Contains(logged, "token=alice-self") {
		t.Errorf("the API's debug log does not name the page's tokens:\n%.2000s", logged)
	}
	for _, secret := range []string{w.admin, string(self), string(lyon)} {
		if strings.Contains(logged, secret) {
			t.Error("a token's secret is in the API's log")
		}
	}
	b.checkClean()
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
