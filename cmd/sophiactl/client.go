package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sophia-pbx/sophia/api"
)

// client talks to sophiad's admin API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newClient(rawURL, token string, timeout time.Duration) (*client, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want http://host:port or https://host:port", rawURL)
	}
	return &client{base: u, token: token, http: &http.Client{Timeout: timeout}}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status int
	Body   api.ErrorDetail
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d)", e.Body.Message, e.Status)
	for _, f := range e.Body.Fields {
		if f.Path == "" {
			fmt.Fprintf(&b, "\n  %s", f.Reason)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s", f.Path, f.Reason)
		}
	}
	return b.String()
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	ifMatch      string
}

// do sends req and returns the answer's body and headers; an error answer is *apiError.
func (c *client) do(ctx context.Context, req request) ([]byte, http.Header, error) {
	u := *c.base
	u.Path += req.path
	u.RawQuery = req.query.Encode()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if req.ifMatch != "" {
		hr.Header.Set("If-Match", `"`+strings.Trim(req.ifMatch, `"`)+`"`)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach sophiad at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer of %s %s: %w", req.method, req.path, err)
	}
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error = api.ErrorDetail{Code: "http", Message: strings.TrimSpace(http.StatusText(resp.StatusCode))}
		}
		return nil, resp.Header, &apiError{Status: resp.StatusCode, Body: eb.Error}
	}
	return b, resp.Header, nil
}

// getJSON calls and decodes a JSON answer into v.
func (c *client) getJSON(ctx context.Context, req request, v any) (http.Header, error) {
	b, h, err := c.do(ctx, req)
	if err != nil {
		return h, err
	}
	if v != nil && len(b) > 0 {
		if err := json.Unmarshal(b, v); err != nil {
			return h, fmt.Errorf("the answer of %s %s is not what sophiactl expects: %w", req.method, req.path, err)
		}
	}
	return h, nil
}

func pathEscape(s string) string { return url.PathEscape(s) }

// statusOf returns the HTTP status of an API error, 0 for any other error.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
