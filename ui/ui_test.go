package ui_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/ui"
)

// get serves one request through h and returns the recorded answer.
func get(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkSecurity fails unless rec carries the headers every answer of the page must.
func checkSecurity(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	hd := rec.Header()
	csp := hd.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'",
		"form-action 'none'", "require-trusted-types-for 'script'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline or eval: %q", what, csp)
	}
	if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", what, got)
	}
	if got := hd.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options = %q", what, got)
	}
	if got := hd.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy = %q", what, got)
	}
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/assets/[0-9a-f]{16}/)([^"]+)"`)

// assetPrefix returns the /assets/<hash>/ prefix the page names.
func assetPrefix(t *testing.T, page string) string {
	t.Helper()
	m := assetRef.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page names no asset:\n%s", page)
	}
	return m[1]
}

func TestPage(t *testing.T) {
	h := ui.Handler()
	var etag string
	for _, target := range []string{"/", "/users/alice", "/users/a%20b", "/signin"} {
		rec := get(t, h, "GET", target)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d", target, rec.Code)
		}
		checkSecurity(t, rec, target)
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (the page names this build's assets)", target, cc)
		}
		body := rec.Body.String()
		if !strings.Contains(body, `<script type="module" src="/assets/`) || strings.Contains(body, "{{") {
			t.Errorf("GET %s: not the rendered page:\n%s", target, body)
		}
		if !strings.Contains(body, `<meta name="sophia-poll-ms" content="5000">`) {
			t.Errorf("GET %s: the page lacks the default poll interval", target)
		}
		etag = rec.Header().Get("ETag")
	}
	if rec := get(t, h, "GET", "/", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match %s: %d, want 304", etag, rec.Code)
	}
	if rec := get(t, h, "HEAD", "/users/alice"); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	// The poll interval is the handler's option.
	if body := get(t, ui.New(ui.Options{Poll: 750 * time.Millisecond}), "GET", "/").Body.String(); !strings.Contains(body, `content="750"`) {
		t.Errorf("Poll 750ms: the page says\n%s", body)
	}
}

func TestAssets(t *testing.T) {
	h := ui.Handler()
	prefix := assetPrefix(t, get(t, h, "GET", "/").Body.String())
	wantType := map[string]string{
		".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
	}
	n := 0
	err := fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" || p == "robots.txt" {
			return err
		}
		n++
		rec := get(t, h, "GET", prefix+p)
		if rec.Code != 200 {
			t.Errorf("GET %s: %d", prefix+p, rec.Code)
			return nil
		}
		checkSecurity(t, rec, p)
		if ct := rec.Header().Get("Content-Type"); ct != wantType[path.Ext(p)] {
			t.Errorf("%s: Content-Type %q, want %q", p, ct, wantType[path.Ext(p)])
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
		want, _ := os.ReadFile(filepath.Join("static", p))
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: the body is not the file", p)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d assets: %v", n, err)
	}
	if rec := get(t, h, "GET", "/robots.txt"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Disallow: /") {
		t.Errorf("/robots.txt: %d %q", rec.Code, rec.Body)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := ui.Handler()
	prefix := assetPrefix(t, get(t, h, "GET", "/").Body.String())
	for _, target := range []string{
		"/favicon.ico",                     // a file we do not have is not the page
		"/users/alice.png",                 //
		"/assets/0000000000000000/app.css", // another build's asset
		prefix + "nothing.js",
		prefix + "../index.html",
		"/assets/",
	} {
		rec := get(t, h, "GET", target)
		if rec.Code != 404 {
			t.Errorf("GET %s: %d, want 404", target, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("GET %s answers the page", target)
		}
		checkSecurity(t, rec, target)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		rec := get(t, h, m, "/")
		if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: %d Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
		checkSecurity(t, rec, m)
	}
}

func TestGzip(t *testing.T) {
	h := ui.Handler()
	prefix := assetPrefix(t, get(t, h, "GET", "/").Body.String())
	for _, target := range []string{"/", prefix + "app.css", prefix + "js/user.js"} {
		plain := get(t, h, "GET", target)
		zipped := get(t, h, "GET", target, "Accept-Encoding", "br, gzip")
		if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Content-Encoding %q Vary %q", target, zipped.Header().Get("Content-Encoding"), zipped.Header().Get("Vary"))
			continue
		}
		if zipped.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Errorf("%s: the gzipped and plain answers share an ETag", target)
		}
		zr, err := gzip.NewReader(zipped.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, plain.Body.Bytes()) {
			t.Errorf("%s: gunzipped body differs (%v)", target, err)
		}
		if zipped.Body.Len() >= plain.Body.Len() {
			t.Errorf("%s: gzip does not shrink it", target)
		}
	}
	if rec := get(t, h, "GET", "/", "Accept-Encoding", "gzip;q=0"); rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 refused gzip, yet got it")
	}
}

var importRef = regexp.MustCompile(`(?m)(?:^import\s[^'"]*|^export\s[^'"]*\sfrom\s|import\()\s*['"](\.[^'"]+)['"]`)

// TestModuleGraph follows every import of the page's modules over HTTP, as a browser
// would: a missing or misnamed module would leave the page blank.
func TestModuleGraph(t *testing.T) {
	h := ui.Handler()
	prefix := assetPrefix(t, get(t, h, "GET", "/").Body.String())
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		rec := get(t, h, "GET", prefix+p)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("module %s: %d %q", p, rec.Code, rec.Header().Get("Content-Type"))
			return
		}
		for _, m := range importRef.FindAllStringSubmatch(rec.Body.String(), -1) {
			visit(path.Join(path.Dir(p), m[1]))
		}
	}
	visit("js/main.js")
	files, _ := filepath.Glob("static/js/*.js")
	if len(seen) != len(files) {
		t.Errorf("main.js reaches %d modules, static/js holds %d: %v", len(seen), len(files), seen)
	}
}

// TestNoInlineCodeOrHTMLSinks keeps the page within its CSP and its escaping rule: no
// inline script, style or handler in the HTML; no HTML parsing of strings in the
// scripts (data is always set with textContent or as attributes).
func TestNoInlineCodeOrHTMLSinks(t *testing.T) {
	html, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]*\S[^<]*</script>`), // a script with a body
		regexp.MustCompile(`\son[a-z]+\s*=`),                            // onclick=…
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`javascript:`),
	} {
		if loc := bad.FindIndex(html); loc != nil {
			t.Errorf("index.html: %s at %q", bad, html[loc[0]:loc[1]])
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAll(html, -1) {
		if !bytes.Contains(tag, []byte(` src="`)) {
			t.Errorf("index.html: %s has no src: inline script", tag)
		}
	}
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|createContextualFragment|DOMParser|srcdoc`)
	files, _ := filepath.Glob("static/js/*.js")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Comments may name the sinks to say they are not used.
		code := regexp.MustCompile(`(?m)^\s*//.*$`).ReplaceAll(b, nil)
		if loc := sinks.FindIndex(code); loc != nil {
			t.Errorf("%s uses %q: build elements with dom.js's h() and textContent", f, code[loc[0]:loc[1]])
		}
		if bytes.Contains(code, []byte("localStorage")) || bytes.Contains(code, []byte("document.cookie")) {
			t.Errorf("%s touches localStorage or cookies: the token lives in sessionStorage only", f)
		}
	}
}

// TestServedByAPI mounts the page as api.Options.UI over the real store on the shared
// redis-server: the API keeps its paths, the page gets the rest.
func TestServedByAPI(t *testing.T) {
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Options{Store: store, UI: ui.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	_, secret, err := store.CreateToken(context.Background(), "admin", config.Scope{Kind: config.ScopeAll}, "test")
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(target, token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+target, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, page := fetch("/users/alice", "")
	if res.StatusCode != 200 || !strings.Contains(page, "<script type=\"module\"") || res.Header.Get("Content-Security-Policy") != ui.CSP {
		t.Fatalf("/users/alice: %d CSP %q\n%s", res.StatusCode, res.Header.Get("Content-Security-Policy"), page)
	}
	if res, body := fetch(assetPrefix(t, page)+"js/main.js", ""); res.StatusCode != 200 || !strings.Contains(body, "import") {
		t.Errorf("main.js through the API server: %d", res.StatusCode)
	}
	if res, body := fetch("/v1/whoami", ""); res.StatusCode != 401 || !strings.Contains(body, `"unauthorized"`) {
		t.Errorf("/v1/whoami without a token: %d %s", res.StatusCode, body)
	}
	if res, body := fetch("/v1/whoami", string(secret)); res.StatusCode != 200 || !strings.Contains(body, `"admin"`) {
		t.Errorf("/v1/whoami: %d %s", res.StatusCode, body)
	}
	if res, _ := fetch("/healthz", ""); res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/healthz: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
