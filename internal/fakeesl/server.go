package fakeesl

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a fake FreeSWITCH. The zero value is usable: password "ClueCon", real
// time, the trace machine's sophia dialplan, directory users 1000–1019 on 127.0.0.1.
type Options struct {
	// Password for inbound `auth`. Default "ClueCon".
	Password string
	// Clock drives every delay. Default NewScaledClock(1) (real time). Use
	// NewScaledClock(0.01) to run ring timeouts 100× faster, or a ManualClock.
	Clock Clock
	// Hostname appears as FreeSWITCH-Hostname and `global_getvar hostname`. Default "vm",
	// as in the traces.
	Hostname string
	// Domain is the directory domain (user/1000 → 1000@Domain). Default "127.0.0.1".
	Domain string
	// Directory lists the users that exist (`user/X` for others fails SUBSCRIBER_ABSENT).
	// Default 1000…1019 as in vanilla FreeSWITCH.
	Directory []string
	// Endpoints scripts dial targets: "sofia/gateway/trunk/+33612345678",
	// "sofia/internal/alice%example.com"; a key ending in "*" matches by prefix. A
	// registered user's own Endpoint (Register) scripts user/X. See Endpoint.
	Endpoints map[string]Endpoint
	// Dialplan maps an extension name of context "sophia" to the applications a
	// loopback/<ext>/sophia leg runs. Default: DefaultDialplan (the traces' context).
	Dialplan map[string][]App
	// MaxContentLength caps a client frame's body. Default DefaultMaxContentLength.
	MaxContentLength int
	// Logger for the fake's own notes. Default: discard.
	Logger *slog.Logger
	// Listen address of the inbound Event Socket. Default "127.0.0.1:0".
	Listen string
	// Dial connects the `socket` application to its listener. Default net.Dial. Tests
	// replaying traces map the traced 127.0.0.1:8040 to their own listener with it.
	Dial func(network, addr string) (net.Conn, error)
}

// Server is a fake FreeSWITCH: an inbound Event Socket listener plus a small switch with
// channels, a dialplan, a directory and scripted endpoints. All its state sits behind one
// mutex; events get their Event-Sequence and are queued to every subscriber inside it, so
// each connection receives them in sequence order.
type Server struct {
	opts     Options
	clock    Clock
	log      *slog.Logger
	ln       net.Listener
	coreUUID string
	started  time.Time

	mu        sync.Mutex
	seq       uint64
	nextConn  int
	sessionID int
	conns     map[*conn]struct{}
	connLog   []*conn // every connection ever made, for introspection
	channels  map[string]*Channel
	regs      map[string]*registration
	bridges   []*BridgeRecord
	plays     []Playback
	presence  []*Event
	sent      []*Event // events from sendevent
	closed    bool
	shutting  bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	busy      atomic.Int64 // goroutines at work (settle.go)
}

// New starts a fake FreeSWITCH listening on opts.Listen (127.0.0.1:0 by default).
func New(opts Options) (*Server, error) {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Clock == nil {
		opts.Clock = NewScaledClock(1)
	}
	if opts.Hostname == "" {
		opts.Hostname = "vm"
	}
	if opts.Domain == "" {
		opts.Domain = "127.0.0.1"
	}
	if opts.Directory == nil {
		for i := 1000; i < 1020; i++ {
			opts.Directory = append(opts.Directory, fmt.Sprint(i))
		}
	}
	if opts.Dialplan == nil {
		opts.Dialplan = DefaultDialplan()
	}
	if opts.MaxContentLength <= 0 {
		opts.MaxContentLength = DefaultMaxContentLength
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	for k, ep := range opts.Endpoints {
		if err := ep.validate(); err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", k, err)
		}
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", opts.Listen, err)
	}
	s := &Server{
		opts:     opts,
		clock:    opts.Clock,
		log:      opts.Logger,
		ln:       ln,
		coreUUID: newUUID(),
		conns:    map[*conn]struct{}{},
		channels: map[string]*Channel{},
		regs:     map[string]*registration{},
	}
	s.started = s.clock.Now()
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the inbound Event Socket address ("127.0.0.1:port") for eslgo.Dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Password is the inbound auth password.
func (s *Server) Password() string { return s.opts.Password }

// Close stops the listener, drops every connection, hangs up the channels still up
// (SYSTEM_SHUTDOWN, so that pending originates return) and waits for the fake's goroutines.
// Check Leftovers before Close.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		_ = s.ln.Close()
		for _, c := range conns {
			c.drop()
		}
		s.mu.Lock()
		for _, ch := range s.sortedChannels() {
			ch.hangup("SYSTEM_SHUTDOWN")
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return nil
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed || s.shutting {
			s.mu.Unlock()
			_ = nc.Close()
			continue
		}
		c := s.newConnLocked(nc, false, nil, "inbound")
		// Greeting: no Content-Length (README "Framing").
		c.queue([]byte("Content-Type: auth/request\n\n"))
		s.mu.Unlock()
		c.start()
	}
}

// DropConnections closes every Event Socket connection (inbound and outbound) at once,
// without a disconnect notice, as a crashed or restarted FreeSWITCH would. Outbound
// connections' channels are hung up NORMAL_CLEARING as when a client closes the socket.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
}

// Leftovers lists what is still alive: channels not yet destroyed and connections not
// yet closed, one line each, sorted. A test that ended every call expects none.
func (s *Server) Leftovers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ch := range s.channels {
		out = append(out, fmt.Sprintf("channel %s %s %s", ch.UUID, ch.Name, ch.state))
	}
	for c := range s.conns {
		out = append(out, fmt.Sprintf("connection %d %s", c.id, c.name))
	}
	sort.Strings(out)
	return out
}

// nextSeq hands out Event-Sequence numbers; callers hold s.mu.
func (s *Server) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// baseEvent starts an event with the headers every FreeSWITCH event begins with.
func (s *Server) baseEvent(name, file, fn string, line int) *Event {
	now := s.clock.Now()
	e := &Event{Headers: make([]Header, 0, 96)}
	e.add("Event-Name", name)
	e.add("Core-UUID", s.coreUUID)
	e.add("FreeSWITCH-Hostname", s.opts.Hostname)
	e.add("FreeSWITCH-Switchname", s.opts.Hostname)
	e.add("FreeSWITCH-IPv4", "127.0.0.1")
	e.add("FreeSWITCH-IPv6", "::1")
	e.add("Event-Date-Local", now.Format("2006-01-02 15:04:05"))
	e.add("Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	e.add("Event-Date-Timestamp", fmt.Sprint(now.UnixMicro()))
	e.add("Event-Calling-File", file)
	e.add("Event-Calling-Function", fn)
	e.add("Event-Calling-Line-Number", fmt.Sprint(line))
	e.add("Event-Sequence", fmt.Sprint(s.nextSeq()))
	return e
}

// fire delivers an event to every connection that wants it; callers hold s.mu.
func (s *Server) fire(e *Event) {
	var plain, js []byte
	k := keysOf(e)
	for c := range s.conns {
		if !c.wants(e, k) {
			continue
		}
		switch c.format {
		case "json":
			if js == nil {
				js = eventFrame("text/event-json", e.jsonBody())
			}
			c.queueEvent(js)
		case "xml":
			// Not modelled: FreeSWITCH would send text/event-xml. Plain keeps the stream usable.
			fallthrough
		default:
			if plain == nil {
				plain = eventFrame("text/event-plain", e.plainBody())
			}
			c.queueEvent(plain)
		}
	}
	if e.Name() == "PRESENCE_IN" {
		s.presence = append(s.presence, e.clone())
	}
}

// Presence returns every PRESENCE_IN event fired so far (sendevent and channel presence).
func (s *Server) Presence() []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Event, len(s.presence))
	for i, e := range s.presence {
		out[i] = e.clone()
	}
	return out
}

// SentEvents returns every event injected by clients with sendevent, in order.
func (s *Server) SentEvents() []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Event, len(s.sent))
	for i, e := range s.sent {
		out[i] = e.clone()
	}
	return out
}

// Playback is one media application run on a channel.
type Playback struct {
	UUID string // channel
	App  string // playback, play_and_get_digits, speak…
	File string // the application data
	At   time.Time
}

// Played returns every playback-like application executed, in order.
func (s *Server) Played() []Playback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Playback(nil), s.plays...)
}

// ConnInfo describes one Event Socket connection, past or present.
type ConnInfo struct {
	ID       int
	Kind     string // "inbound" or "outbound"
	Channel  string // outbound: the controlled channel's uuid
	Open     bool
	Commands []*Message // every command received, parsed, in order
}

// Connections returns every connection the fake has had, oldest first.
func (s *Server) Connections() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnInfo, 0, len(s.connLog))
	for _, c := range s.connLog {
		ci := ConnInfo{ID: c.id, Kind: c.name, Commands: append([]*Message(nil), c.cmds...)}
		if c.ch != nil {
			ci.Channel = c.ch.UUID
		}
		_, ci.Open = s.conns[c]
		out = append(out, ci)
	}
	return out
}

// CommandsFor returns the commands received on the outbound connection that controls
// channel uuid (every connection that ever did, in order).
func (s *Server) CommandsFor(uuid string) []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Message
	for _, c := range s.connLog {
		if c.ch != nil && c.ch.UUID == uuid {
			out = append(out, c.cmds...)
		}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var errClosed = errors.New("fakeesl: server closed")

func lowerFirstWord(s string) (string, string) {
	w, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	return strings.ToLower(w), strings.TrimSpace(rest)
}
