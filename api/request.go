package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Paging: every list takes ?limit= (default 100, at most 500) and ?after= (the "next"
// of the previous page) and answers {"items": […], "next": "…"}; no next, no more.
const (
	defaultLimit = 100
	maxLimit     = 500
)

// Page is the body of every list.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func pageParams(r *http.Request) (after string, limit int, err error) {
	limit, err = limitParam(r, defaultLimit)
	return r.URL.Query().Get("after"), limit, err
}

// limitParam returns the ?limit= of r (def without one), from 1 to maxLimit.
func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		reason := fmt.Sprintf("must be a whole number from 1 to %d", maxLimit)
		return 0, &apiError{status: http.StatusBadRequest, code: CodeBadRequest,
			message: "limit " + reason, fields: []FieldError{{"limit", reason}}}
	}
	return n, nil
}

// readBody reads a body of at most limit bytes. JSON routes pass the types they take:
// another declared Content-Type is refused. No Content-Type, and curl's default for -d
// (application/x-www-form-urlencoded), are taken as JSON, so that `curl -d '{…}'` works;
// with bearer tokens (no cookies) this opens no cross-site door.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, jsonTypes ...string) ([]byte, error) {
	if len(jsonTypes) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			ok := err == nil && mt == "application/x-www-form-urlencoded"
			for _, t := range jsonTypes {
				ok = ok || (err == nil && mt == t)
			}
			if !ok {
				return nil, errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
					"Content-Type %q is not accepted here; send %s", ct, strings.Join(jsonTypes, " or "))
			}
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, errorf(http.StatusBadRequest, CodeBadRequest, "the body could not be read")
	}
	return b, nil
}

// decodeStrict decodes a small request body (not a sheet or a site, which the config
// package decodes): one JSON object, no unknown field.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return invalid("", "empty body: a JSON object is required")
		case errors.As(err, &ute):
			return invalid(ute.Field, "must be a JSON "+ute.Type.Kind().String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(f, "unknown field")
		}
		return errorf(http.StatusBadRequest, CodeBadRequest, "the body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, CodeBadRequest, "the body holds data after the JSON object")
	}
	return nil
}

// ifMatch returns the version an If-Match header asks for: 0 when there is none or it
// is "*" (any version).
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseInt(h, 10, 64)
	if err != nil || v < 1 {
		return 0, &apiError{status: http.StatusBadRequest, code: CodeBadRequest,
			message: `If-Match must be an ETag this API gave, e.g. "3"`,
			fields:  []FieldError{{"If-Match", "not a version"}}}
	}
	return v, nil
}

// wantVersion combines If-Match and a body's version: either may be given; both must
// then agree (one of them is stale otherwise).
func wantVersion(r *http.Request, body int64) (int64, error) {
	h, err := ifMatch(r)
	if err != nil {
		return 0, err
	}
	if h != 0 && body != 0 && h != body {
		return 0, errorf(http.StatusConflict, CodeConflict,
			"If-Match (%d) and the body's version (%d) differ", h, body)
	}
	if h != 0 {
		return h, nil
	}
	return body, nil
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
}

// noneMatch reports whether r's If-None-Match names version (or is "*"): the caller's
// copy is current, answer 304. RFC 9110 §13.1.2: a list of entity tags, compared weakly.
func noneMatch(r *http.Request, version int64) bool {
	h := r.Header.Get("If-None-Match")
	if h == "" {
		return false
	}
	want := strconv.FormatInt(version, 10)
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.Trim(strings.TrimPrefix(tag, "W/"), `"`) == want {
			return true
		}
	}
	return false
}

// readMergePatch reads a JSON merge patch of what ("a sheet", "a site") and the version
// it must apply to: If-Match, or a "version" in the patch (0: whatever is stored).
func (s *Server) readMergePatch(w http.ResponseWriter, r *http.Request, what string) ([]byte, int64, error) {
	body, err := readBody(w, r, s.opts.MaxBodyBytes, patchTypes...)
	if err != nil {
		return nil, 0, err
	}
	patch, err := decodeJSON(body)
	if err != nil {
		return nil, 0, errorf(http.StatusBadRequest, CodeBadRequest, "the body is not valid JSON")
	}
	obj, ok := patch.(map[string]any)
	if !ok {
		return nil, 0, invalid("", "a merge patch of "+what+" must be a JSON object")
	}
	var patchVersion int64
	if v, ok := obj["version"]; ok && v != nil {
		n, _ := v.(json.Number)
		pv, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || pv < 0 {
			return nil, 0, invalid("version", "must be a whole number")
		}
		patchVersion = pv
	}
	want, err := wantVersion(r, patchVersion)
	if err != nil {
		return nil, 0, err
	}
	return body, want, nil
}
