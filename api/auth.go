package api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// Scopes (DESIGN.md §3): a token sees everything, one site, or one user's own sheet.
//
//   - all: every route.
//   - site S: read site S; read and write the users of S (a user may not be moved out of
//     S, nor created elsewhere); their audit; read the media library.
//   - user U (self-service): read U's sheet and audit, the shortcuts, U's PIN, and
//     PUT/PATCH of U's sheet except the fields an operator assigns (selfLocked).
//
// A valid token outside its scope gets 403; lists are filtered to the scope.

type tokenKey struct{}

func withToken(ctx context.Context, t *config.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// caller returns the token of an authenticated request.
func caller(r *http.Request) *config.Token {
	t, _ := r.Context().Value(tokenKey{}).(*config.Token)
	return t
}

// actor names the caller in the audit log.
func actor(r *http.Request) string {
	if t := caller(r); t != nil {
		return t.Name
	}
	return "anonymous"
}

var errNoToken = &apiError{status: http.StatusUnauthorized, code: CodeUnauthorized,
	message: "a bearer token is required (Authorization: Bearer <token>)"}
var errBadToken = &apiError{status: http.StatusUnauthorized, code: CodeUnauthorized,
	message: "the token is not valid"}

func errForbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: CodeForbidden, message: msg}
}

// authenticate returns the token of r's bearer secret.
func (s *Server) authenticate(r *http.Request) (*config.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, errNoToken
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, errBadToken
	}
	tok, err := s.store.Authenticate(r.Context(), config.Secret(strings.TrimSpace(secret)))
	if errors.Is(err, config.ErrNotFound) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	return tok, nil
}

func isAll(t *config.Token) bool { return t.Scope.Kind == config.ScopeAll }

// canReadSite reports whether t may read site id.
func canReadSite(t *config.Token, id string) bool {
	return isAll(t) || (t.Scope.Kind == config.ScopeSite && t.Scope.ID == id)
}

// checkUser returns 403 unless t may act on the user u (as stored, or as written).
func checkUser(t *config.Token, u *config.Sheet) error {
	switch t.Scope.Kind {
	case config.ScopeAll:
		return nil
	case config.ScopeSite:
		if u.Site == t.Scope.ID {
			return nil
		}
		return errForbidden("this token is scoped to site " + t.Scope.ID)
	case config.ScopeUser:
		if u.ID == t.Scope.ID {
			return nil
		}
		return errForbidden("this token is scoped to user " + t.Scope.ID + "'s own sheet")
	}
	return errForbidden("unknown token scope")
}

// checkUserID is checkUser for a user not loaded yet: a self token is checked on the id
// alone, so it learns nothing about other users, not even whether they exist.
func checkUserID(t *config.Token, id string) error {
	if t.Scope.Kind == config.ScopeUser && t.Scope.ID != id {
		return errForbidden("this token is scoped to user " + t.Scope.ID + "'s own sheet")
	}
	return nil
}

// selfLocked lists the sheet fields an operator assigns: a self-service token may not
// change them.
var selfLocked = []struct {
	path string
	get  func(*config.Sheet) any
}{
	{"id", func(s *config.Sheet) any { return s.ID }},
	{"site", func(s *config.Sheet) any { return s.Site }},
	{"name", func(s *config.Sheet) any { return s.Name }},
	{"main_number", func(s *config.Sheet) any { return s.MainNumber }},
	{"associated_numbers", func(s *config.Sheet) any { return s.AssociatedNumbers }},
	{"device", func(s *config.Sheet) any { return s.Device }},
	{"advanced.max_simultaneous_calls", func(s *config.Sheet) any { return s.Advanced.MaxSimultaneousCalls }},
}

// checkSelfEdit returns 403 naming each operator field a self-service token changed.
// new is compared in canonical form (numbers in E.164, parsed in region, the site's), so
// a number written another way is no change.
func checkSelfEdit(t *config.Token, old, new *config.Sheet, region string) error {
	if t.Scope.Kind != config.ScopeUser {
		return nil
	}
	canon := *new
	canon.AssociatedNumbers = append([]config.AssociatedNumber(nil), new.AssociatedNumbers...)
	if new.Device != nil {
		d := *new.Device
		canon.Device = &d
	}
	canon.Normalize(region)
	var fields []FieldError
	for _, f := range selfLocked {
		if !reflect.DeepEqual(normEmpty(f.get(old)), normEmpty(f.get(&canon))) {
			fields = append(fields, FieldError{f.path, "set by an operator; a self-service token may not change it"})
		}
	}
	if fields == nil {
		return nil
	}
	e := errForbidden("a self-service token may not change these fields")
	e.fields = fields
	return e
}

// normEmpty makes a nil and an empty list of numbers compare equal.
func normEmpty(v any) any {
	if l, ok := v.([]config.AssociatedNumber); ok && len(l) == 0 {
		return []config.AssociatedNumber(nil)
	}
	return v
}
