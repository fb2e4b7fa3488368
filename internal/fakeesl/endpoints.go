package fakeesl

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
)

// Endpoint scripts what a dialled target does. The zero value rings forever.
//
//	Endpoint{Answer: true, Ring: 2*time.Second}          answers after 2 s
//	Endpoint{Cause: "USER_BUSY"}                          busy at once (SIP 486)
//	Endpoint{Progress: "ring"}                            rings, never answers
//	Endpoint{Answer: true, HangupAfter: 3*time.Second}    answers, hangs up 3 s later
//	Endpoint{Answer: true, Ring: time.Second, DTMF: "1", DTMFAfter: 2500*time.Millisecond}
//	                                                      accepts a group_confirm prompt
type Endpoint struct {
	// Progress the leg signals at once: "" (none, as a SIP 486/603 or an immediate answer),
	// "ring" (180 → CHANNEL_PROGRESS on A), "media" (183 → CHANNEL_PROGRESS_MEDIA on A).
	Progress string
	// Ring is how long until the outcome (answer or Cause).
	Ring time.Duration
	// Answer: the leg answers after Ring.
	Answer bool
	// Cause: the leg fails with this hangup cause after Ring (USER_BUSY, CALL_REJECTED,
	// NO_ANSWER, USER_NOT_REGISTERED, …). Ignored when Answer is set. Empty and no Answer:
	// rings until the caller gives up (originate/leg timeout).
	Cause string
	// HangupAfter > 0: once answered, the leg hangs up NORMAL_CLEARING after this long.
	HangupAfter time.Duration
	// DTMF digits the leg presses DTMFAfter after answering ("1" accepts group_confirm).
	DTMF      string
	DTMFAfter time.Duration
	// RequireCodec: the endpoint refuses (SIP 488, INCOMPATIBLE_DESTINATION) a leg whose
	// absolute_codec_string is not this, as the traced phone refused the loopback
	// caller's L16 until the bridge forced {absolute_codec_string=PCMU} (10).
	RequireCodec string
}

func (ep Endpoint) validate() error {
	switch ep.Progress {
	case "", "ring", "media":
	default:
		return fmt.Errorf("progress %q: want \"\", \"ring\" or \"media\"", ep.Progress)
	}
	if ep.Cause != "" && !validCause(ep.Cause) {
		return fmt.Errorf("cause %q: not a FreeSWITCH hangup cause", ep.Cause)
	}
	if ep.Ring < 0 || ep.HangupAfter < 0 || ep.DTMFAfter < 0 {
		return errors.New("durations must not be negative")
	}
	return nil
}

// AnswerAfter answers after d, ringing (180) meanwhile.
func AnswerAfter(d time.Duration) Endpoint { return Endpoint{Progress: "ring", Ring: d, Answer: true} }

// Busy refuses at once with USER_BUSY (SIP 486).
func Busy() Endpoint { return Endpoint{Cause: "USER_BUSY"} }

// Reject refuses at once with CALL_REJECTED (SIP 603).
func Reject() Endpoint { return Endpoint{Cause: "CALL_REJECTED"} }

// NeverAnswers rings (180) until the caller's timeout.
func NeverAnswers() Endpoint { return Endpoint{Progress: "ring"} }

// NotRegistered fails with USER_NOT_REGISTERED.
func NotRegistered() Endpoint { return Endpoint{Cause: "USER_NOT_REGISTERED"} }

// Unknown fails with SUBSCRIBER_ABSENT (no such subscriber).
func Unknown() Endpoint { return Endpoint{Cause: "SUBSCRIBER_ABSENT"} }

// AnswerThenHangup answers after ring and hangs up talk later.
func AnswerThenHangup(ring, talk time.Duration) Endpoint {
	return Endpoint{Progress: "ring", Ring: ring, Answer: true, HangupAfter: talk}
}

// ConfirmAfter answers after ring and presses digit after wait (group_confirm).
func ConfirmAfter(ring, wait time.Duration, digit string) Endpoint {
	return Endpoint{Progress: "ring", Ring: ring, Answer: true, DTMF: digit, DTMFAfter: wait}
}

// App is one dialplan application with its argument.
type App struct{ Name, Arg string }

// DefaultDialplan is the "sophia" context of the trace machine (README): loopback/<ext>/sophia
// runs these on its -b leg. "inbound" and "inbound-sync" hand the call to 127.0.0.1:8040
// (see Options.Dial to point that elsewhere).
func DefaultDialplan() map[string][]App {
	return map[string][]App{
		"inbound":            {{"socket", "127.0.0.1:8040 async full"}},
		"inbound-sync":       {{"socket", "127.0.0.1:8040 full"}},
		"answer":             {{"answer", ""}, {"sleep", "500"}, {"echo", ""}},
		"busy":               {{"hangup", "USER_BUSY"}},
		"reject":             {{"hangup", "CALL_REJECTED"}},
		"noanswer":           {{"ring_ready", ""}, {"sleep", "300000"}},
		"answer-later":       {{"ring_ready", ""}, {"sleep", "4000"}, {"answer", ""}, {"echo", ""}},
		"answer-then-hangup": {{"answer", ""}, {"sleep", "3000"}, {"hangup", "NORMAL_CLEARING"}},
		"answer-confirm":     {{"answer", ""}, {"sleep", "2500"}, {"send_dtmf", "1"}, {"echo", ""}},
		"park":               {{"park", ""}},
	}
}

// Registration is a SIP registration of a directory user.
type Registration struct {
	User      string // "1000"
	Domain    string // default Options.Domain
	Contact   string // default "sip:<user>@127.0.0.1:5060"
	UserAgent string // default "fakeesl"
	// CallID of the REGISTER (the registration's token); default a random one.
	CallID string
	// Endpoint scripts what user/<User> does when dialled. Zero: answers after 1 s.
	Endpoint Endpoint
}

type registration struct {
	Registration
	callID string
	at     time.Time
	zero   bool // being removed: expires 0
}

// exp is when sofia lets the registration lapse: twice the 60 s the REGISTER asked (10).
func (r *registration) exp() int64 { return r.at.Unix() + 2*60 }

// port is the contact's port (the phone's), 5060 when it names none.
func (r *registration) port() string {
	c, _, _ := strings.Cut(strings.TrimPrefix(r.Contact, "sip:"), ";")
	if i := strings.LastIndexByte(c, ':'); i >= 0 && !strings.Contains(c[i:], "@") {
		return c[i+1:]
	}
	return "5060"
}

// Register registers a directory user (as a phone's REGISTER would) and fires the CUSTOM
// events sofia::pre_register, sofia::register_attempt and sofia::register.
func (s *Server) Register(r Registration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Domain == "" {
		r.Domain = s.opts.Domain
	}
	if !s.inDirectory(r.User) {
		return fmt.Errorf("register %q: not in the directory", r.User)
	}
	if r.Endpoint == (Endpoint{}) {
		r.Endpoint = AnswerAfter(time.Second)
	}
	if err := r.Endpoint.validate(); err != nil {
		return fmt.Errorf("register %q: endpoint: %w", r.User, err)
	}
	if r.Contact == "" {
		r.Contact = "sip:" + r.User + "@127.0.0.1:5060"
	}
	if r.UserAgent == "" {
		r.UserAgent = "fakeesl"
	}
	if r.CallID == "" {
		r.CallID = strings.ReplaceAll(newUUID(), "-", "")[:16]
	}
	reg := &registration{Registration: r, callID: r.CallID, at: s.clock.Now()}
	s.regs[r.User+"@"+r.Domain] = reg
	s.fire(s.regEvent("sofia::pre_register", reg, "pre"))
	s.fire(s.regEvent("sofia::register_attempt", reg, "attempt"))
	s.fire(s.regEvent("sofia::register", reg, "register"))
	return nil
}

// Unregister removes a registration (REGISTER with Expires: 0): sofia::unregister.
func (s *Server) Unregister(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := user
	if !strings.Contains(key, "@") {
		key += "@" + s.opts.Domain
	}
	reg, ok := s.regs[key]
	if !ok {
		return fmt.Errorf("unregister %q: not registered", user)
	}
	delete(s.regs, key)
	// A REGISTER with Expires: 0 goes through the same steps first (10).
	reg.zero = true
	s.fire(s.regEvent("sofia::pre_register", reg, "pre"))
	s.fire(s.regEvent("sofia::register_attempt", reg, "attempt"))
	s.fire(s.regEvent("sofia::unregister", reg, "unregister"))
	return nil
}

// RegisterFailure fires what a REGISTER with a wrong password produces:
// sofia::pre_register, sofia::register_attempt (FORBIDDEN), sofia::register_failure.
func (s *Server) RegisterFailure(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := &registration{Registration: Registration{User: user, Domain: s.opts.Domain,
		Contact: "sip:" + user + "@127.0.0.1:5060", UserAgent: "fakeesl"}, callID: newUUID()[:16]}
	s.fire(s.regEvent("sofia::pre_register", reg, "pre"))
	s.fire(s.regEvent("sofia::register_attempt", reg, "forbidden"))
	s.fire(s.regEvent("sofia::register_failure", reg, "failure"))
}

func (s *Server) inDirectory(user string) bool {
	for _, u := range s.opts.Directory {
		if u == user {
			return true
		}
	}
	return false
}

func (s *Server) regEvent(sub string, r *registration, kind string) *Event {
	base := s.baseEvent("CUSTOM", "sofia_reg.c", "sofia_reg_handle_register_token", 1900)
	e := &Event{}
	e.add("Event-Subclass", sub)
	e.Headers = append(e.Headers, base.Headers...)
	e.add("profile-name", "internal")
	if kind == "failure" {
		e.add("to-user", r.User)
		e.add("to-host", r.Domain)
		e.add("network-ip", "127.0.0.1")
		e.add("network-port", r.port())
		e.add("registration-type", "REGISTER")
		return e
	}
	if kind == "unregister" {
		e.add("username", r.User)
	}
	e.add("from-user", r.User)
	e.add("from-host", r.Domain)
	if kind == "register" {
		e.add("presence-hosts", r.Domain)
	}
	e.add("contact", `"" <`+r.Contact+`>`)
	e.add("call-id", r.callID)
	e.add("rpid", "unknown")
	if kind != "unregister" {
		e.add("status", "Registered(UDP)")
		if r.zero {
			e.add("expires", "0")
		} else {
			e.add("expires", "60")
		}
		e.add("to-user", r.User)
		e.add("to-host", r.Domain)
	}
	if kind == "unregister" {
		e.add("realm", r.Domain)
	}
	e.add("network-ip", "127.0.0.1")
	e.add("network-port", r.port())
	if kind == "attempt" || kind == "forbidden" || kind == "register" {
		e.add("username", r.User)
		e.add("realm", r.Domain)
	}
	e.add("user-agent", r.UserAgent)
	switch kind {
	case "attempt":
		e.add("auth-result", "RENEWED")
	case "forbidden":
		e.add("auth-result", "FORBIDDEN")
	case "unregister":
		e.add("expires", "0")
	}
	if kind == "register" || kind == "unregister" {
		e.Headers = append(e.Headers, s.userVars(r.User, r.Domain)...)
	}
	return e
}

func (s *Server) userVars(user, domain string) []Header {
	return []Header{{"sip_number_alias", user}, {"sip_auth_username", user}, {"sip_auth_realm", domain},
		{"number_alias", user}, {"user_name", user}, {"domain_name", domain},
		{"user_context", "default"}, {"effective_caller_id_name", "Extension " + user},
		{"effective_caller_id_number", user}}
}

// Registered lists the registered users as "user@domain", sorted.
func (s *Server) Registered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.regs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CallSpec describes a call arriving at the fake that its dialplan hands to a `socket`
// listener (the adapter's outbound-socket server).
type CallSpec struct {
	// Socket is the adapter's listener, "127.0.0.1:port". Required.
	Socket string
	// Sync: `socket … full` without async (Socket-Mode: static). Default async.
	Sync bool
	// UUID of the channel; default a fresh one.
	UUID string
	// ChannelName; default "sofia/internal/<CallerIDNumber>@<Domain>".
	ChannelName string
	// Caller id and dialled number as the dialplan sees them.
	CallerIDNumber, CallerIDName, Destination string
	// Context; default "public".
	Context string
	// Variables set on the channel before the socket application runs (sip_h_Diversion,
	// sip_from_user…), listed in the connect reply as variable_*.
	Variables map[string]string
}

// InjectCall makes a call arrive: the channel is created (CHANNEL_CREATE…), its dialplan
// runs `socket <Socket> async full` and the fake dials the adapter, waiting for `connect`.
// It returns the channel uuid; the connection happens in the background.
func (s *Server) InjectCall(spec CallSpec) (string, error) {
	if _, _, err := net.SplitHostPort(spec.Socket); err != nil {
		return "", fmt.Errorf("inject call: socket %q: %w", spec.Socket, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.shutting {
		return "", errClosed
	}
	if spec.UUID != "" {
		if _, dup := s.channels[spec.UUID]; dup {
			return "", fmt.Errorf("inject call: uuid %s already in use", spec.UUID)
		}
	}
	if spec.CallerIDNumber == "" {
		spec.CallerIDNumber = "0000000000"
	}
	if spec.ChannelName == "" {
		spec.ChannelName = "sofia/internal/" + spec.CallerIDNumber + "@" + s.opts.Domain
	}
	if spec.Context == "" {
		spec.Context = "public"
	}
	ch := s.newChannel(spec.UUID, spec.ChannelName, "inbound")
	ch.cidNum, ch.cidName, ch.dest, ch.context = spec.CallerIDNumber, spec.CallerIDName, spec.Destination, spec.Context
	ch.hitDialplan = true
	ch.calleeName, ch.calleeNum = "", ""
	keys := make([]string, 0, len(spec.Variables))
	for k := range spec.Variables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ch.vars.set(k, spec.Variables[k])
	}
	ch.vars.set("call_uuid", ch.UUID)
	ch.fireCreated("")
	mode := " async full"
	if spec.Sync {
		mode = " full"
	}
	ch.enqueue(&appRun{name: "socket", arg: spec.Socket + mode, uuid: newUUID()})
	return ch.UUID, nil
}

// Hangup hangs a channel up with cause, as the caller (or callee) would. An unknown cause
// becomes NORMAL_CLEARING.
func (s *Server) Hangup(uuid, cause string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[uuid]
	if !ok {
		return fmt.Errorf("hangup %s: no such channel", uuid)
	}
	if !validCause(cause) {
		cause = "NORMAL_CLEARING"
	}
	ch.hangup(cause)
	return nil
}

// SendDTMF makes digits arrive on channel uuid (DTMF events; group_confirm and
// play_and_get_digits see them).
func (s *Server) SendDTMF(uuid, digits string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[uuid]
	if !ok {
		return fmt.Errorf("dtmf %s: no such channel", uuid)
	}
	ch.receiveDTMF(digits, "UNKNOWN")
	return nil
}

// Variable returns a live channel's variable.
func (s *Server) Variable(uuid, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[uuid]
	if !ok {
		return "", false
	}
	return ch.vars.get(name)
}

// Channels lists the live channels as uuid → name.
func (s *Server) Channels() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, ch := range s.channels {
		out[id] = ch.Name
	}
	return out
}
