package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
)

// The OpenAPI 3.1 document of the API, served at /v1/openapi.json. Operations are
// written out below, one by one (docs); body schemas are derived from the Go types the
// handlers decode and answer, so they cannot drift from the code. TestOpenAPIMatchesMux
// keeps docs and the mux in step, both ways.

type docOp struct {
	method, path, summary string
	access                access
	query                 []docParam
	body                  string // schema name of the request body; "wav" for a file
	bodyType              string // its content type (default application/json)
	status                int    // success status
	answer                string // schema name of the answer; "" for none; "wav"
	errors                []int  // error statuses beyond 401/403/500
	notModified           bool   // takes If-None-Match and may answer 304
}

type docParam struct{ name, schema, desc string }

var (
	pageQuery  = []docParam{{"limit", "integer", "page size, 1–500 (default 100)"}, {"after", "string", "the next of the previous page"}}
	userQuery  = append([]docParam{{"site", "string", "only users of this site"}, {"name", "string", "only users whose name contains this (case-insensitive)"}, {"number", "string", "only the user holding this number (main or associated)"}}, pageQuery...)
	callsQuery = []docParam{{"limit", "integer", "calls, newest first, 1–500 (default 50; the store keeps a bounded number per user)"}}
	routeQuery = []docParam{
		{"at", "string", "when the call happens, RFC 3339 (default: now)"},
		{"from", "string", "the caller's number (default: withheld)"},
		{"to", "string", "the number dialed (default: the user's main number)"},
		{"active", "integer", "the user's calls in progress (default 0)"},
		{"respond", "string", "repeatable: <target>=<answer|no_answer|busy|offline>, target user:<id> (that user's device) or a number; default no_answer, a device not named is online"},
	}
	auditQuery = []docParam{{"limit", "integer", "entries, newest first, 1–500 (default 50; the store keeps a bounded number)"}}
)

var docs = []docOp{
	{method: "GET", path: "/healthz", summary: "The process is up.", access: public, status: 200, answer: "Health"},
	{method: "GET", path: "/readyz", summary: "Ready to serve: every readiness check (the store, later each PBX link) passes; 503 otherwise.", access: public, status: 200, answer: "ReadyStatus", errors: []int{503}},
	{method: "GET", path: "/metrics", summary: "Prometheus metrics (text exposition format).", access: public, status: 200, answer: "text"},
	{method: "GET", path: "/v1/openapi.json", summary: "This document.", access: public, status: 200, answer: "object"},
	{method: "GET", path: "/v1/whoami", summary: "The calling token (never its secret).", access: token, status: 200, answer: "Token"},

	{method: "GET", path: "/v1/sites", summary: "List sites, by id (a site token sees its own site only).", access: token, query: pageQuery, status: 200, answer: "SitePage", errors: []int{400}},
	{method: "GET", path: "/v1/sites/{id}", summary: "Get a site; ETag is its version.", access: token, status: 200, answer: "Site", errors: []int{404}},
	{method: "PUT", path: "/v1/sites/{id}", summary: "Create (version 0) or replace (version = the stored one, in If-Match or the body) a site.", access: admin, body: "Site", status: 200, answer: "Site", errors: []int{400, 409, 413, 415, 422}},
	{method: "PATCH", path: "/v1/sites/{id}", summary: "Change a site with a JSON merge patch (RFC 7396); If-Match optional.", access: admin, body: "object", bodyType: "application/merge-patch+json", status: 200, answer: "Site", errors: []int{400, 404, 409, 413, 415, 422}},
	{method: "DELETE", path: "/v1/sites/{id}", summary: "Delete a site (refused while it has users); If-Match optional.", access: admin, status: 204, errors: []int{400, 404, 409}},
	{method: "GET", path: "/v1/sites/{id}/audit", summary: "The site's audit log, newest first.", access: token, query: auditQuery, status: 200, answer: "AuditPage", errors: []int{400}},

	{method: "GET", path: "/v1/users", summary: "List users, by id, filtered (a scoped token sees only its scope).", access: token, query: userQuery, status: 200, answer: "SheetPage", errors: []int{400}},
	{method: "GET", path: "/v1/users/{id}", summary: "Get a user's sheet; ETag is its version. With If-None-Match naming the current version: 304, no body (a cheap poll for changes).", access: token, status: 200, answer: "Sheet", errors: []int{404}, notModified: true},
	{method: "PUT", path: "/v1/users/{id}", summary: "Create (version 0) or replace (version = the stored one, in If-Match or the body) a user's sheet. 201 when created.", access: token, body: "Sheet", status: 200, answer: "Sheet", errors: []int{400, 409, 413, 415, 422}},
	{method: "PATCH", path: "/v1/users/{id}", summary: "Change a sheet with a JSON merge patch (RFC 7396), atomically on the stored sheet; If-Match (or a version in the patch) optional.", access: token, body: "object", bodyType: "application/merge-patch+json", status: 200, answer: "Sheet", errors: []int{400, 404, 409, 413, 415, 422}},
	{method: "DELETE", path: "/v1/users/{id}", summary: "Delete a user; If-Match optional.", access: token, status: 204, errors: []int{400, 404, 409}},
	{method: "GET", path: "/v1/users/{id}/audit", summary: "The user's audit log, newest first: who, when, which fields.", access: token, query: auditQuery, status: 200, answer: "AuditPage", errors: []int{400, 404}},
	{method: "GET", path: "/v1/users/{id}/calls", summary: "The user's call log, newest first: each call's end with its outcome (answered by whom, voicemail, busy, unavailable, missed with the reason).", access: token, query: callsQuery, status: 200, answer: "CallPage", errors: []int{400, 404}},
	{method: "GET", path: "/v1/users/{id}/route", summary: "Explain where a call to the user goes now (or under the query's hypotheses), step by step with the rule that fired: the executor the PBX adapters run, on a simulated PBX. Nothing is written.", access: token, query: routeQuery, status: 200, answer: "Explanation", errors: []int{400, 404}},
	{method: "GET", path: "/v1/users/{id}/advice", summary: "Check the sheet against good practice (ghost calls, lost calls, full mailboxes, forward loops…): code, severity, field, message per item.", access: token, status: 200, answer: "AdviceAnswer", errors: []int{404}},
	{method: "PUT", path: "/v1/users/{id}/voicemail/pin", summary: "Set the voicemail PIN (write-only: stored hashed, never returned).", access: token, body: "PINRequest", status: 204, errors: []int{400, 404, 413, 415, 422}},
	{method: "POST", path: "/v1/users/{id}/dnd/on", summary: "Turn do-not-disturb on.", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "POST", path: "/v1/users/{id}/dnd/off", summary: "Turn do-not-disturb off.", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "PUT", path: "/v1/users/{id}/forwards/{kind}", summary: "Set a forward's target(s) and turn it on. kind: unconditional, no_answer, not_connected, busy, simultaneous_ring.", access: token, body: "ForwardRequest", status: 200, answer: "Sheet", errors: []int{400, 404, 409, 413, 415, 422}},
	{method: "DELETE", path: "/v1/users/{id}/forwards/{kind}", summary: "Clear a forward: off, target(s) forgotten.", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "POST", path: "/v1/users/{id}/forwards/{kind}/on", summary: "Turn a forward on (its target must be set).", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "POST", path: "/v1/users/{id}/forwards/{kind}/off", summary: "Turn a forward off (its target is kept).", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "POST", path: "/v1/users/{id}/forwards/scheduled/{index}/on", summary: "Turn scheduled rule {index} (from 0) on.", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},
	{method: "POST", path: "/v1/users/{id}/forwards/scheduled/{index}/off", summary: "Turn scheduled rule {index} (from 0) off.", access: token, status: 200, answer: "Sheet", errors: []int{400, 404, 409, 422}},

	{method: "GET", path: "/media/{file}", summary: "A media file as <name>.wav without a token, for the PBX's HTTP media cache (only when sophiad runs a PBX link; 404 otherwise).", access: public, status: 200, answer: "wav", errors: []int{404}},
	{method: "GET", path: "/v1/media", summary: "List the media library.", access: token, status: 200, answer: "MediaPage"},
	{method: "GET", path: "/v1/media/{name}", summary: "Download a media file (audio/wav; Range supported).", access: token, status: 200, answer: "wav", errors: []int{404}},
	{method: "PUT", path: "/v1/media/{name}", summary: "Upload a media file: a WAV of PCM audio (anything else: 415 or 422).", access: admin, body: "wav", bodyType: "audio/wav", status: 201, answer: "MediaInfo", errors: []int{413, 415, 422}},
	{method: "DELETE", path: "/v1/media/{name}", summary: "Delete a media file; 409 naming the users whose sheet uses it.", access: admin, status: 204, errors: []int{404, 409}},

	{method: "GET", path: "/v1/tokens", summary: "List API tokens (never their secrets).", access: admin, status: 200, answer: "TokenPage"},
	{method: "POST", path: "/v1/tokens", summary: "Create a token; the answer holds its secret, shown this once.", access: admin, body: "TokenRequest", status: 201, answer: "NewToken", errors: []int{400, 413, 415, 422}},
	{method: "DELETE", path: "/v1/tokens/{name}", summary: "Delete a token (tokens are named uniquely).", access: admin, status: 204, errors: []int{404}},
}

// docTypes are the schemas of components/schemas, derived from the Go types.
var docTypes = map[string]reflect.Type{
	"Sheet":       reflect.TypeFor[config.Sheet](),
	"Site":        reflect.TypeFor[config.Site](),
	"Token":       reflect.TypeFor[config.Token](),
	"Scope":       reflect.TypeFor[config.Scope](),
	"MediaInfo":   reflect.TypeFor[config.MediaInfo](),
	"AuditEntry":  reflect.TypeFor[config.AuditEntry](),
	"ErrorBody":   reflect.TypeFor[ErrorBody](),
	"ReadyStatus": reflect.TypeFor[ReadyStatus](),
	"Health": reflect.TypeFor[struct {
		Status string `json:"status"`
	}](),
	"PINRequest":     reflect.TypeFor[PINRequest](),
	"ForwardRequest": reflect.TypeFor[ForwardRequest](),
	"TokenRequest":   reflect.TypeFor[TokenRequest](),
	"NewToken":       reflect.TypeFor[NewToken](),
	"SitePage":       reflect.TypeFor[Page[*config.Site]](),
	"SheetPage":      reflect.TypeFor[Page[*config.Sheet]](),
	"AuditPage":      reflect.TypeFor[Page[config.AuditEntry]](),
	"CallPage":       reflect.TypeFor[Page[config.CallRecord]](),
	"Explanation":    reflect.TypeFor[callflow.Explanation](),
	"AdviceAnswer":   reflect.TypeFor[AdviceAnswer](),
	"MediaPage":      reflect.TypeFor[Page[*config.MediaInfo]](),
	"TokenPage":      reflect.TypeFor[Page[*config.Token]](),
}

var statusText = map[int]string{
	400: "Bad request (code bad_request)", 401: "No token, or not a valid one (unauthorized)",
	403: "A valid token outside its scope (forbidden)", 404: "Not found (not_found)",
	409: "Stale version, already exists, or still in use (version_conflict, in_use)",
	413: "Body too large (payload_too_large)", 415: "Content-Type not accepted (unsupported_media_type)",
	422: "Invalid input: fields lists every problem (invalid)", 500: "Internal error (internal)",
	503: "Not ready, or the settings store does not answer (unavailable)",
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	openAPIOnce.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic(err) // maps of strings and numbers: cannot fail
		}
		openAPIDoc = b
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func buildOpenAPI() obj {
	paths := obj{}
	for _, d := range docs {
		p, _ := paths[d.path].(obj)
		if p == nil {
			p = obj{}
			paths[d.path] = p
		}
		op := obj{"summary": d.summary, "operationId": operationID(d)}
		var params []obj
		for _, seg := range strings.Split(d.path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				params = append(params, obj{"name": name, "in": "path", "required": true, "schema": obj{"type": "string"}})
			}
		}
		for _, q := range d.query {
			params = append(params, obj{"name": q.name, "in": "query", "description": q.desc, "schema": obj{"type": q.schema}})
		}
		versioned := strings.HasPrefix(d.path, "/v1/users/") || strings.HasPrefix(d.path, "/v1/sites/")
		if versioned && d.method != "GET" && !strings.HasSuffix(d.path, "/pin") {
			params = append(params, obj{"name": "If-Match", "in": "header", "description": `the version this write applies to, as a GET's ETag ("3"); stale: 409`, "schema": obj{"type": "string"}})
		}
		if d.notModified {
			params = append(params, obj{"name": "If-None-Match", "in": "header", "description": `the ETag the caller holds ("3"); still current: 304 without a body`, "schema": obj{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if d.body != "" {
			ct := d.bodyType
			if ct == "" {
				ct = "application/json"
			}
			op["requestBody"] = obj{"required": true, "content": obj{ct: obj{"schema": schemaRef(d.body)}}}
		}
		responses := obj{}
		ok := obj{"description": http.StatusText(d.status)}
		switch d.answer {
		case "":
		case "wav":
			ok["content"] = obj{"audio/wav": obj{"schema": obj{"type": "string", "format": "binary"}}}
		case "text":
			ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string"}}}
		default:
			ok["content"] = obj{"application/json": obj{"schema": schemaRef(d.answer)}}
		}
		responses[strconv.Itoa(d.status)] = ok
		if d.notModified {
			responses["304"] = obj{"description": "Not modified: If-None-Match names the current version"}
		}
		errs := d.errors
		if d.access != public {
			errs = append([]int{401, 403}, errs...)
		}
		errs = append(errs, 500)
		if d.access != public {
			errs = append(errs, 503) // the store does not answer
		}
		for _, code := range errs {
			responses[strconv.Itoa(code)] = obj{"description": statusText[code],
				"content": obj{"application/json": obj{"schema": ref("ErrorBody")}}}
		}
		op["responses"] = responses
		if d.access != public {
			op["security"] = []obj{{"bearer": []string{}}}
		}
		if d.access == admin {
			op["description"] = `Needs a token of scope "all".`
		}
		p[strings.ToLower(d.method)] = op
	}
	schemas := obj{}
	for name, t := range docTypes {
		schemas[name] = schemaOf(t, false)
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{"title": "sophia admin API", "version": "1",
			"description": "Users' telephony settings (the sheet), sites, media, tokens. Errors: " +
				`{"error":{"code","message","fields":[{"path","reason"}]}}. Lists page with limit/after/next.`},
		"paths":      paths,
		"components": obj{"schemas": schemas, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}}},
	}
}

func schemaRef(name string) obj {
	switch name {
	case "object":
		return obj{"type": "object"}
	case "wav":
		return obj{"type": "string", "format": "binary"}
	}
	return ref(name)
}

func operationID(d docOp) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(d.method))
	for _, seg := range strings.Split(d.path, "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '_' || r == '.' || r == '-' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	secretType = reflect.TypeFor[config.Secret]()
)

// schemaOf derives a JSON schema from t and its json tags. Named types of docTypes are
// referenced, others inlined; structs admit no other property (decoding is strict).
func schemaOf(t reflect.Type, allowRef bool) obj {
	if allowRef {
		for name, dt := range docTypes {
			if dt == t && t.Kind() == reflect.Struct {
				return ref(name)
			}
		}
	}
	switch {
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t == secretType:
		return obj{"type": "string", "writeOnly": true}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), true)
		return obj{"anyOf": []obj{s, {"type": "null"}}}
	case reflect.Struct:
		props := obj{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, true)
		}
		return obj{"type": "object", "properties": props, "additionalProperties": false}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return obj{"type": "string", "contentEncoding": "base64"}
		}
		return obj{"type": "array", "items": schemaOf(t.Elem(), true)}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": schemaOf(t.Elem(), true)}
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Interface:
		return obj{}
	}
	return obj{}
}
