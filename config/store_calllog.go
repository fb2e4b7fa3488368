package config

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// DefaultCallLogLimit is how many call records are kept per user when Options says 0.
const DefaultCallLogLimit = 500

// CallRecord is one call's end in a user's call log (P:rt:{uid}:calllog, newest first).
// The PBX adapters write it through package switchboard when a call ends; the API reads
// it (GET /v1/users/{id}/calls).
type CallRecord struct {
	ID        string    `json:"id"`        // the PBX's id of the call (its first channel)
	Direction string    `json:"direction"` // "inbound" or "outbound", as this user saw the call
	From      string    `json:"from"`      // the calling number, "" when withheld
	FromName  string    `json:"from_name,omitempty"`
	To        string    `json:"to"` // the number dialed
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	// Outcome is answered, voicemail, busy, unavailable or missed (callflow.OutcomeKind).
	Outcome string `json:"outcome"`
	// By is who answered ("user:<id>" or a number), whose voicemail took the call, or the
	// user at whom the call ended busy, unavailable or missed.
	By string `json:"by,omitempty"`
	// Reason is why the call was not answered: the rule that ended it (busy, dnd,
	// not_connected, no_answer…), caller_hangup, or an outbound refusal.
	Reason string `json:"reason,omitempty"`
	// Forwards lists the forwards the call went through, in order ("<user>/<reason>").
	Forwards []string `json:"forwards,omitempty"`
}

// RecordCall prepends rec to the call log of each user in users, trimming each log to
// the store's bound, in one pipelined round trip. dirs, when not nil, gives the
// direction per user (a call between two users is the caller's outbound and the callee's
// inbound); otherwise rec.Direction applies to all.
func (s *Store) RecordCall(ctx context.Context, rec *CallRecord, users []string, dirs []string) error {
	if len(users) == 0 {
		return nil
	}
	if rec.Outcome == "" {
		return fmt.Errorf("record call %q: outcome: must be set", rec.ID)
	}
	pipe := s.rdb.Pipeline()
	for i, uid := range users {
		r := *rec
		if i < len(dirs) && dirs[i] != "" {
			r.Direction = dirs[i]
		}
		data, err := json.Marshal(&r)
		if err != nil {
			return fmt.Errorf("record call %q: %w", rec.ID, err)
		}
		key := s.keys.CallLog(uid)
		pipe.LPush(ctx, key, data)
		pipe.LTrim(ctx, key, 0, int64(s.callLogLimit-1))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record call %q for %v: %w", rec.ID, users, err)
	}
	return nil
}

// CallLog returns up to limit (1 to the bound; 0 or more means all kept) records of user
// uid's calls, newest first. A user without calls has an empty log, not an error.
func (s *Store) CallLog(ctx context.Context, uid string, limit int) ([]CallRecord, error) {
	if limit <= 0 || limit > s.callLogLimit {
		limit = s.callLogLimit
	}
	raw, err := s.rdb.LRange(ctx, s.keys.CallLog(uid), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("read call log of %q: %w", uid, err)
	}
	out := make([]CallRecord, 0, len(raw))
	for _, r := range raw {
		var c CallRecord
		if err := json.Unmarshal([]byte(r), &c); err != nil {
			return nil, fmt.Errorf("decode call log of %q: %w", uid, err)
		}
		out = append(out, c)
	}
	return out, nil
}
