package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// userCalls answers a user's call log, newest first (bounded by the store).
func (s *Server) userCalls(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkUserID(caller(r), id); err != nil {
		return err
	}
	u, err := s.store.GetUser(r.Context(), id)
	gone := errors.Is(err, config.ErrNotFound)
	switch {
	case err == nil:
		if err := checkUser(caller(r), u); err != nil {
			return err
		}
	case errors.Is(err, config.ErrNotFound):
		// A deleted user's calls stay readable by whoever could read any user.
		if !isAll(caller(r)) && caller(r).Scope.Kind != config.ScopeUser {
			return errNotFound
		}
	default:
		return err
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return &apiError{status: http.StatusBadRequest, code: CodeBadRequest,
				message: "limit must be a whole number from 1 to 500",
				fields:  []FieldError{{"limit", "must be a whole number from 1 to 500"}}}
		}
		limit = n
	}
	calls, err := s.store.CallLog(r.Context(), id, limit)
	if err != nil {
		return err
	}
	if gone && len(calls) == 0 {
		return errNotFound
	}
	writeJSON(w, http.StatusOK, Page[config.CallRecord]{Items: calls})
	return nil
}

// publicMedia serves a media file without a token, as /media/<name>.wav, for the PBX's
// HTTP media cache (Asterisk's sound:http://…, FreeSWITCH's http_cache://…), which
// cannot send a bearer token. Only with Options.PublicMedia.
func (s *Server) publicMedia(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	if !ok || !s.opts.PublicMedia {
		return errNotFound
	}
	r.SetPathValue("name", name)
	return s.getMedia(w, r)
}
