package esl

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/switchboard"
)

// Defaults of the media FreeSWITCH plays when a sheet names none.
const (
	// DefaultBusyTone is a busy tone (480+620 Hz, 0.5 s on, 0.5 s off, 4 times).
	DefaultBusyTone = "tone_stream://%(500,500,480,620);loops=4"
	// DefaultUnavailableTone is the special information tone that announces a number
	// that cannot be reached (ITU-T E.180: 913.8, 1370.6, 1776.7 Hz), played twice.
	DefaultUnavailableTone = "tone_stream://%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7);loops=2"
	// DefaultConfirmPrompt asks whoever answers a "press 1 to accept" leg to press 1
	// (FreeSWITCH's sounds package).
	DefaultConfirmPrompt = "ivr/ivr-accept_reject_voicemail.wav"
)

// Options configure an Adapter. Board and Store are required, and at least one of
// Listen/Listener (the outbound socket calls arrive on) and Addr (FreeSWITCH's own Event
// Socket); every other zero value is the production default.
type Options struct {
	// Listen is where FreeSWITCH's `socket` application connects ("127.0.0.1:8084");
	// Listener, when set, is used instead (already listening: tests, socket activation).
	Listen   string
	Listener net.Listener
	// Addr is FreeSWITCH's Event Socket ("127.0.0.1:8021") for registrations, presence
	// and API commands; Password its password (event_socket.conf.xml).
	Addr     string
	Password config.Secret
	// Gateway is the dial string template for numbers, "{number}" standing for the
	// number: "sofia/gateway/trunk/{number}". Empty: numbers cannot be dialed
	// (unreachable).
	Gateway string
	// Media is where FreeSWITCH finds the media library: an http(s) base URL served by
	// sophiad ("http://10.0.0.5:8080/media" → http_cache://http://10.0.0.5:8080/media/<name>.wav,
	// fetched and cached by mod_http_cache) or a directory FreeSWITCH shares with
	// sophiad ("/var/lib/sophia/media" → /var/lib/sophia/media/<name>.wav).
	Media string
	// Domain is the SIP domain of presence and of the Diversion header's host; "" =
	// FreeSWITCH's own global "domain" variable, read at each connection.
	Domain string

	Board      *switchboard.Board
	Store      *config.Store
	Registerer prometheus.Registerer // nil: a private registry
	Logger     *slog.Logger          // nil discards

	// BusyTone, UnavailableTone: what plays when a sheet names no busy sound, and for
	// the unavailable announcement. ConfirmPrompt: the "press 1" prompt of confirm legs.
	BusyTone, UnavailableTone, ConfirmPrompt string
	// CommandTimeout bounds each command's reply (default 5 s).
	CommandTimeout time.Duration
	// MinBackoff and MaxBackoff bound the inbound reconnection delay (100 ms, 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Grace is how long calls in flight may go on at shutdown (default 10 s): then their
	// sockets close and FreeSWITCH hangs them up.
	Grace time.Duration
	// OnCallEnd, when set, is called once a call has ended and its socket is closed
	// (tests, the load tool).
	OnCallEnd func(callID string, res *switchboard.Result)
}

// Check reports what is wrong with the connection settings (listen, addr, password,
// gateway, media), all at once: sophiad's --check-config.
func (o Options) Check() error { return o.validate() }

func (o *Options) validate() error {
	var ps []string
	if o.Listen == "" && o.Listener == nil && o.Addr == "" {
		ps = append(ps, "listen or addr: at least one is required")
	}
	if o.Listen != "" {
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			ps = append(ps, fmt.Sprintf("listen %q: want host:port", o.Listen))
		}
	}
	if o.Addr != "" {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			ps = append(ps, fmt.Sprintf("addr %q: want host:port", o.Addr))
		}
		if o.Password == "" {
			ps = append(ps, "password: required with addr")
		}
	}
	if o.Gateway != "" && (!strings.Contains(o.Gateway, "{number}") || !strings.Contains(o.Gateway, "/")) {
		ps = append(ps, fmt.Sprintf("gateway %q: want a dial string with {number}, e.g. sofia/gateway/trunk/{number}", o.Gateway))
	}
	if o.Media != "" {
		if u, err := url.Parse(o.Media); strings.HasPrefix(o.Media, "http") && (err != nil || u.Host == "") {
			ps = append(ps, fmt.Sprintf("media %q: want http(s)://host[:port]/path", o.Media))
		} else if !strings.HasPrefix(o.Media, "http://") && !strings.HasPrefix(o.Media, "https://") && !strings.HasPrefix(o.Media, "/") {
			ps = append(ps, fmt.Sprintf("media %q: want an http(s) URL or an absolute directory", o.Media))
		}
	}
	if ps != nil {
		return errors.New("esl: " + strings.Join(ps, "; "))
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BusyTone == "" {
		o.BusyTone = DefaultBusyTone
	}
	if o.UnavailableTone == "" {
		o.UnavailableTone = DefaultUnavailableTone
	}
	if o.ConfirmPrompt == "" {
		o.ConfirmPrompt = DefaultConfirmPrompt
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	return nil
}

// mediaURI returns what FreeSWITCH plays for a library media name.
func (o *Options) mediaURI(name string) string {
	switch {
	case strings.Contains(name, "://") || strings.HasPrefix(name, "/"):
		return name // already a FreeSWITCH file string
	case strings.HasPrefix(o.Media, "http"):
		return "http_cache://" + strings.TrimRight(o.Media, "/") + "/" + url.PathEscape(name) + ".wav"
	case o.Media != "":
		return strings.TrimRight(o.Media, "/") + "/" + name + ".wav"
	}
	return name
}

// gatewayDial returns the dial string of a number through the gateway template.
func (o *Options) gatewayDial(number string) string {
	if o.Gateway == "" || number == "" {
		return ""
	}
	return strings.ReplaceAll(o.Gateway, "{number}", number)
}
