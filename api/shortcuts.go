package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// The daily shortcuts change one thing of a sheet and answer the whole sheet:
//
//	POST   /v1/users/{id}/dnd/on | /dnd/off
//	PUT    /v1/users/{id}/forwards/{kind}        set the target(s) and turn it on
//	DELETE /v1/users/{id}/forwards/{kind}        turn it off and forget the target(s)
//	POST   /v1/users/{id}/forwards/{kind}/on | /off
//	POST   /v1/users/{id}/forwards/scheduled/{index}/on | /off
//
// {kind} is one of forwardKinds. Each applies to the stored sheet atomically (If-Match
// optional), so two shortcuts at once both land.

// forwardKinds are the forwards with one on/off switch, by their JSON name.
var forwardKinds = []string{"unconditional", "no_answer", "not_connected", "busy", "simultaneous_ring"}

// forwardOf returns the switch and target of forward kind in f.
func forwardOf(f *config.Forwards, kind string) (enabled *bool, target *string, ok bool) {
	switch kind {
	case "unconditional":
		return &f.Unconditional.Enabled, &f.Unconditional.Target, true
	case "no_answer":
		return &f.NoAnswer.Enabled, &f.NoAnswer.Target, true
	case "not_connected":
		return &f.NotConnected.Enabled, &f.NotConnected.Target, true
	case "busy":
		return &f.Busy.Enabled, &f.Busy.Target, true
	case "simultaneous_ring":
		return &f.SimultaneousRing.Enabled, nil, true
	}
	return nil, nil, false
}

func errNoKind(kind string) error {
	return errorf(http.StatusNotFound, CodeNotFound, "no forward kind %q; one of %s (scheduled rules: forwards/scheduled/{index})",
		kind, strings.Join(forwardKinds, ", "))
}

// update applies fn to user id's stored sheet for the caller and answers the result.
func (s *Server) update(w http.ResponseWriter, r *http.Request, fn func(*config.Sheet) error) error {
	id := r.PathValue("id")
	t := caller(r)
	if err := checkUserID(t, id); err != nil {
		return err
	}
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	var same unchanged
	stored, err := s.store.UpdateUser(r.Context(), id, want, func(cur *config.Sheet) error {
		if err := checkUser(t, cur); err != nil {
			return err
		}
		return same.apply(cur, fn)
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

// errUnchanged ends an update that would change nothing: it writes nothing, keeps the
// version and adds no audit entry ("dnd on" twice is one change).
var errUnchanged = errors.New("unchanged")

// unchanged applies a change and keeps the sheet when it changed nothing.
type unchanged struct{ sheet *config.Sheet }

func (u *unchanged) apply(cur *config.Sheet, fn func(*config.Sheet) error) error {
	before, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	if err := fn(cur); err != nil {
		return err
	}
	after, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	if bytes.Equal(before, after) {
		c := *cur
		u.sheet = &c
		return errUnchanged
	}
	return nil
}

func (s *Server) dnd(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.update(w, r, func(u *config.Sheet) error {
			u.DND = on
			return nil
		})
	}
}

func (s *Server) toggleForward(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		kind := r.PathValue("kind")
		if _, _, ok := forwardOf(&config.Forwards{}, kind); !ok {
			return errNoKind(kind)
		}
		return s.update(w, r, func(u *config.Sheet) error {
			enabled, _, _ := forwardOf(&u.Forwards, kind)
			*enabled = on
			return nil
		})
	}
}

func (s *Server) toggleScheduled(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		i, err := strconv.Atoi(r.PathValue("index"))
		if err != nil || i < 0 {
			return errorf(http.StatusNotFound, CodeNotFound, "scheduled rule index must be 0 or more")
		}
		return s.update(w, r, func(u *config.Sheet) error {
			if i >= len(u.Forwards.Scheduled) {
				return errorf(http.StatusNotFound, CodeNotFound, "user %s has %d scheduled rules; no index %d",
					u.ID, len(u.Forwards.Scheduled), i)
			}
			u.Forwards.Scheduled[i].Enabled = on
			return nil
		})
	}
}

// ForwardRequest is the body of PUT /v1/users/{id}/forwards/{kind}. Target is for every
// kind but simultaneous_ring, which takes Targets (and Confirm); TimeoutS is for
// no_answer only. Enabled defaults to true: setting a forward turns it on.
type ForwardRequest struct {
	Target   string   `json:"target,omitempty"`
	Targets  []string `json:"targets,omitempty"`
	TimeoutS *int     `json:"timeout_s,omitempty"`
	Confirm  *bool    `json:"confirm,omitempty"`
	Enabled  *bool    `json:"enabled,omitempty"`
}

func (s *Server) setForward(w http.ResponseWriter, r *http.Request) error {
	kind := r.PathValue("kind")
	if _, _, ok := forwardOf(&config.Forwards{}, kind); !ok {
		return errNoKind(kind)
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes, jsonTypes...)
	if err != nil {
		return err
	}
	var req ForwardRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	var fields []FieldError
	if kind == "simultaneous_ring" {
		if req.Target != "" {
			fields = append(fields, FieldError{"target", "simultaneous_ring takes targets (a list)"})
		}
		if len(req.Targets) == 0 {
			fields = append(fields, FieldError{"targets", "at least one target is required"})
		}
	} else {
		if req.Target == "" {
			fields = append(fields, FieldError{"target", "required: voicemail, user:<id> or a number"})
		}
		if req.Targets != nil {
			fields = append(fields, FieldError{"targets", "only simultaneous_ring takes a list"})
		}
		if req.Confirm != nil {
			fields = append(fields, FieldError{"confirm", "only simultaneous_ring asks for confirmation"})
		}
	}
	if req.TimeoutS != nil && kind != "no_answer" {
		fields = append(fields, FieldError{"timeout_s", "only no_answer has a ring timeout"})
	}
	if fields != nil {
		return &apiError{status: http.StatusUnprocessableEntity, code: CodeInvalid, message: "the request is invalid", fields: fields}
	}
	on := req.Enabled == nil || *req.Enabled
	return s.update(w, r, func(u *config.Sheet) error {
		f := &u.Forwards
		enabled, target, _ := forwardOf(f, kind)
		*enabled = on
		if target != nil {
			*target = req.Target
		} else {
			f.SimultaneousRing.Targets = req.Targets
			if req.Confirm != nil {
				f.SimultaneousRing.Confirm = *req.Confirm
			}
		}
		if req.TimeoutS != nil {
			f.NoAnswer.TimeoutS = *req.TimeoutS
		}
		return nil
	})
}

func (s *Server) clearForward(w http.ResponseWriter, r *http.Request) error {
	kind := r.PathValue("kind")
	if _, _, ok := forwardOf(&config.Forwards{}, kind); !ok {
		return errNoKind(kind)
	}
	return s.update(w, r, func(u *config.Sheet) error {
		enabled, target, _ := forwardOf(&u.Forwards, kind)
		*enabled = false
		if target != nil {
			*target = ""
		} else {
			u.Forwards.SimultaneousRing.Targets = []string{}
		}
		return nil
	})
}
