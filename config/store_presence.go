package config

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CallPresence is what calls make of a user's presence: legs ringing the user's device,
// conversations the user is in.
type CallPresence struct {
	Ringing, InCall int
}

// PresenceNote says that daemon changed its share of user User's presence.
type PresenceNote struct {
	User, Daemon string
}

// SharePresence records what daemon's calls make of user uid, valid until ttl from now
// (the daemon renews it while it lasts: a daemon that dies stops counting once it
// expires), and notes the change on P:presence for the other daemons. Zero counts remove
// the daemon's entry. Runtime state: not audited, not versioned.
func (s *Store) SharePresence(ctx context.Context, uid, daemon string, p CallPresence, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("share presence of user %q: ttl %v must be positive", uid, ttl)
	}
	key := s.keys.Presence(uid)
	pipe := s.rdb.Pipeline()
	if p == (CallPresence{}) {
		pipe.HDel(ctx, key, daemon)
	} else {
		exp := s.now().Add(ttl).UnixMilli()
		pipe.HSet(ctx, key, daemon, strconv.Itoa(p.Ringing)+" "+strconv.Itoa(p.InCall)+" "+strconv.FormatInt(exp, 10))
		pipe.PExpire(ctx, key, ttl) // the hash goes with the last daemon that renews it
	}
	pipe.Publish(ctx, s.keys.PresenceNotes(), uid+" "+daemon)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("share presence of user %q: %w", uid, err)
	}
	return nil
}

// SharedPresence sums what the daemons other than except make of user uid, leaving out
// entries past their expiry (a daemon that died) and entries that do not parse.
func (s *Store) SharedPresence(ctx context.Context, uid, except string) (CallPresence, error) {
	all, err := s.rdb.HGetAll(ctx, s.keys.Presence(uid)).Result()
	if err != nil {
		return CallPresence{}, fmt.Errorf("read presence of user %q: %w", uid, err)
	}
	now := s.now().UnixMilli()
	var sum CallPresence
	for daemon, v := range all {
		if daemon == except {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 3 {
			continue
		}
		r, err1 := strconv.Atoi(f[0])
		c, err2 := strconv.Atoi(f[1])
		exp, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || exp <= now || r < 0 || c < 0 {
			continue
		}
		sum.Ringing += r
		sum.InCall += c
	}
	return sum, nil
}

// WatchPresence delivers the notes of P:presence (see Watch: the same delivery, the
// same loss of what is published while the connection is down).
func (s *Store) WatchPresence(ctx context.Context) (<-chan PresenceNote, error) {
	return subscribe(ctx, s, s.keys.PresenceNotes(), func(payload string) (PresenceNote, bool) {
		u, d, ok := strings.Cut(payload, " ")
		return PresenceNote{User: u, Daemon: d}, ok && u != "" && d != ""
	})
}
