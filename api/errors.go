package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Error codes: the stable "code" of an error body (README.md, "Errors"). Scripts branch
// on the code; the message is for people and may change.
const (
	CodeBadRequest       = "bad_request"            // 400: malformed JSON, bad query parameter
	CodeUnauthorized     = "unauthorized"           // 401: no token, or not a valid one
	CodeForbidden        = "forbidden"              // 403: a valid token outside its scope
	CodeNotFound         = "not_found"              // 404
	CodeMethodNotAllowed = "method_not_allowed"     // 405, with Allow
	CodeConflict         = "version_conflict"       // 409: stale version or If-Match, or already exists
	CodeInUse            = "in_use"                 // 409: still referenced (fields name who)
	CodeTooLarge         = "payload_too_large"      // 413
	CodeUnsupportedMedia = "unsupported_media_type" // 415: not JSON, not a PCM WAV
	CodeInvalid          = "invalid"                // 422: fields lists every problem
	CodeInternal         = "internal"               // 500: details are in sophiad's log only
	CodeUnavailable      = "unavailable"            // 503: the store does not answer
)

// ErrorBody is the JSON of every error the API answers:
//
//	{"error": {"code": "invalid", "message": "…", "fields": [{"path": "…", "reason": "…"}]}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's code, message and, for a refused input, each field's problem.
type ErrorDetail struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

// FieldError names one problem of an input: Path uses the API's JSON names
// ("forwards.no_answer.timeout_s"), "" for the input as a whole.
type FieldError struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// apiError is an error the API answers as is.
type apiError struct {
	status  int
	code    string
	message string
	fields  []FieldError
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalid(path, reason string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: CodeInvalid,
		message: "the request is invalid", fields: []FieldError{{path, reason}}}
}

var errNotFound = errorf(http.StatusNotFound, CodeNotFound, "no such resource")

// writeError answers err. Every error leaves the API through here, so none carries a Go
// error string or a stack: anything not known to be the client's fault is logged with its
// cause and answered as a generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = s.classify(err)
	}
	if ae == nil {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, CodeInternal, "internal error; the cause is in sophiad's log")
	}
	if ae == errNotFound {
		ae = errorf(http.StatusNotFound, CodeNotFound, "%s", notFoundMessage(r))
	}
	body := ErrorBody{Error: ErrorDetail{Code: ae.code, Message: ae.message, Fields: ae.fields}}
	writeJSON(w, ae.status, body)
}

// classify maps the errors of the request machinery and of the store to answers; nil
// means an internal error.
func (s *Server) classify(err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the body is larger than %d bytes", mbe.Limit)
	}
	if ae := classifyStore(err); ae != nil {
		return ae
	}
	if storeDown(err) {
		s.log.Warn("the store does not answer", "err", err)
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "the settings store does not answer; retry later")
	}
	return nil
}

// storeDown reports whether err says Redis could not be reached (as opposed to a bug).
func storeDown(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// notFoundMessage names what a route did not find: "user alice does not exist".
func notFoundMessage(r *http.Request) string {
	_, path, _ := strings.Cut(r.Pattern, " ")
	kinds := map[string]string{"users": "user", "sites": "site", "media": "media file", "tokens": "token"}
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	kind, ok := kinds[parts[0]]
	id := r.PathValue("id")
	if id == "" {
		id = r.PathValue("name")
	}
	if !ok || id == "" {
		return "no such resource"
	}
	msg := kind + " " + id + " does not exist"
	if r.Method == http.MethodPut && len(parts) == 2 {
		msg += " (a PUT without a version creates it)"
	}
	return msg
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our own types always marshal; a failure is a bug, answered without detail.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
