package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// DefaultPoll is how often the page asks whether the sheet it shows changed.
const DefaultPoll = 5 * time.Second

// Options configures New.
type Options struct {
	// Poll is how often an open user page polls its sheet (a conditional GET answered
	// 304 while nothing changed) to show other admins' changes; 0 means DefaultPoll.
	Poll time.Duration
}

// CSP is the Content-Security-Policy of every answer: only the page's own scripts,
// styles and API; no inline code (the page has none); Trusted Types required, so no
// string can reach innerHTML and friends; never framed; forms never submit (the page
// handles them in script, so a token typed into one can never end up in a URL).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Cache-Control values: the page is revalidated every time (it names the assets of the
// running build), assets never change under their hashed URL.
const (
	cachePage   = "no-cache"
	cacheAsset  = "public, max-age=31536000, immutable"
	cacheStatic = "public, max-age=3600"
)

// file is one answer, prepared once.
type file struct {
	body  []byte
	gz    []byte // gzip of body, nil when it does not pay
	ctype string
	etag  string
	cache string
}

// handler serves the page.
type handler struct {
	prefix string           // "/assets/<hash>/"
	assets map[string]*file // by path under static/, "js/main.js"
	index  *file
	root   map[string]*file // files served at the root: /robots.txt
}

// Handler returns the admin page's handler with default options.
func Handler() http.Handler { return New(Options{}) }

// New returns the admin page's handler. It prepares every answer at once (hashes,
// compression): the embedded files cannot change while the process runs.
func New(opts Options) http.Handler {
	h, err := build(opts)
	if err != nil {
		panic("ui: " + err.Error()) // the embedded files are checked by the package's tests
	}
	return h
}

func build(opts Options) (*handler, error) {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	h := &handler{assets: map[string]*file{}, root: map[string]*file{}}
	sum := sha256.New()
	var names []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, strings.TrimPrefix(p, "static/"))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			return nil, err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil, fmt.Errorf("%s: no content type for its extension", name)
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", name, len(b))
		sum.Write(b)
		switch name {
		case "index.html":
			h.index = &file{body: b, ctype: ctype, cache: cachePage}
		case "robots.txt":
			h.root["/"+name] = &file{body: b, ctype: ctype, cache: cacheStatic}
		default:
			h.assets[name] = &file{body: b, ctype: ctype, cache: cacheAsset}
		}
	}
	if h.index == nil {
		return nil, fmt.Errorf("no index.html")
	}
	hash := hex.EncodeToString(sum.Sum(nil))[:16]
	h.prefix = "/assets/" + hash + "/"
	h.index.body = bytes.ReplaceAll(h.index.body, []byte("{{assets}}"), []byte(h.prefix))
	h.index.body = bytes.ReplaceAll(h.index.body, []byte("{{poll_ms}}"),
		[]byte(strconv.FormatInt(opts.Poll.Milliseconds(), 10)))
	h.index.etag = `"` + hash + "-" + strconv.FormatInt(opts.Poll.Milliseconds(), 10) + `"`
	for _, f := range h.all() {
		if f.etag == "" {
			f.etag = `"` + hash + `"`
		}
		f.gz = compress(f.body)
	}
	return h, nil
}

func (h *handler) all() []*file {
	fs := []*file{h.index}
	for _, f := range h.assets {
		fs = append(fs, f)
	}
	for _, f := range h.root {
		fs = append(fs, f)
	}
	return fs
}

// contentTypes are set by extension here rather than by mime.TypeByExtension, whose
// answer depends on the host's MIME tables (a .js served as text/plain is refused as a
// module under nosniff).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// compress returns body gzipped, or nil when that saves less than a tenth.
func compress(body []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	if b.Len() > len(body)*9/10 {
		return nil
	}
	return b.Bytes()
}

// setSecurityHeaders sets the headers every answer carries, errors included.
func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/assets/"):
		name, ok := strings.CutPrefix(p, h.prefix)
		f := h.assets[name]
		if !ok || f == nil {
			// Another build's asset, or none: the page must be reloaded, not patched
			// with files of a different version.
			http.NotFound(w, r)
			return
		}
		serve(w, r, f)
	case h.root[p] != nil:
		serve(w, r, h.root[p])
	case path.Ext(p) != "":
		// A file we do not have (/favicon.ico, /x.png): 404, never the page as HTML.
		http.NotFound(w, r)
	default:
		// Every other path is the page, which routes it itself (/users/alice).
		serve(w, r, h.index)
	}
}

// serve answers f, gzipped when the client takes it; http.ServeContent handles HEAD,
// If-None-Match (304) and Range.
func serve(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body, etag = f.gz, strings.TrimSuffix(etag, `"`)+`-gz"`
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether r's Accept-Encoding takes gzip (and does not refuse it
// with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
