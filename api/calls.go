package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// userCalls answers a user's call log, newest first (bounded by the store).
func (s *Server) userCalls(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	gone, err := s.checkHistory(r, id)
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 50)
	if err != nil {
		return err
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

// checkHistory checks that the caller may read user id's history (calls, audit), and
// says whether the user is gone: a deleted user's history stays readable by a token
// that could have read any user (all scope, or a self token of that id).
func (s *Server) checkHistory(r *http.Request, id string) (gone bool, err error) {
	t := caller(r)
	if err := checkUserID(t, id); err != nil {
		return false, err
	}
	u, err := s.store.GetUser(r.Context(), id)
	switch {
	case err == nil:
		return false, checkUser(t, u)
	case errors.Is(err, config.ErrNotFound):
		if !isAll(t) && t.Scope.Kind != config.ScopeUser {
			return true, errNotFound
		}
		return true, nil
	default:
		return false, err
	}
}
