package fakeesl

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// conn is one Event Socket connection, inbound (a client dialled us) or outbound (we
// dialled the client's `socket` listener for a channel). Its fields are guarded by s.mu,
// except the write queue which has its own lock so that writing never holds s.mu.
type conn struct {
	s        *Server
	id       int
	name     string // "inbound" or "outbound"
	nc       net.Conn
	outbound bool
	ch       *Channel // outbound: the controlled channel
	async    bool     // outbound: Socket-Mode async

	authed    bool
	connected bool // outbound: `connect` answered
	format    string
	listening bool
	all       bool
	events    map[string]bool
	subs      map[string]bool // CUSTOM subclasses
	myevents  bool
	myUUID    string
	filters   []Header
	linger    bool
	lingerSec int
	parkSent  bool
	lingering bool // channel gone, socket kept open
	cmds      []*Message
	gone      bool

	qmu         sync.Mutex
	qcond       *sync.Cond
	q           [][]byte
	closing     bool // close after the queue is flushed
	dead        bool
	mutedEvents bool     // sync-mode socket after hangup: no more events
	holding     bool     // sync-mode execute in progress: events wait for the +OK
	held        [][]byte // events held meanwhile
	writing     bool     // writeLoop is writing a batch
	tx          int64    // bytes written to the socket
	ncClosed    bool     // the socket is closed

	rx       atomic.Int64 // bytes read from the socket
	readDone atomic.Bool  // readLoop has returned
}

// queueEvent queues an event frame, holding it back during a sync-mode execute.
func (c *conn) queueEvent(b []byte) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing || c.dead || c.mutedEvents {
		return
	}
	if c.holding {
		c.held = append(c.held, b)
		return
	}
	c.q = append(c.q, b)
	c.qcond.Signal()
}

// hold and release bracket a sync-mode execute: its events follow the +OK reply.
func (c *conn) hold() {
	c.qmu.Lock()
	c.holding = true
	c.qmu.Unlock()
}

func (c *conn) release() {
	c.qmu.Lock()
	c.holding = false
	if !c.closing && !c.dead {
		c.q = append(c.q, c.held...)
		c.qcond.Signal()
	}
	c.held = nil
	c.qmu.Unlock()
}

// newConnLocked registers a connection; callers hold s.mu.
func (s *Server) newConnLocked(nc net.Conn, outbound bool, ch *Channel, name string) *conn {
	s.nextConn++
	c := &conn{s: s, id: s.nextConn, name: name, nc: nc, outbound: outbound, ch: ch, format: "plain",
		events: map[string]bool{}, subs: map[string]bool{}}
	c.qcond = sync.NewCond(&c.qmu)
	s.conns[c] = struct{}{}
	s.connLog = append(s.connLog, c)
	return c
}

func (c *conn) start() {
	c.s.wg.Add(2)
	c.s.busy.Add(1) // the read loop runs until it blocks in Read (see countingReader)
	go c.writeLoop()
	go c.readLoop()
}

// countingReader is the read loop's view of the socket: it counts the bytes received and
// marks the loop idle while it waits for more (Server.settled).
type countingReader struct{ c *conn }

func (r countingReader) Read(p []byte) (int, error) {
	s := r.c.s
	s.busy.Add(-1)
	n, err := r.c.nc.Read(p)
	s.busy.Add(1)
	r.c.rx.Add(int64(n))
	return n, err
}

// queue appends bytes to the write queue (any goroutine).
func (c *conn) queue(b []byte) {
	c.qmu.Lock()
	if !c.closing && !c.dead {
		c.q = append(c.q, b)
		c.qcond.Signal()
	}
	c.qmu.Unlock()
}

// closeAfterFlush closes the socket once everything queued so far is written.
func (c *conn) closeAfterFlush() {
	c.qmu.Lock()
	c.closing = true
	c.qcond.Signal()
	c.qmu.Unlock()
}

// drop closes the socket now, discarding what is queued.
func (c *conn) drop() {
	c.qmu.Lock()
	c.dead = true
	c.q = nil
	c.qcond.Signal()
	c.qmu.Unlock()
	_ = c.nc.Close()
	c.qmu.Lock()
	c.ncClosed = true
	c.qmu.Unlock()
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	for {
		c.qmu.Lock()
		for len(c.q) == 0 && !c.closing && !c.dead {
			c.qcond.Wait()
		}
		if c.dead {
			c.qmu.Unlock()
			return
		}
		if len(c.q) == 0 && c.closing {
			c.writing = true
			c.qmu.Unlock()
			_ = c.nc.Close()
			c.qmu.Lock()
			c.writing, c.ncClosed = false, true
			c.qmu.Unlock()
			return
		}
		batch := c.q
		c.q = nil
		c.writing = true
		c.qmu.Unlock()
		bufs := net.Buffers(batch)
		n, err := bufs.WriteTo(c.nc)
		c.qmu.Lock()
		c.tx += n
		c.writing = false
		c.qmu.Unlock()
		if err != nil {
			c.drop()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.s.busy.Add(-1)
	defer c.readDone.Store(true)
	fr := NewFrameReader(countingReader{c}, c.s.opts.MaxContentLength)
	for {
		m, err := fr.ReadCommand()
		if err != nil {
			c.s.log.Debug("fakeesl read", "conn", c.id, "err", err)
			c.gone1()
			return
		}
		if !c.handle(m) {
			return
		}
	}
}

// gone1 runs when the peer closed the socket (or a frame was unreadable): an outbound
// connection's channel is hung up NORMAL_CLEARING, as FreeSWITCH does (09-client-closes).
func (c *conn) gone1() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.markGone()
	if c.outbound && c.ch != nil {
		c.ch.socketEnded()
	}
}

// markGone forgets the connection; callers hold s.mu.
func (c *conn) markGone() {
	if c.gone {
		return
	}
	c.gone = true
	delete(c.s.conns, c)
	c.drop()
	c.detach()
}

func (c *conn) reply(text string) {
	c.queue([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n"))
}

func (c *conn) apiResponse(body string) {
	c.queue([]byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body))
}

// disconnect sends the 67-byte goodbye notice and closes; callers hold s.mu.
func (c *conn) disconnect() {
	var b strings.Builder
	b.WriteString("Content-Type: text/disconnect-notice\n")
	if c.outbound && c.ch != nil {
		b.WriteString("Controlled-Session-UUID: " + c.ch.UUID + "\nContent-Disposition: disconnect\n")
	}
	b.WriteString("Content-Length: 67\n\n" + goodbye)
	c.queue([]byte(b.String()))
	c.closeAfterFlush()
	c.gone = true
	delete(c.s.conns, c)
	c.detach()
}

// handle runs one command; false ends the read loop.
func (c *conn) handle(m *Message) bool {
	s := c.s
	word, rest := lowerFirstWord(m.Command)
	// Commands that may block the socket (as FreeSWITCH's do) run outside the lock.
	switch {
	case word == "api" && c.authed:
		s.mu.Lock()
		c.cmds = append(c.cmds, m)
		s.mu.Unlock()
		if rest == "" {
			c.reply("-ERR command not found")
			return true
		}
		c.apiResponse(s.api(rest, c))
		return true
	case word == "sendmsg" && c.authed:
		return c.sendmsg(m, rest)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c.cmds = append(c.cmds, m)
	if c.gone {
		return false
	}
	if !c.authed {
		switch word {
		case "auth":
			if rest == s.opts.Password {
				c.authed = true
				c.reply("+OK accepted")
				return true
			}
			c.reply("-ERR invalid")
			c.disconnect()
			return false
		case "exit":
			c.reply("+OK bye")
			c.disconnect()
			return false
		case "connect":
			if c.outbound && !c.connected {
				c.connected = true
				c.authed = true
				c.queue(c.ch.connectReply(c.async))
				return true
			}
		}
		c.reply("-ERR command not found")
		return true
	}
	switch word {
	case "exit":
		c.reply("+OK bye")
		ch := c.ch
		c.disconnect()
		if c.outbound && ch != nil {
			ch.socketEnded()
		}
		return false
	case "event":
		c.cmdEvent(rest)
	case "nixevent":
		for _, w := range strings.Fields(rest) {
			delete(c.events, strings.ToUpper(w))
			if strings.EqualFold(w, "ALL") {
				c.all = false
			}
		}
		c.reply("+OK events nixed")
	case "noevents":
		if !c.listening && !c.myevents {
			c.reply("-ERR not listening for events")
			break
		}
		c.listening, c.all, c.myevents = false, false, false
		c.events = map[string]bool{}
		c.subs = map[string]bool{}
		c.reply("+OK no longer listening for events")
	case "myevents":
		c.cmdMyevents(rest)
	case "filter":
		c.cmdFilter(rest)
	case "linger":
		if !c.outbound {
			c.reply("-ERR not controlling a session")
			break
		}
		c.linger = true
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			c.lingerSec = n
			c.reply(fmt.Sprintf("+OK will linger %d seconds", n))
		} else {
			c.lingerSec = 0
			c.reply("+OK will linger")
		}
	case "nolinger":
		if !c.outbound {
			c.reply("-ERR not controlling a session")
			break
		}
		c.linger = false
		c.reply("+OK will not linger")
	case "getvar":
		if !c.outbound || c.ch == nil {
			c.reply("-ERR command not found")
			break
		}
		if v, ok := c.ch.vars.get(rest); ok && v != "" {
			c.reply(v)
		} else {
			c.reply("-ERR command not found")
		}
	case "divert_events":
		if !c.outbound {
			c.reply("-ERR not controlling a session.")
			break
		}
		c.reply("+OK events diverted")
	case "log":
		lvl := 7
		if n, err := strconv.Atoi(rest); err == nil {
			lvl = n
		}
		c.reply(fmt.Sprintf("+OK log level %d [%d]", lvl, logLevelMask(lvl)))
	case "nolog":
		c.reply("+OK no longer logging")
	case "bgapi":
		if rest == "" {
			c.reply("-ERR command not found")
			break
		}
		job := m.Get("Job-UUID")
		if job == "" {
			job = newUUID()
		}
		c.reply("+OK Job-UUID: " + job + "\nJob-UUID: " + job)
		owner := ""
		if c.outbound && c.ch != nil {
			owner = c.ch.UUID
		}
		s.goBusy(func() {
			out := s.api(rest, nil)
			s.mu.Lock()
			defer s.mu.Unlock()
			cmd, arg, _ := strings.Cut(rest, " ")
			e := s.baseEvent("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1572)
			e.add("Job-UUID", job)
			if owner != "" {
				e.add("Job-Owner-UUID", owner)
			}
			e.add("Job-Command", cmd)
			if arg != "" {
				e.add("Job-Command-Arg", arg)
			}
			e.Body = out
			s.fire(e)
		})
	case "sendevent":
		c.cmdSendevent(m, rest)
	default:
		c.reply("-ERR command not found")
	}
	return true
}

func logLevelMask(l int) int {
	if l >= 0 && l <= 7 {
		return l
	}
	return 63
}

func (c *conn) cmdEvent(rest string) {
	words := strings.Fields(rest)
	if len(words) > 0 {
		switch strings.ToLower(words[0]) {
		case "plain", "json", "xml":
			c.format = strings.ToLower(words[0])
			words = words[1:]
		}
	}
	added := 0
	custom := false
	for _, w := range words {
		u := strings.ToUpper(w)
		if custom {
			c.subs[w] = true
			added++
			continue
		}
		switch {
		case u == "ALL":
			c.all = true
			added++
		case u == "CUSTOM":
			custom = true
			c.events["CUSTOM"] = true
			added++
		case knownEvents[u]:
			c.events[u] = true
			added++
		}
	}
	if added == 0 {
		c.reply("-ERR no keywords supplied")
		return
	}
	c.listening = true
	c.reply("+OK event listener enabled " + c.format)
	c.maybePark()
}

func (c *conn) cmdMyevents(rest string) {
	if c.myevents {
		c.reply("-ERR aready enabled.")
		return
	}
	if !c.outbound {
		uuid, fmtw, _ := strings.Cut(rest, " ")
		if uuid == "" {
			c.reply("-ERR command not found")
			return
		}
		// A uuid with no channel behind it subscribes to the myevents set for every
		// channel (08-errors: `myevents <dead uuid>` then received all calls' events).
		if _, ok := c.s.channels[uuid]; ok {
			c.myUUID = uuid
		}
		if f := strings.ToLower(strings.TrimSpace(fmtw)); f == "plain" || f == "json" || f == "xml" {
			c.format = f
		}
	} else {
		c.myUUID = c.ch.UUID
		if f := strings.ToLower(rest); f == "plain" || f == "json" || f == "xml" {
			c.format = f
		}
	}
	c.myevents = true
	c.reply("+OK Events Enabled")
	c.maybePark()
}

// maybePark fires the socket application's CHANNEL_PARK once the client listens: in the
// traces it usually (not always) reached the socket right after `myevents`/`linger`.
func (c *conn) maybePark() {
	if c.outbound && c.async && !c.parkSent && c.ch != nil && !c.ch.hungup {
		c.parkSent = true
		c.ch.fireSimple("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1002)
	}
}

func (c *conn) cmdFilter(rest string) {
	words := strings.Fields(rest)
	if len(words) == 0 {
		c.reply("-ERR command not found")
		return
	}
	if strings.EqualFold(words[0], "delete") {
		if len(words) < 2 {
			c.reply("-ERR invalid syntax")
			return
		}
		h := words[1]
		v := strings.Join(words[2:], " ")
		if strings.EqualFold(h, "all") {
			c.filters = nil
			c.reply("+OK filter deleted.")
			return
		}
		kept := c.filters[:0]
		for _, f := range c.filters {
			if !(strings.EqualFold(f.Name, h) && (v == "" || f.Value == v)) {
				kept = append(kept, f)
			}
		}
		c.filters = kept
		c.reply(fmt.Sprintf("+OK filter deleted. [%s][%s]", h, v))
		return
	}
	if len(words) < 2 {
		c.reply("-ERR invalid syntax")
		return
	}
	v := strings.Join(words[1:], " ")
	c.filters = append(c.filters, Header{words[0], v})
	c.reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", words[0], v))
}

func (c *conn) cmdSendevent(m *Message, rest string) {
	s := c.s
	name := strings.ToUpper(strings.TrimSpace(rest))
	id := newUUID()
	c.reply("+OK " + id)
	e := &Event{}
	e.add("Command", "sendevent "+strings.TrimSpace(rest))
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		e.add(h.Name, h.Value)
	}
	base := s.baseEvent(name, "mod_event_socket.c", "parse_command", 2327)
	// sendevent keeps the client's headers first, then Event-UUID and the usual block.
	e.add("Event-UUID", id)
	e.Headers = append(e.Headers, base.Headers...)
	e.Body = string(m.Body)
	s.sent = append(s.sent, e.clone())
	if !knownEvents[name] {
		return // FreeSWITCH answers +OK and nobody receives it
	}
	s.fire(e)
}

// wants decides whether this connection receives e; callers hold s.mu.
func (c *conn) wants(e *Event, k *eventKeys) bool {
	if c.gone || !c.authed || (!c.listening && !c.myevents) {
		return false
	}
	name := k.name
	if c.myevents {
		id := k.id
		if c.myUUID != "" && id != c.myUUID && k.owner != c.myUUID {
			return false
		}
		if c.myUUID == "" && id == "" {
			return false // 08-errors: no BACKGROUND_JOB after `myevents <dead uuid>`
		}
		if !(myeventsSet[name] || c.all || c.events[name]) {
			return false
		}
	} else {
		if !c.all {
			if !c.events[name] {
				return false
			}
			if name == "CUSTOM" && !c.subs[k.subclass] {
				return false
			}
		}
	}
	if len(c.filters) > 0 {
		for _, f := range c.filters {
			if e.Get(f.Name) == f.Value {
				return true
			}
		}
		return false
	}
	return true
}

// eventKeys are the headers every subscription check looks at, read once per event.
type eventKeys struct{ name, id, owner, subclass string }

func keysOf(e *Event) *eventKeys {
	k := &eventKeys{}
	for _, h := range e.Headers {
		// Header names compare without case, as switch_event_get_header does.
		switch {
		case k.name == "" && strings.EqualFold(h.Name, "Event-Name"):
			k.name = h.Value
		case k.id == "" && strings.EqualFold(h.Name, "Unique-ID"):
			k.id = h.Value
		case k.owner == "" && strings.EqualFold(h.Name, "Job-Owner-UUID"):
			k.owner = h.Value
		case k.subclass == "" && strings.EqualFold(h.Name, "Event-Subclass"):
			k.subclass = h.Value
		}
	}
	return k
}

// myeventsSet is what `myevents` subscribes to (mod_event_socket.c).
var myeventsSet = setOf("CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE",
	"CHANNEL_DATA", "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_PARK", "CHANNEL_PROGRESS",
	"CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
	"DETECTED_SPEECH", "DTMF", "NOTALK", "TALK", "CHANNEL_UUID", "CHANNEL_OUTGOING")

var knownEvents = setOf("CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE",
	"CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
	"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
	"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
	"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION",
	"CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP",
	"SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD",
	"MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
	"PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB",
	"DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
	"DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
	"PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA",
	"GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED",
	"SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
	"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
	"SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
	"CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT",
	"SHUTDOWN_REQUESTED")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// sendmsg handles `sendmsg [uuid]` with call-command execute/hangup. In sync (static)
// outbound mode the +OK of an execute comes only when the application has finished, so
// this may block the socket like FreeSWITCH's session thread does.
func (c *conn) sendmsg(m *Message, uuid string) bool {
	s := c.s
	s.mu.Lock()
	c.cmds = append(c.cmds, m)
	var ch *Channel
	switch {
	case uuid != "":
		ch = s.channels[uuid]
	case c.outbound:
		ch = c.ch
	}
	if ch == nil {
		s.mu.Unlock()
		c.reply("-ERR invalid session id [" + uuid + "]")
		return true
	}
	c.maybePark()
	cmd := strings.ToLower(m.Get("call-command"))
	switch cmd {
	case "execute":
		app := m.Get("execute-app-name")
		arg, hasArg := m.Lookup("execute-app-arg")
		if len(m.Body) > 0 && !hasArg {
			arg = strings.TrimRight(string(m.Body), "\r\n")
		}
		loops := 1
		if n, err := strconv.Atoi(m.Get("loops")); err == nil && n > 1 {
			loops = n
		}
		appUUID := m.Get("Event-UUID")
		if appUUID == "" {
			appUUID = newUUID()
		}
		sync := c.outbound && !c.async && c.ch == ch
		var done chan struct{}
		if sync {
			done = make(chan struct{})
			c.hold()
		}
		a := &appRun{name: app, arg: arg, uuid: appUUID, loops: loops, done: done, fromSocket: true, cmd: m}
		if done == nil {
			// Async: +OK at once; the session thread runs the application afterwards.
			c.reply("+OK")
		}
		if !ch.hungup {
			ch.enqueue(a)
		} else {
			a.signalDone(s)
		}
		s.mu.Unlock()
		if done != nil {
			waitOn(s, done)
			c.reply("+OK")
			c.release()
		}
		return true
	case "hangup":
		cause := m.Get("hangup-cause")
		if !validCause(cause) {
			cause = "NORMAL_CLEARING"
		}
		c.reply("+OK")
		if ch.holdApp != nil {
			break // queued behind the hold music, never handled (04-variables)
		}
		if !ch.hungup {
			// The sendmsg comes back as PRIVATE_COMMAND once handled: right after the
			// CHANNEL_HANGUP it caused (02, 03-bridge-answer).
			ch.afterHangupEvent = func() { ch.firePrivate(m) }
			ch.hangup(cause)
		}
	default:
		c.reply("+OK")
	}
	s.mu.Unlock()
	return true
}
