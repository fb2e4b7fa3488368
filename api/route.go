package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
)

// route answers GET /v1/users/{id}/route: where a call to the user goes, under the
// query's hypotheses (at, from, to, active, respond), without a call. It runs
// callflow.Explain: the very executor the adapters run, on a simulated PBX, over the
// sheets as stored now. Nothing is written.
func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	u, err := s.loadUser(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, err := callflow.ParseExplainQuery(r.URL.Query())
	if err != nil {
		return badQuery(err)
	}
	if p.At.IsZero() {
		p.At = s.now()
	}
	x, err := callflow.Explain(r.Context(), s.store, u.ID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

// AdviceAnswer is the answer of GET /v1/users/{id}/advice.
type AdviceAnswer struct {
	User   string            `json:"user"`
	Advice []callflow.Advice `json:"advice"`
}

// advice answers GET /v1/users/{id}/advice: the sheet's own good practice, checked
// (callflow.Advise). The unconditional forward's age comes from the audit log.
func (s *Server) advice(w http.ResponseWriter, r *http.Request) error {
	u, err := s.loadUser(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	opt := callflow.AdviceOptions{Now: s.now()}
	if u.Forwards.Unconditional.Enabled {
		entries, err := s.store.Audit(r.Context(), "user", u.ID, 0)
		if err != nil {
			return err
		}
		opt.UnconditionalSince = callflow.UnconditionalSince(entries)
	}
	items, err := callflow.Advise(r.Context(), s.store, u.ID, opt)
	if err != nil {
		return err
	}
	if items == nil {
		items = []callflow.Advice{}
	}
	writeJSON(w, http.StatusOK, AdviceAnswer{User: u.ID, Advice: items})
	return nil
}

// badQuery turns a "param: reason" parse error into a 400 naming the parameter.
func badQuery(err error) *apiError {
	msg := err.Error()
	path, reason, ok := strings.Cut(msg, ": ")
	if !ok {
		path, reason = "query", msg
	}
	return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, message: msg,
		fields: []FieldError{{path, reason}}}
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}
