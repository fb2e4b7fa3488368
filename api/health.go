package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// ReadyCheck is one thing /readyz waits for: the store answering, later each PBX link.
// Check returns nil when the part is ready; it must honour ctx.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readyTimeout bounds each check, so a hung dependency answers "not ready", not a hang.
const readyTimeout = 2 * time.Second

// ReadyStatus is the body of /readyz: "ready" or "not_ready", and each check's state.
type ReadyStatus struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"` // name → "ok" or "failing"
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz runs every check at once. A failing check's cause is logged when it starts
// failing, not answered: /readyz needs no token.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	st := ReadyStatus{Status: "ready", Checks: make(map[string]string, len(s.ready))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.ready {
		wg.Go(func() {
			err := c.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st.Status = "not_ready"
				st.Checks[c.Name] = "failing"
			} else {
				st.Checks[c.Name] = "ok"
			}
			s.noteReady(c.Name, err)
		})
	}
	wg.Wait()
	code := http.StatusOK
	if st.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
	return nil
}

// noteReady logs a check's transitions between ok and failing.
func (s *Server) noteReady(name string, err error) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	was, seen := s.readyState[name]
	now := err == nil
	s.readyState[name] = now
	switch {
	case !now && (was || !seen):
		s.log.Warn("readiness check failing", "check", name, "err", err)
	case now && seen && !was:
		s.log.Info("readiness check ok again", "check", name)
	}
}
