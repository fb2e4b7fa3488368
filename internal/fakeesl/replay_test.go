package fakeesl

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The replay test plays our side (OUT) of each trace recorded against a real FreeSWITCH
// 1.10.12 into the fake, connection by connection, on the traced schedule (a ManualClock
// follows the trace's timestamps), and compares what the fake answers with what FreeSWITCH
// answered: every reply in order (uuids, timestamps, hostnames normalised), and per channel
// the sequence of the events the fake models, with their key headers.

// traceDir holds the FreeSWITCH traces, kept in the repository
// (testdata/pbx-traces/README.md).
const traceDir = "../../testdata/pbx-traces/freeswitch"

type chunk struct {
	note string
	t    int64
	in   bool
	conn string
	data []byte
}

type trace struct {
	name   string
	chunks []chunk
}

var chunkRe = regexp.MustCompile(`^(<<<|>>>) t=(\d+) (IN|OUT) c=(\S+) len=(\d+)$`)

func traceFiles(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(traceDir, "*.txt"))
	if len(files) == 0 {
		t.Fatalf("no traces in %s", traceDir)
	}
	sort.Strings(files)
	return files
}

func loadTrace(t *testing.T, path string) *trace {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trace{name: filepath.Base(path)}
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		line := string(data[i : i+j])
		i += j + 1
		if m := chunkRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[5])
			ts, _ := strconv.ParseInt(m[2], 10, 64)
			tr.chunks = append(tr.chunks, chunk{t: ts, in: m[3] == "IN", conn: m[4], data: data[i : i+n]})
			i += n + 1
		} else if strings.HasPrefix(line, "### ") {
			ts, _ := strconv.ParseInt(strings.Fields(line)[1][2:], 10, 64)
			tr.chunks = append(tr.chunks, chunk{note: line, t: ts})
		} else if line != "" {
			t.Fatalf("%s: unexpected line %q", path, line)
		}
	}
	return tr
}

func (tr *trace) conns() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range tr.chunks {
		if c.conn != "" && !seen[c.conn] {
			seen[c.conn] = true
			out = append(out, c.conn)
		}
	}
	return out
}

func (tr *trace) messages(t *testing.T, conn string) []*Message {
	var buf bytes.Buffer
	for _, c := range tr.chunks {
		if c.in && c.conn == conn {
			buf.Write(c.data)
		}
	}
	fr := NewFrameReader(&buf, 0)
	var out []*Message
	for {
		m, err := fr.ReadMessage()
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

// ---- the replay ----

// replayConn is our side of one traced connection.
type replayConn struct {
	name     string
	outbound bool
	nc       net.Conn
	client   string // the TCP client's address: matches the fake's connState.client
	tx       int64  // bytes we wrote (only the replay goroutine touches it)

	mu     sync.Mutex
	rx     int64 // bytes read and parsed
	got    []*Message
	eof    bool // the peer closed (or we did)
	byUs   bool // we closed it
	parsed int  // significant messages so far
}

func (rc *replayConn) read() {
	var buf []byte
	p := make([]byte, 64<<10)
	for {
		n, err := rc.nc.Read(p)
		buf = append(buf, p[:n]...)
		var ms []*Message
		for {
			m, rest, ok := splitMessage(buf)
			if !ok {
				break
			}
			ms = append(ms, m)
			buf = rest
		}
		rc.mu.Lock()
		rc.got = append(rc.got, ms...)
		for _, m := range ms {
			if counted(m, rc.outbound) {
				rc.parsed++
			}
		}
		rc.rx += int64(n)
		if err != nil {
			rc.eof = true
		}
		rc.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// replayer drives one trace into a fake on a ManualClock.
type replayer struct {
	tr    *trace
	s     *Server
	clock *ManualClock
	ln    net.Listener

	clientUUIDs map[string]bool // uuids in what we sent
	worldSeen   map[string]bool // Event-Sequence of the phone's events already replayed
	namers      map[string]namerAt

	mu       sync.Mutex
	conns    map[string]*replayConn
	outNames []string
	accepted int

	diffs []string
}

// tolerance is how far past a step's trace time the replay may run the fake's timers
// when a message FreeSWITCH had sent by then is still missing: FreeSWITCH's own timers
// fire a few milliseconds late and its scheduler adds jitter, so a message the trace
// shows just before one of our commands may be due in the fake a little after it. It
// costs no wall time (ManualClock). Normalized: timing only.
const tolerance = 1500 * time.Millisecond

// replayFatal aborts a replay (fatalf); replayTrace turns it into a difference.
type replayFatal string

func (r *replayer) fatalf(format string, args ...any) {
	panic(replayFatal(fmt.Sprintf(format, args...)))
}

func newReplayer(tr *trace) *replayer {
	r := &replayer{tr: tr, conns: map[string]*replayConn{}, worldSeen: map[string]bool{}, namers: map[string]namerAt{},
		clock: NewManualClock(time.UnixMilli(tr.chunks[0].t))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.fatalf("%v", err)
	}
	r.ln = ln
	s, err := New(Options{Password: "REDACTED", Clock: r.clock,
		Dial: func(network, addr string) (net.Conn, error) {
			if addr == "127.0.0.1:8040" {
				addr = ln.Addr().String()
			}
			return net.Dial(network, addr)
		}})
	if err != nil {
		r.fatalf("%v", err)
	}
	r.s = s
	// A uuid the client chose is one we sent before FreeSWITCH sent it; the fake sees it
	// as is. One FreeSWITCH made (a B leg's) is translated when we send it (translate).
	r.clientUUIDs = map[string]bool{}
	seen := map[string]bool{}
	var in []byte // everything FreeSWITCH sent so far
	for _, c := range tr.chunks {
		switch {
		case c.note != "":
		case c.in:
			in = append(in, c.data...)
		default:
			for _, u := range uuidRe.FindAllString(string(c.data), -1) {
				if !seen[u] && !bytes.Contains(in, []byte(u)) {
					r.clientUUIDs[u] = true
				}
				seen[u] = true
			}
		}
	}
	// Outbound connections are named in the order the trace accepted them.
	for _, c := range tr.chunks {
		if strings.Contains(c.note, "accepted connection") {
			r.outNames = append(r.outNames, strings.TrimPrefix(strings.Fields(c.note)[3], "c="))
		}
	}
	go r.acceptLoop()
	return r
}

func (r *replayer) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for _, rc := range r.conns {
		_ = rc.nc.Close()
	}
	r.mu.Unlock()
	_ = r.s.Close()
}

func (r *replayer) acceptLoop() {
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		name := fmt.Sprintf("outbound-extra%d", r.accepted)
		if r.accepted < len(r.outNames) {
			name = r.outNames[r.accepted]
		}
		r.accepted++
		rc := &replayConn{name: name, outbound: true, nc: nc, client: nc.RemoteAddr().String()}
		r.conns[name] = rc
		r.mu.Unlock()
		go rc.read()
	}
}

// conn returns the named connection, dialling the fake for an inbound one we have not
// opened yet; an outbound one must have been accepted already (nil if not).
func (r *replayer) conn(name string) *replayConn {
	r.mu.Lock()
	rc := r.conns[name]
	r.mu.Unlock()
	if rc != nil || strings.HasPrefix(name, "outbound") {
		return rc
	}
	nc, err := net.Dial("tcp", r.s.Addr())
	if err != nil {
		r.fatalf("dial fake: %v", err)
	}
	rc = &replayConn{name: name, nc: nc, client: nc.LocalAddr().String()}
	r.mu.Lock()
	r.conns[name] = rc
	r.mu.Unlock()
	go rc.read()
	return rc
}

// settledOnce checks that the fake has nothing to do and that both sides have read what
// the other wrote; it returns a fingerprint of the state for the double check.
func (r *replayer) settledOnce() (bool, string) {
	idle, fconns := r.s.settleState()
	if !idle {
		return false, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	byClient := map[string]*replayConn{}
	for _, rc := range r.conns {
		byClient[rc.client] = rc
	}
	var fp strings.Builder
	matched := map[*replayConn]bool{}
	for _, f := range fconns {
		rc := byClient[f.client]
		if rc == nil {
			return false, "" // not accepted (outbound) or not yet registered (inbound)
		}
		matched[rc] = true
		rc.mu.Lock()
		rx, eof, byUs := rc.rx, rc.eof, rc.byUs
		rc.mu.Unlock()
		if !byUs && (rx != f.tx || (f.closed && !eof)) {
			return false, ""
		}
		if byUs && !f.readDone {
			return false, "" // the fake has not seen our close yet
		}
		if !f.readDone && !f.closed && f.rx != rc.tx {
			return false, ""
		}
		if !f.flushed {
			return false, ""
		}
		fmt.Fprintf(&fp, "%d:%d/%d/%v/%v;", f.id, f.rx, f.tx, f.closed, eof)
	}
	for _, rc := range r.conns {
		if !matched[rc] {
			rc.mu.Lock()
			eof := rc.eof
			rc.mu.Unlock()
			if !eof {
				return false, "" // the fake has not accepted it yet
			}
		}
	}
	return true, fp.String()
}

// waitIdle returns once the fake is settled at the clock's current time, running timers
// that came due meanwhile. A deadlock guard (not a difference detector) fails the test
// if that never happens.
func (r *replayer) waitIdle() {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, fp := r.settledOnce()
		if ok {
			if ok2, fp2 := r.settledOnce(); ok2 && fp2 == fp {
				if next, pending := r.clock.next(); pending && !next.After(r.clock.Now()) {
					r.clock.Set(r.clock.Now())
					continue
				}
				return
			}
		}
		if time.Now().After(deadline) {
			_, st := r.s.settleState()
			r.fatalf("fake never settled: busy=%d conns=%+v", r.s.busy.Load(), st)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// settle moves the clock to t, waits for the fake, and, while need reports something
// FreeSWITCH had sent by t still missing, runs the fake's next timers up to t+tolerance.
func (r *replayer) settle(t int64, need func() string) string {
	r.waitIdle() // what we sent last is handled at the time we sent it
	r.clock.Set(time.UnixMilli(t))
	r.waitIdle()
	for {
		missing := need()
		if missing == "" {
			return ""
		}
		next, ok := r.clock.next()
		if !ok || next.After(time.UnixMilli(t).Add(tolerance)) {
			return missing
		}
		r.clock.Set(next)
		r.waitIdle()
	}
}

func (r *replayer) run() {
	tr := r.tr
	t0 := tr.chunks[0].t
	expected := map[string]int{}      // significant trace messages per connection so far
	closedByPeer := map[string]bool{} // the trace saw FreeSWITCH close these
	parsers := map[string][]byte{}
	traceMsgs := map[string][]*Message{}
	need := func() string {
		var miss []string
		for name, want := range expected {
			rc := r.conn(name)
			if rc == nil {
				miss = append(miss, name+": not connected")
				continue
			}
			rc.mu.Lock()
			got, eof := rc.parsed, rc.eof
			rc.mu.Unlock()
			if got < want {
				miss = append(miss, fmt.Sprintf("%s: %d of %d messages", name, got, want))
			}
			if closedByPeer[name] && !eof {
				miss = append(miss, name+": still open")
			}
		}
		sort.Strings(miss)
		return strings.Join(miss, ", ")
	}
	step := func(c chunk, what string) {
		if m := r.settle(c.t, need); m != "" {
			r.diffs = append(r.diffs, fmt.Sprintf("t=%d before %s: missing %s", c.t-t0, what, m))
		}
	}
	for _, c := range tr.chunks {
		switch {
		case c.note != "":
			f := strings.Fields(c.note)
			if len(f) < 4 || !strings.HasPrefix(f[3], "c=") {
				continue
			}
			name := strings.TrimPrefix(f[3], "c=")
			switch {
			case strings.Contains(c.note, "socket closed by us"):
				step(c, "closing "+name)
				if rc := r.conn(name); rc != nil {
					rc.mu.Lock()
					rc.byUs = true
					rc.mu.Unlock()
					_ = rc.nc.Close()
				}
			case strings.Contains(c.note, "socket closed by peer"):
				closedByPeer[name] = true
			}
		case c.in:
			if _, ok := expected[c.conn]; !ok {
				expected[c.conn] = 0
				if !strings.HasPrefix(c.conn, "outbound") {
					r.conn(c.conn) // FreeSWITCH greeted us: we had connected
				}
			}
			parsers[c.conn] = append(parsers[c.conn], c.data...)
			for {
				m, rest, ok := splitMessage(parsers[c.conn])
				if !ok {
					break
				}
				parsers[c.conn] = rest
				traceMsgs[c.conn] = append(traceMsgs[c.conn], m)
				r.world(c, m)
				if counted(m, strings.HasPrefix(c.conn, "outbound")) {
					expected[c.conn]++
				}
			}
		default:
			cmd, _, _ := strings.Cut(string(c.data), "\n")
			step(c, fmt.Sprintf("%s %q", c.conn, cmd))
			rc := r.conn(c.conn)
			if rc == nil {
				r.diffs = append(r.diffs, fmt.Sprintf("t=%d: no connection %s", c.t-t0, c.conn))
				continue
			}
			_, _ = rc.nc.Write(r.translate(c.data, traceMsgs))
			rc.tx += int64(len(c.data))
		}
	}
	last := tr.chunks[len(tr.chunks)-1]
	step(last, "the end")

	for _, name := range tr.conns() {
		r.mu.Lock()
		rc := r.conns[name]
		r.mu.Unlock()
		if rc == nil {
			r.diffs = append(r.diffs, name+": never connected")
			continue
		}
		rc.mu.Lock()
		got := append([]*Message(nil), rc.got...)
		eof, byUs := rc.eof, rc.byUs
		rc.mu.Unlock()
		r.diffs = append(r.diffs, compareStreams(name, traceMsgs[name], got, r.clientUUIDs)...)
		if eof && !byUs && !closedByPeer[name] {
			r.diffs = append(r.diffs, name+": the fake closed it, FreeSWITCH did not")
		}
	}
	r.mu.Lock()
	for name := range r.conns {
		if strings.HasPrefix(name, "outbound-extra") {
			r.diffs = append(r.diffs, name+": the fake made an outbound connection FreeSWITCH did not")
		}
	}
	r.mu.Unlock()
}

// phones script what the registered SIP phone of a trace did when called.
var phones = map[string]map[string]Endpoint{
	// baresip refused the loopback caller's L16 (488); with PCMU it rang and never
	// answered (its audio source failed to start).
	"10-registrations.txt": {"1001": {RequireCodec: "PCMU", Progress: "ring"}},
	// With a WAV audio source it answered about 40 ms after ringing.
	"10b-registered-phone-answers.txt": {"1001": {RequireCodec: "PCMU", Progress: "ring", Ring: 40 * time.Millisecond,
		Answer: true}},
}

// world replays what the trace's SIP phone did (it is not on a socket we drive): when the
// trace shows it registering, failing to, or unregistering, the fake is told at that time
// (Register, RegisterFailure, Unregister) and must produce the same events.
func (r *replayer) world(c chunk, m *Message) {
	if !isEventFrame(m) {
		return
	}
	e := decodeEvent(m)
	sub := e.Get("Event-Subclass")
	if e.Name() != "CUSTOM" || (sub != "sofia::register" && sub != "sofia::register_failure" && sub != "sofia::unregister") {
		return
	}
	seq := e.Get("Event-Sequence")
	if r.worldSeen[seq] {
		return // the same event on another connection
	}
	r.worldSeen[seq] = true
	r.waitIdle()
	r.clock.Set(time.UnixMilli(c.t))
	r.waitIdle()
	var err error
	switch sub {
	case "sofia::register":
		contact := e.Get("contact")
		if i, j := strings.IndexByte(contact, '<'), strings.IndexByte(contact, '>'); i >= 0 && j > i {
			contact = contact[i+1 : j]
		}
		err = r.s.Register(Registration{User: e.Get("from-user"), Domain: e.Get("from-host"), Contact: contact,
			UserAgent: e.Get("user-agent"), CallID: e.Get("call-id"), Endpoint: phones[r.tr.name][e.Get("from-user")]})
	case "sofia::register_failure":
		r.s.RegisterFailure(e.Get("to-user"))
	case "sofia::unregister":
		err = r.s.Unregister(e.Get("from-user"))
	}
	if err != nil {
		r.diffs = append(r.diffs, fmt.Sprintf("t=%d: %s: %v", c.t-r.tr.chunks[0].t, sub, err))
	}
}

// translate replaces in what we send the uuids FreeSWITCH generated (learned from its
// events, e.g. a B leg's for uuid_kill) with the fake's uuid of the same channel: the one
// with the same label (name and rank) on the same connection.
func (r *replayer) translate(data []byte, traceMsgs map[string][]*Message) []byte {
	us := uuidRe.FindAll(data, -1)
	if len(us) == 0 {
		return data
	}
	out := append([]byte(nil), data...)
	for _, u := range us {
		if r.clientUUIDs[string(u)] {
			continue
		}
		for name, ms := range traceMsgs {
			label, ok := r.traceNamer(name, ms).names[string(u)]
			if !ok {
				continue
			}
			r.mu.Lock()
			rc := r.conns[name]
			r.mu.Unlock()
			if rc == nil {
				continue
			}
			rc.mu.Lock()
			got := append([]*Message(nil), rc.got...)
			rc.mu.Unlock()
			for fu, fl := range newNamer(got, nil).names {
				if fl == label {
					out = bytes.ReplaceAll(out, u, []byte(fu))
				}
			}
			break
		}
	}
	return out
}

// traceNamer names the uuids of the trace's messages on one connection so far, reusing
// the last answer while no message was added.
func (r *replayer) traceNamer(conn string, ms []*Message) *namer {
	if c, ok := r.namers[conn]; ok && c.n == len(ms) {
		return c.namer
	}
	n := newNamer(ms, nil)
	r.namers[conn] = namerAt{n: len(ms), namer: n}
	return n
}

type namerAt struct {
	n     int
	namer *namer
}

func replay(t *testing.T, file string) {
	for _, d := range replayTrace(loadTrace(t, filepath.Join(traceDir, file))) {
		t.Error(d)
	}
}

// replayTrace replays one trace and returns the differences; it may run in any goroutine.
func replayTrace(tr *trace) (diffs []string) {
	var r *replayer
	defer func() {
		if x := recover(); x != nil {
			f, ok := x.(replayFatal)
			if !ok {
				panic(x)
			}
			diffs = append(diffs, string(f))
		}
		if r != nil {
			r.close()
			diffs = append(r.diffs, diffs...)
		}
	}()
	r = newReplayer(tr)
	r.run()
	return nil
}

func splitMessage(b []byte) (*Message, []byte, bool) {
	// Find one whole frame first (cheaply: buffers hold many), then parse just that.
	start := 0
	for start < len(b) && (b[start] == '\n' || b[start] == '\r') {
		start++
	}
	hdrEnd := bytes.Index(b[start:], []byte("\n\n"))
	if hdrEnd < 0 {
		return nil, b, false
	}
	end := start + hdrEnd + 2
	for _, line := range bytes.Split(b[start:start+hdrEnd], []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return nil, b, false
			}
			end += n
		}
	}
	if end > len(b) {
		return nil, b, false
	}
	m, err := NewFrameReader(bytes.NewReader(b[start:end]), 0).ReadMessage()
	if err != nil {
		return nil, b, false
	}
	return m, b[end:], true
}

// TestReplayOne replays the trace named by FAKEESL_TRACE (go test -run ReplayOne).
func TestReplayOne(t *testing.T) {
	f := os.Getenv("FAKEESL_TRACE")
	if f == "" {
		t.Skip("FAKEESL_TRACE not set")
	}
	replay(t, f)
}

// replayed lists the traces whose replay matches; the others (02b, 05, 06, 04b: not
// required; the rest: see doc.go "Trace replay") can be run one by one with
// FAKEESL_TRACE=<file> go test -run ReplayOne.
var replayed = []string{
	"01-inbound-basics.txt", "02-outbound-basic.txt", "02b-outbound-sip-caller.txt",
	"03-bridge-answer.txt", "03-bridge-answer-b-hangs-up.txt", "03-bridge-busy.txt",
	"03-bridge-caller-hangs-up-ringing.txt", "03-bridge-error-targets.txt", "03-bridge-failover.txt",
	"03-bridge-group-confirm.txt", "03-bridge-noanswer-timeout.txt", "03-bridge-simultaneous.txt",
	"03-bridge-user-not-registered.txt",
	"09-inbound-fs-shutdown.txt",
	"09-outbound-caller-hangup-linger-2s.txt", "09-outbound-caller-hangup-linger.txt",
	"09-outbound-caller-hangup-no-linger.txt", "09-outbound-client-closes-socket.txt",
	"09-outbound-exit-command.txt", "09-outbound-sync-mode.txt",
	"04-variables.txt", "04b-sip-diversion-headers.txt", "07-presence-mwi.txt", "08-errors.txt",
	"10-registrations.txt", "10b-registered-phone-answers.txt", "11-sip-bridge-outcomes.txt",
	"12-inbound-call-control.txt",
}

func TestReplayTraces(t *testing.T) {
	// The replays run side by side (each has its own fake, listener and clock): most of
	// a replay's time is waiting for the other side's goroutine, so more than GOMAXPROCS
	// of them at once finish sooner on a busy machine. Results are reported per trace.
	type result struct {
		done  chan struct{}
		diffs []string
	}
	results := make([]*result, len(replayed))
	sem := make(chan struct{}, 8)
	for i, f := range replayed {
		tr := loadTrace(t, filepath.Join(traceDir, f))
		res := &result{done: make(chan struct{})}
		results[i] = res
		go func() {
			defer close(res.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			res.diffs = replayTrace(tr)
		}()
	}
	for i, f := range replayed {
		res := results[i]
		t.Run(f, func(t *testing.T) {
			<-res.done
			for _, d := range res.diffs {
				t.Error(d)
			}
		})
	}
}
