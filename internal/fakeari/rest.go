package fakeari

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// route is one ARI resource: its method and path segments ("{x}" binds x).
type route struct {
	method string
	segs   []string
	h      func(*req)
}

// req is one REST request being answered, parameters merged the way Asterisk
// merges them: JSON body fields win over query parameters.
type req struct {
	f      *Fake
	r      *http.Request
	path   map[string]string
	query  url.Values
	body   map[string]json.RawMessage
	vars   []kv // "variables" of the body, in body order
	status int
	resp   any // nil: no body
	header http.Header
}

func (q *req) pathParam(k string) string { return q.path[k] }

// str returns a string parameter; a body field that is not a JSON string
// counts as empty (ast_json_string_get).
func (q *req) str(k string) string {
	if raw, ok := q.body[k]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	return q.query.Get(k)
}

// int returns an integer parameter: atoi of the query (garbage → 0), or a
// JSON integer of the body (anything else → 0, as ast_json_integer_get).
func (q *req) int(k string) int {
	if raw, ok := q.body[k]; ok {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&n) == nil {
			if i, err := n.Int64(); err == nil {
				return int(i)
			}
		}
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(q.query.Get(k)))
	return n
}

// list returns a multi-valued parameter: a JSON array or single string of
// the body, or the comma-separated (and repeated) query values.
func (q *req) list(k string) []string {
	if raw, ok := q.body[k]; ok {
		var arr []string
		if json.Unmarshal(raw, &arr) == nil {
			return arr
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, v := range q.query[k] {
		for _, p := range strings.Split(v, ",") {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (q *req) reply(status int, v any) { q.status, q.resp = status, v }
func (q *req) noContent()              { q.status, q.resp = http.StatusNoContent, nil }
func (q *req) fail(status int, msg string) {
	q.status, q.resp = status, obj{{"message", msg}}
}

// allocFailed is ast_ari_response_alloc_failed: the one error with "error".
func (q *req) allocFailed() {
	q.status, q.resp = http.StatusInternalServerError, obj{{"error", "Allocation failed"}}
}

func (f *Fake) routes() []route {
	r := func(method, path string, h func(*req)) route {
		return route{method, strings.Split(strings.Trim(path, "/"), "/"), h}
	}
	return []route{
		r("GET", "asterisk/info", f.asteriskInfo),
		r("GET", "asterisk/ping", f.asteriskPing),

		r("GET", "channels", f.listChannels),
		r("POST", "channels", f.originate),
		r("POST", "channels/create", f.createChannel),
		r("POST", "channels/externalMedia", f.notImplemented),
		r("GET", "channels/{id}", f.getChannel),
		r("POST", "channels/{id}", f.originate),
		r("DELETE", "channels/{id}", f.hangupChannel),
		r("POST", "channels/{id}/answer", f.answerChannel),
		r("POST", "channels/{id}/dial", f.dialChannel),
		r("POST", "channels/{id}/continue", f.continueChannel),
		r("POST", "channels/{id}/move", f.notImplemented),
		r("POST", "channels/{id}/redirect", f.notImplemented),
		r("POST", "channels/{id}/ring", f.simpleAction("ring")),
		r("DELETE", "channels/{id}/ring", f.simpleAction("ring_stop")),
		r("POST", "channels/{id}/moh", f.simpleAction("moh")),
		r("DELETE", "channels/{id}/moh", f.simpleAction("moh_stop")),
		r("POST", "channels/{id}/hold", f.simpleAction("hold")),
		r("DELETE", "channels/{id}/hold", f.simpleAction("hold_stop")),
		r("POST", "channels/{id}/silence", f.simpleAction("silence")),
		r("DELETE", "channels/{id}/silence", f.simpleAction("silence_stop")),
		r("POST", "channels/{id}/mute", f.simpleAction("mute")),
		r("DELETE", "channels/{id}/mute", f.simpleAction("mute_stop")),
		r("POST", "channels/{id}/dtmf", f.sendDTMF),
		r("POST", "channels/{id}/play", f.playChannel),
		r("POST", "channels/{id}/play/{pid}", f.playChannel),
		r("POST", "channels/{id}/record", f.notImplemented),
		r("POST", "channels/{id}/snoop", f.notImplemented),
		r("POST", "channels/{id}/snoop/{sid}", f.notImplemented),
		r("GET", "channels/{id}/variable", f.getVariable),
		r("POST", "channels/{id}/variable", f.setVariable),
		r("GET", "channels/{id}/rtp_statistics", f.notImplemented),

		r("GET", "bridges", f.listBridges),
		r("POST", "bridges", f.createBridge),
		r("GET", "bridges/{id}", f.getBridge),
		r("POST", "bridges/{id}", f.createBridge),
		r("DELETE", "bridges/{id}", f.destroyBridge),
		r("POST", "bridges/{id}/addChannel", f.addChannel),
		r("POST", "bridges/{id}/removeChannel", f.removeChannel),
		r("POST", "bridges/{id}/moh", f.bridgeMOH(true)),
		r("DELETE", "bridges/{id}/moh", f.bridgeMOH(false)),
		r("POST", "bridges/{id}/play", f.playBridge),
		r("POST", "bridges/{id}/play/{pid}", f.playBridge),
		r("POST", "bridges/{id}/record", f.notImplemented),

		r("GET", "playbacks/{id}", f.getPlayback),
		r("DELETE", "playbacks/{id}", f.stopPlayback),
		r("POST", "playbacks/{id}/control", f.notImplemented),

		r("GET", "deviceStates", f.listDeviceStates),
		r("GET", "deviceStates/{name}", f.getDeviceState),
		r("PUT", "deviceStates/{name}", f.putDeviceState),
		r("DELETE", "deviceStates/{name}", f.deleteDeviceState),

		r("GET", "endpoints", f.listEndpoints),
		r("GET", "endpoints/{tech}", f.listTechEndpoints),
		r("GET", "endpoints/{tech}/{res}", f.getEndpoint),

		r("GET", "applications", f.listApps),
		r("GET", "applications/{app}", f.getApp),
		r("POST", "applications/{app}/subscription", f.subscribeApp),
		r("DELETE", "applications/{app}/subscription", f.unsubscribeApp),

		r("GET", "mailboxes", f.listMailboxes),
		r("GET", "mailboxes/{name}", f.getMailbox),
		r("PUT", "mailboxes/{name}", f.putMailbox),
		r("DELETE", "mailboxes/{name}", f.deleteMailbox),

		r("GET", "recordings/stored", f.notImplemented),
		r("GET", "recordings/live/{name}", f.notImplemented),
		r("GET", "sounds", f.notImplemented),
	}
}

// match finds the route for method and path: (nil, nil, allowed) when only
// the method is wrong, all nil when nothing has this path. A literal segment
// beats a parameter ("channels/create" over "channels/{id}").
func match(routes []route, method string, segs []string) (*route, map[string]string, []string) {
	var best *route
	var bestParams map[string]string
	var allowed []string
	for i := range routes {
		rt := &routes[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, s := range rt.segs {
			if strings.HasPrefix(s, "{") {
				params[s[1:len(s)-1]] = segs[j]
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if rt.method != method {
			allowed = append(allowed, rt.method)
			continue
		}
		if best == nil || literalCount(rt) > literalCount(best) {
			best, bestParams = rt, params
		}
	}
	if best != nil {
		return best, bestParams, nil
	}
	return nil, nil, allowed
}

func literalCount(rt *route) int {
	n := 0
	for _, s := range rt.segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

func (f *Fake) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		// Asterisk also takes ?api_key=user:password.
		if k := r.URL.Query().Get("api_key"); k != "" {
			user, pass, ok = strings.Cut(k, ":")
		}
	}
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.User)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.Password)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	b := mustJSON(v)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (f *Fake) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "Asterisk/22.10.1")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	p := r.URL.Path
	if !strings.HasPrefix(p, "/ari/") {
		writeJSON(w, http.StatusNotFound, obj{{"message", "Resource not found"}})
		return
	}
	if !f.authorized(r) {
		w.Header().Set("Www-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeJSON(w, http.StatusUnauthorized, obj{{"message", "Authentication required"}})
		return
	}
	rest := strings.Trim(strings.TrimPrefix(p, "/ari/"), "/")
	if rest == "events" && r.Method == http.MethodGet {
		f.serveEvents(w, r)
		return
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	f.routesOnce.Do(func() { f.routeTable = f.routes() })
	rt, params, allowed := match(f.routeTable, r.Method, segs)
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", "OPTIONS,"+strings.Join(allowed, ","))
			writeJSON(w, http.StatusMethodNotAllowed, obj{{"message", "Invalid method"}})
			return
		}
		writeJSON(w, http.StatusNotFound, obj{{"message", "Resource not found"}})
		return
	}
	q := &req{f: f, r: r, path: params, query: r.URL.Query(), header: http.Header{}}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(bytes.TrimSpace(raw)) > 0 {
		var any json.RawMessage
		if json.Unmarshal(raw, &any) != nil {
			writeJSON(w, http.StatusBadRequest, obj{{"message", "Error parsing request body"}})
			return
		}
		// A body that is valid JSON but no object carries no parameter.
		_ = json.Unmarshal(raw, &q.body)
		if v, ok := q.body["variables"]; ok {
			q.vars = orderedStrings(v)
		}
	}

	f.mu.Lock()
	order := f.order
	var gates []chan struct{}
	if order == ResponseFirst {
		gates = f.gates()
	}
	if f.down {
		f.mu.Unlock()
		hj, ok := w.(http.Hijacker)
		if ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, nil)
		return
	}
	f.handling = true
	rt.h(q)
	f.handling = false
	lose := false
	if k := r.Method + " " + rest; f.loseReplies[k] > 0 {
		f.loseReplies[k]--
		lose = true
	}
	crash := f.crashPending
	f.crashPending = false
	var ms []mark
	if order == EventsFirst {
		ms = f.marks()
	}
	f.mu.Unlock()
	for _, m := range ms {
		select {
		case <-m.written:
		case <-m.gone:
		case <-time.After(5 * time.Second):
		}
	}
	if order != Natural {
		f.mu.Lock()
		hook := f.testAfterReply
		f.mu.Unlock()
		if hook != nil {
			hook()
		}
	}
	if lose {
		// Done, and the reply lost with the connection: the client cannot tell.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				for _, g := range gates {
					close(g)
				}
				return
			}
		}
	}
	for k, vs := range q.header {
		w.Header()[k] = vs
	}
	writeJSON(w, q.status, q.resp)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	for _, g := range gates {
		close(g)
	}
	if crash {
		go f.goDown(f.opts.RestartDowntime)
	}
}

// orderedStrings reads a JSON object's string members in order (the order of
// CALLERID(name)/(num) decides the order of ChannelCallerId events).
func orderedStrings(raw json.RawMessage) []kv {
	d := json.NewDecoder(bytes.NewReader(raw))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []kv
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return out
		}
		k, _ := kt.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			return out
		}
		out = append(out, kv{k, v})
	}
	return out
}

func (f *Fake) notImplemented(q *req) {
	f.fail("ARI %s %s is not implemented by the fake", q.r.Method, q.r.URL.Path)
	q.fail(http.StatusNotImplemented, "fakeari: not implemented")
}

func (f *Fake) asteriskInfo(q *req) {
	q.reply(200, obj{
		{"build", obj{{"os", "Linux"}, {"kernel", "6.18.44-fc-v782"}, {"machine", "x86_64"}, {"options", "OPTIONAL_API"},
			{"date", "2026-11-24 23:56:46 UTC"}, {"user", "root"}}},
		{"system", obj{{"version", "22.10.1"}, {"entity_id", asteriskID}}},
		{"config", obj{{"name", ""}, {"default_language", "en"}, {"setid", obj{{"user", ""}, {"group", ""}}}}},
		{"status", obj{{"startup_time", stamp(f.started)}, {"last_reload_time", stamp(f.started)}}},
	})
}

func (f *Fake) asteriskPing(q *req) {
	q.reply(200, obj{{"ping", "pong"}, {"timestamp", stamp(f.sched.Now())}, {"asterisk_id", asteriskID}})
}
