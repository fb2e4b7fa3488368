package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cyari "github.com/CyCoreSystems/ari/v6"

	"github.com/sophia-pbx/sophia/config"
)

// rest is the ARI REST client of the call path. ari/v6's native client takes no context
// and sets no timeout (a hung Asterisk would hold a call's goroutine, and shutdown,
// forever), cannot pass variables to /channels/create (one round trip instead of one per
// variable before the dial) nor hang up with a Q.850 reason_code (cause 20 "subscriber
// absent", 52 "barred"), and keeps Asterisk's error message out of its errors. This one
// does all that and speaks ari/v6's data types.
type rest struct {
	base string // http://host:8088/ari
	user string
	pass config.Secret
	hc   *http.Client
}

// restError is a non-2xx answer of Asterisk, with its message.
type restError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *restError) Error() string {
	return fmt.Sprintf("ARI %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// statusOf returns the HTTP status of an ARI error (0 when it is no answer of Asterisk).
func statusOf(err error) int {
	var re *restError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

func (r *rest) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("ARI %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(r.user, string(r.pass))
	res, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("ARI %s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var eb struct{ Message, Error string }
		_ = json.Unmarshal(data, &eb)
		msg := eb.Message
		if msg == "" {
			msg = eb.Error
		}
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		return &restError{Method: method, Path: path, Status: res.StatusCode, Message: msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ARI %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// createLeg is POST /channels/create: a channel to endpoint, in Stasis(app, args) once
// created, its variables set at creation (CONNECTEDLINE, REDIRECTING…).
func (r *rest) createLeg(ctx context.Context, id, endpoint, app, args, originator string, vars map[string]string) error {
	body := map[string]any{"endpoint": endpoint, "app": app, "appArgs": args, "channelId": id}
	if originator != "" {
		body["originator"] = originator
	}
	if len(vars) > 0 {
		body["variables"] = vars
	}
	return r.do(ctx, http.MethodPost, "/channels/create", nil, body, nil)
}

func (r *rest) dial(ctx context.Context, id string, timeoutS int) error {
	q := url.Values{}
	if timeoutS > 0 {
		q.Set("timeout", strconv.Itoa(timeoutS))
	}
	return r.do(ctx, http.MethodPost, "/channels/"+id+"/dial", q, nil, nil)
}

// hangup hangs channel id up with a Q.850 cause.
func (r *rest) hangup(ctx context.Context, id string, q850 int) error {
	return r.do(ctx, http.MethodDelete, "/channels/"+id, url.Values{"reason_code": {strconv.Itoa(q850)}}, nil, nil)
}

func (r *rest) answer(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodPost, "/channels/"+id+"/answer", nil, nil, nil)
}

func (r *rest) ring(ctx context.Context, id string, on bool) error {
	m := http.MethodPost
	if !on {
		m = http.MethodDelete
	}
	return r.do(ctx, m, "/channels/"+id+"/ring", nil, nil, nil)
}

func (r *rest) play(ctx context.Context, chanID, playbackID, media string) error {
	return r.do(ctx, http.MethodPost, "/channels/"+chanID+"/play/"+playbackID, url.Values{"media": {media}}, nil, nil)
}

func (r *rest) stopPlayback(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, "/playbacks/"+id, nil, nil, nil)
}

func (r *rest) setVar(ctx context.Context, id, name, value string) error {
	return r.do(ctx, http.MethodPost, "/channels/"+id+"/variable", url.Values{"variable": {name}, "value": {value}}, nil, nil)
}

func (r *rest) createBridge(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodPost, "/bridges/"+id, url.Values{"type": {"mixing"}}, nil, nil)
}

func (r *rest) addChannels(ctx context.Context, bridge string, ids ...string) error {
	return r.do(ctx, http.MethodPost, "/bridges/"+bridge+"/addChannel", url.Values{"channel": {strings.Join(ids, ",")}}, nil, nil)
}

func (r *rest) destroyBridge(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, "/bridges/"+id, nil, nil, nil)
}

func (r *rest) continueInDialplan(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodPost, "/channels/"+id+"/continue", nil, nil, nil)
}

func (r *rest) channels(ctx context.Context) ([]cyari.ChannelData, error) {
	var out []cyari.ChannelData
	return out, r.do(ctx, http.MethodGet, "/channels", nil, nil, &out)
}

func (r *rest) endpoints(ctx context.Context) ([]cyari.EndpointData, error) {
	var out []cyari.EndpointData
	return out, r.do(ctx, http.MethodGet, "/endpoints", nil, nil, &out)
}

func (r *rest) subscribe(ctx context.Context, app string, sources []string) error {
	return r.do(ctx, http.MethodPost, "/applications/"+url.PathEscape(app)+"/subscription", url.Values{"eventSource": sources}, nil, nil)
}

func (r *rest) setDeviceState(ctx context.Context, name, state string) error {
	return r.do(ctx, http.MethodPut, "/deviceStates/"+url.PathEscape(name), url.Values{"deviceState": {state}}, nil, nil)
}

func (r *rest) info(ctx context.Context) error {
	return r.do(ctx, http.MethodGet, "/asterisk/info", nil, nil, nil)
}

// newHTTPClient is the REST client's transport: enough idle connections for bursts of
// calls, and a bound on every request.
func newHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	return &http.Client{Transport: t, Timeout: timeout}
}
