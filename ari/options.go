package ari

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/switchboard"
)

// Options configure an Adapter. URL, User, Password and Board are required; every other
// zero value is the production default.
type Options struct {
	// URL is Asterisk's ARI base, "http://127.0.0.1:8088" (the /ari path is added when
	// missing); the events WebSocket is derived from it (ws:// or wss://).
	URL      string
	User     string
	Password config.Secret
	// App is the Stasis application (default "sophia"): Stasis(sophia,inbound) and
	// Stasis(sophia,outbound) in extensions.conf.
	App string
	// Trunk is the dial string template for outside numbers, "{number}" standing for the
	// number: "PJSIP/{number}@trunk". Empty: outside legs cannot be dialed (unreachable).
	Trunk string
	// Media is where Asterisk finds the media library: an http(s) base URL served by
	// sophiad ("http://10.0.0.5:8080/media" → sound:http://10.0.0.5:8080/media/<name>.wav,
	// fetched by res_http_media_cache) or a directory Asterisk shares with sophiad
	// ("/var/lib/sophia/media" → sound:/var/lib/sophia/media/<name>).
	Media string
	// ConfirmPrompt is the media played to whoever answers a "press 1 to accept" leg
	// (default: Asterisk's sound:beep); ConfirmTimeoutS how long they have to press 1
	// (default 10 s).
	ConfirmPrompt   string
	ConfirmTimeoutS int

	Board      *switchboard.Board
	Registerer prometheus.Registerer // nil: a private registry
	Logger     *slog.Logger          // nil discards

	// Seconds turns Asterisk seconds (tones, confirm timeouts) into durations; tests
	// shrink them as the fake Asterisk's TimeScale does. nil: seconds.
	Seconds func(s int) time.Duration
	// RequestTimeout bounds each REST request (default 10 s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnection delay (default 100 ms, 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Grace is how long calls in flight may go on at shutdown (default 10 s).
	Grace time.Duration
	// OnCallEnd, when set, is called once a call has ended and its goroutine freed all
	// it held on Asterisk (tests, the load tool).
	OnCallEnd func(callID string, res *switchboard.Result)
	// EndpointResync is how often device states are read again from Asterisk (a device
	// Asterisk did not know when its sheet last changed gets subscribed then); default
	// 5 minutes. A sheet change naming a new device syncs at once.
	EndpointResync time.Duration
}

// Check reports what is wrong with the connection settings (URL, user, password, app,
// trunk, media), all at once: sophiad's --check-config.
func (o Options) Check() error { return o.validate() }

func (o *Options) validate() error {
	var ps []string
	if o.URL == "" {
		ps = append(ps, "url: required")
	} else if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps = append(ps, fmt.Sprintf("url %q: want http://host:port", o.URL))
	}
	if o.User == "" {
		ps = append(ps, "user: required")
	}
	if o.Password == "" {
		ps = append(ps, "password: required")
	}
	if o.App == "" {
		o.App = "sophia"
	}
	if strings.ContainsAny(o.App, " ,/?#") {
		ps = append(ps, fmt.Sprintf("app %q: no spaces, commas or slashes", o.App))
	}
	if o.Trunk != "" && (!strings.Contains(o.Trunk, "{number}") || !strings.Contains(o.Trunk, "/")) {
		ps = append(ps, fmt.Sprintf("trunk %q: want a dial string with {number}, e.g. PJSIP/{number}@trunk", o.Trunk))
	}
	if o.Media != "" && !strings.HasPrefix(o.Media, "http://") && !strings.HasPrefix(o.Media, "https://") && !strings.HasPrefix(o.Media, "/") {
		ps = append(ps, fmt.Sprintf("media %q: want an http(s) URL or an absolute directory", o.Media))
	}
	if ps != nil {
		return errors.New("ari: " + strings.Join(ps, "; "))
	}
	if o.ConfirmPrompt == "" {
		o.ConfirmPrompt = "sound:beep"
	}
	if o.ConfirmTimeoutS <= 0 {
		o.ConfirmTimeoutS = 10
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Seconds == nil {
		o.Seconds = func(s int) time.Duration { return time.Duration(s) * time.Second }
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
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
	if o.EndpointResync <= 0 {
		o.EndpointResync = 5 * time.Minute
	}
	return nil
}

// restBase returns the REST base URL (…/ari) and the events WebSocket URL.
func (o *Options) urls() (string, string) {
	base := strings.TrimRight(o.URL, "/")
	if !strings.HasSuffix(base, "/ari") {
		base += "/ari"
	}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/events?" + url.Values{"app": {o.App}}.Encode()
	return base, ws
}

// mediaURI returns the URI Asterisk plays for a library media name.
func (o *Options) mediaURI(name string) string {
	switch {
	case strings.Contains(name, ":"):
		return name // already a URI (sound:beep, tone:ring)
	case strings.HasPrefix(o.Media, "http"):
		return "sound:" + strings.TrimRight(o.Media, "/") + "/" + url.PathEscape(name) + ".wav"
	case o.Media != "":
		return "sound:" + strings.TrimRight(o.Media, "/") + "/" + name
	}
	return "sound:" + name
}

// dialString returns what to create for a leg's Dial: a device endpoint as stored, a
// number through the trunk template ("" when there is no trunk).
func (o *Options) trunkDial(number string) string {
	if o.Trunk == "" {
		return ""
	}
	return strings.ReplaceAll(o.Trunk, "{number}", number)
}
