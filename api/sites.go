package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sophia-pbx/sophia/config"
)

// Sites are the operator's: a site token reads its own site, only an "all" token writes.

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	t := caller(r)
	switch t.Scope.Kind {
	case config.ScopeAll:
	case config.ScopeSite:
		items := []*config.Site{}
		site, err := s.store.GetSite(r.Context(), t.Scope.ID)
		if err != nil && !errors.Is(err, config.ErrNotFound) {
			return err
		}
		if site != nil && (after == "" || site.ID > after) {
			items = append(items, site)
		}
		writeJSON(w, http.StatusOK, Page[*config.Site]{Items: items})
		return nil
	default:
		writeJSON(w, http.StatusOK, Page[*config.Site]{Items: []*config.Site{}})
		return nil
	}
	sites, next, err := s.store.ListSites(r.Context(), config.ListOptions{After: after, Limit: limit})
	if err != nil {
		return err
	}
	if sites == nil {
		sites = []*config.Site{}
	}
	writeJSON(w, http.StatusOK, Page[*config.Site]{Items: sites, Next: next})
	return nil
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !canReadSite(caller(r), id) {
		return errForbidden("this token may not read site " + id)
	}
	site, err := s.store.GetSite(r.Context(), id)
	if err != nil {
		return err
	}
	setETag(w, site.Version)
	writeJSON(w, http.StatusOK, site)
	return nil
}

// answerSite answers site, as a write stored it.
func answerSite(w http.ResponseWriter, site *config.Site, created bool) {
	setETag(w, site.Version)
	status := http.StatusOK
	if created {
		w.Header().Set("Location", "/v1/sites/"+site.ID)
		status = http.StatusCreated
	}
	writeJSON(w, status, site)
}

func (s *Server) putSite(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	body, err := readBody(w, r, s.opts.MaxBodyBytes, jsonTypes...)
	if err != nil {
		return err
	}
	site, err := config.DecodeSite(body)
	if err != nil {
		return err
	}
	if site.ID == "" {
		site.ID = id
	}
	if site.ID != id {
		return invalid("id", "must be the id in the URL ("+id+")")
	}
	if site.Version, err = wantVersion(r, site.Version); err != nil {
		return err
	}
	created := site.Version == 0
	stored, err := s.store.PutSite(r.Context(), site, actor(r))
	if created && errors.Is(err, config.ErrVersionConflict) {
		return errorf(http.StatusConflict, CodeConflict, "site %s already exists: send its version (If-Match) to replace it", id)
	}
	if err != nil {
		return err
	}
	answerSite(w, stored, created)
	return nil
}

// patchRetries bounds how often a PATCH without a version re-reads a site that changed
// under it before giving up with 409.
const patchRetries = 5

func (s *Server) patchSite(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	body, want, err := s.readMergePatch(w, r, "a site")
	if err != nil {
		return err
	}
	// Read, patch, write with the version read: a concurrent write makes the store
	// refuse ours, and without a version asked for, we read again and re-apply.
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetSite(r.Context(), id)
		if err != nil {
			return err
		}
		if want != 0 && cur.Version != want {
			return config.ErrVersionConflict
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		merged, err := mergePatch(doc, body)
		if err != nil {
			return errorf(http.StatusBadRequest, CodeBadRequest, "the body is not valid JSON")
		}
		next, err := config.DecodeSite(merged)
		if err != nil {
			return err
		}
		if next.ID != id {
			return invalid("id", "cannot be changed")
		}
		next.Version = cur.Version
		stored, err := s.store.PutSite(r.Context(), next, actor(r))
		if errors.Is(err, config.ErrVersionConflict) && want == 0 && attempt < patchRetries {
			continue
		}
		if err != nil {
			return err
		}
		answerSite(w, stored, false)
		return nil
	}
}

func (s *Server) deleteSite(w http.ResponseWriter, r *http.Request) error {
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSite(r.Context(), r.PathValue("id"), want, actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) siteAudit(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !canReadSite(caller(r), id) {
		return errForbidden("this token may not read site " + id)
	}
	return s.answerAudit(w, r, "site", id)
}

// answerAudit answers the newest audit entries of kind/id, ?limit= of them at most.
func (s *Server) answerAudit(w http.ResponseWriter, r *http.Request, kind, id string) error {
	limit, err := limitParam(r, 50)
	if err != nil {
		return err
	}
	entries, err := s.store.Audit(r.Context(), kind, id, limit)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []config.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, Page[config.AuditEntry]{Items: entries})
	return nil
}
