package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// The JSON types accepted for a sheet or a site; PATCH takes a merge patch (RFC 7396).
var (
	jsonTypes  = []string{"application/json"}
	patchTypes = []string{"application/merge-patch+json", "application/json"}
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := config.UserFilter{Site: q.Get("site"), Name: q.Get("name"), Number: q.Get("number"), After: after, Limit: limit}
	t := caller(r)
	switch t.Scope.Kind {
	case config.ScopeSite:
		if f.Site != "" && f.Site != t.Scope.ID {
			writeJSON(w, http.StatusOK, Page[*config.Sheet]{Items: []*config.Sheet{}})
			return nil
		}
		f.Site = t.Scope.ID
	case config.ScopeUser:
		// The only user a self token sees is its own, when it passes the filters.
		items := []*config.Sheet{}
		u, err := s.store.GetUser(r.Context(), t.Scope.ID)
		if err != nil && !errors.Is(err, config.ErrNotFound) {
			return err
		}
		if u != nil && (after == "" || u.ID > after) && selfMatches(u, f) {
			items = append(items, u)
		}
		writeJSON(w, http.StatusOK, Page[*config.Sheet]{Items: items})
		return nil
	}
	users, next, err := s.store.ListUsers(r.Context(), f)
	if err != nil {
		return err
	}
	if users == nil {
		users = []*config.Sheet{}
	}
	writeJSON(w, http.StatusOK, Page[*config.Sheet]{Items: users, Next: next})
	return nil
}

// selfMatches applies a list's filters to the one sheet a self token sees.
func selfMatches(u *config.Sheet, f config.UserFilter) bool {
	if f.Site != "" && f.Site != u.Site {
		return false
	}
	if f.Name != "" && !strings.Contains(strings.ToLower(u.Name), strings.ToLower(f.Name)) {
		return false
	}
	if f.Number != "" {
		nums := []string{u.MainNumber}
		for _, a := range u.AssociatedNumbers {
			nums = append(nums, a.Number)
		}
		if !slices.Contains(nums, f.Number) {
			return false
		}
	}
	return true
}

// loadUser reads user id for the caller: 403 when out of its scope.
func (s *Server) loadUser(r *http.Request, id string) (*config.Sheet, error) {
	t := caller(r)
	if err := checkUserID(t, id); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := checkUser(t, u); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.loadUser(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	setETag(w, u.Version)
	if noneMatch(r, u.Version) {
		// The caller holds this version already: a page polling for other admins'
		// changes pays one sheet read and a few bytes (the web page does, every few s).
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// putUser stores a whole sheet: version 0 (no If-Match, no version in the body) creates
// it, and is refused if the user exists; otherwise the version must be the stored one.
func (s *Server) putUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t := caller(r)
	if err := checkUserID(t, id); err != nil {
		return err
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes, jsonTypes...)
	if err != nil {
		return err
	}
	sheet, err := config.DecodeSheet(body)
	if err != nil {
		return err
	}
	if sheet.ID == "" {
		sheet.ID = id
	}
	if sheet.ID != id {
		return invalid("id", "must be the id in the URL ("+id+")")
	}
	if sheet.Version, err = wantVersion(r, sheet.Version); err != nil {
		return err
	}
	if err := checkUser(t, sheet); err != nil {
		return err
	}
	if t.Scope.Kind != config.ScopeAll {
		// The stored sheet must be in scope too (a site token may not take a user
		// from another site), and a self token may not change operator fields.
		old, err := s.store.GetUser(r.Context(), id)
		switch {
		case errors.Is(err, config.ErrNotFound):
			if t.Scope.Kind == config.ScopeUser {
				return errForbidden("a self-service token cannot create its user")
			}
		case err != nil:
			return err
		default:
			if err := checkUser(t, old); err != nil {
				return err
			}
			if t.Scope.Kind == config.ScopeUser {
				region, err := s.regionOf(r, old.Site)
				if err != nil {
					return err
				}
				if err := checkSelfEdit(t, old, sheet, region); err != nil {
					return err
				}
			}
		}
	}
	created := sheet.Version == 0
	stored, err := s.store.PutUser(r.Context(), sheet, actor(r))
	if created && errors.Is(err, config.ErrVersionConflict) {
		return errorf(http.StatusConflict, CodeConflict, "user %s already exists: send its version (If-Match) to replace it", id)
	}
	if err != nil {
		return err
	}
	answerUser(w, stored, created)
	return nil
}

// answerUser answers u, the sheet as a write stored it.
func answerUser(w http.ResponseWriter, u *config.Sheet, created bool) {
	setETag(w, u.Version)
	status := http.StatusOK
	if created {
		w.Header().Set("Location", "/v1/users/"+u.ID)
		status = http.StatusCreated
	}
	writeJSON(w, status, u)
}

// patchUser applies a JSON merge patch to the stored sheet. Without If-Match (or a
// "version" in the patch) it applies to whatever is stored when it runs, atomically:
// concurrent patches of different fields all land.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t := caller(r)
	if err := checkUserID(t, id); err != nil {
		return err
	}
	body, want, err := s.readMergePatch(w, r, "a sheet")
	if err != nil {
		return err
	}
	region := ""
	if t.Scope.Kind == config.ScopeUser {
		// A self token's user: its site (which it may not change) gives the region.
		u, err := s.loadUser(r, id)
		if err != nil {
			return err
		}
		if region, err = s.regionOf(r, u.Site); err != nil {
			return err
		}
	}
	var same unchanged
	stored, err := s.store.UpdateUser(r.Context(), id, want, func(cur *config.Sheet) error {
		if err := checkUser(t, cur); err != nil {
			return err
		}
		return same.apply(cur, func(cur *config.Sheet) error {
			next, err := applyPatch(cur, body)
			if err != nil {
				return err
			}
			if err := checkUser(t, next); err != nil {
				return err
			}
			if err := checkSelfEdit(t, cur, next, region); err != nil {
				return err
			}
			next.Version = cur.Version
			next.Voicemail.PINSet = cur.Voicemail.PINSet // output only: decoding drops it
			*cur = *next
			return nil
		})
	}, actor(r))
	if errors.Is(err, errUnchanged) {
		stored, err = same.sheet, nil
	}
	if err != nil {
		return err
	}
	answerUser(w, stored, false)
	return nil
}

// applyPatch returns cur with the merge patch applied, decoded as strictly as a PUT.
func applyPatch(cur *config.Sheet, patch []byte) (*config.Sheet, error) {
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	merged, err := mergePatch(doc, patch)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeBadRequest, "the body is not valid JSON")
	}
	next, err := config.DecodeSheet(merged)
	if err != nil {
		return nil, err
	}
	if next.ID != cur.ID {
		return nil, invalid("id", "cannot be changed")
	}
	return next, nil
}

// regionOf returns the number region of site id.
func (s *Server) regionOf(r *http.Request, id string) (string, error) {
	site, err := s.store.GetSite(r.Context(), id)
	if err != nil {
		return "", err
	}
	return site.Region, nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t := caller(r)
	if t.Scope.Kind == config.ScopeUser {
		return errForbidden("a self-service token cannot delete its user")
	}
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	if _, err := s.loadUser(r, id); err != nil {
		return err
	}
	if err := s.store.DeleteUser(r.Context(), id, want, actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PINRequest is the body of PUT /v1/users/{id}/voicemail/pin.
type PINRequest struct {
	PIN string `json:"pin"`
}

func (s *Server) setPIN(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.loadUser(r, id); err != nil {
		return err
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes, jsonTypes...)
	if err != nil {
		return err
	}
	var req PINRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if err := s.store.SetPIN(r.Context(), id, config.Secret(req.PIN), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) userAudit(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.checkHistory(r, id); err != nil {
		return err
	}
	return s.answerAudit(w, r, "user", id)
}
