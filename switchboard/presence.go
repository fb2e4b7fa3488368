package switchboard

import (
	"context"
	"sync"

	"github.com/sophia-pbx/sophia/config"
)

// Presence is a user's state as supervision (BLF keys) shows it.
type Presence uint8

// Presence states. When several apply, the first in this order wins: a phone that is
// offline can be in no call; a user in a call shows in call even in do not disturb.
const (
	PresenceUnknown Presence = iota // never computed
	PresenceIdle
	PresenceRinging
	PresenceInCall
	PresenceDND
	PresenceOffline
)

var presenceNames = [...]string{"unknown", "idle", "ringing", "in_call", "dnd", "offline"}

func (p Presence) String() string {
	if int(p) < len(presenceNames) {
		return presenceNames[p]
	}
	return "unknown"
}

// Publisher receives a user's presence whenever it changes: the adapter turns it into
// its PBX's device state (Asterisk: PUT /deviceStates/Stasis:<user>). Publish is called
// from one goroutine (Board.Run's), in the order the changes happened, latest state only
// (a burst of changes for one user publishes its last state once).
type Publisher interface {
	Publish(ctx context.Context, user string, p Presence) error
}

// userState is what the board knows of one user.
type userState struct {
	ringing, inCall int                 // calls ringing this user's device, calls this user talks in (this daemon)
	remote          config.CallPresence // the same, of the other daemons (Redis, P:rt:{uid}:presence)
	dnd, offline    bool                // from the sheet and the device state
	published       Presence
}

func (u *userState) presence() Presence {
	switch {
	case u.offline:
		return PresenceOffline
	case u.inCall+u.remote.InCall > 0:
		return PresenceInCall
	case u.ringing+u.remote.Ringing > 0:
		return PresenceRinging
	case u.dnd:
		return PresenceDND
	}
	return PresenceIdle
}

// presence tracks users' states and queues changes for the publisher goroutine.
type presence struct {
	mu      sync.Mutex
	users   map[string]*userState
	pending map[string]Presence // changed since last published, latest state
	order   []string            // pending users, in the order they changed
	wake    chan struct{}       // cap 1: something is pending
	pubs    []Publisher
	// This daemon's call counts changed for these users: to share with the others.
	share     map[string]struct{}
	shareWake chan struct{} // cap 1
}

func newPresence() *presence {
	return &presence{users: map[string]*userState{}, pending: map[string]Presence{}, wake: make(chan struct{}, 1),
		share: map[string]struct{}{}, shareWake: make(chan struct{}, 1)}
}

// update changes user uid's state with fn and queues the new presence if it changed.
func (p *presence) update(uid string, fn func(u *userState)) {
	if uid == "" {
		return
	}
	p.mu.Lock()
	u := p.users[uid]
	if u == nil {
		u = &userState{}
		p.users[uid] = u
	}
	ringing, inCall := u.ringing, u.inCall
	fn(u)
	shared := u.ringing != ringing || u.inCall != inCall
	if shared {
		p.share[uid] = struct{}{}
	}
	now := u.presence()
	if now != u.published {
		u.published = now
		if _, queued := p.pending[uid]; !queued {
			p.order = append(p.order, uid)
		}
		p.pending[uid] = now
	}
	// A user the board no longer follows (idle, nothing known) is forgotten, so the map
	// does not grow with every user ever seen; the next sight starts from unknown and
	// republishes, which is harmless.
	if u.ringing == 0 && u.inCall == 0 && u.remote == (config.CallPresence{}) && !u.dnd && !u.offline && p.pending[uid] == 0 {
		delete(p.users, uid)
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if shared {
		select {
		case p.shareWake <- struct{}{}:
		default:
		}
	}
}

// takeShares returns the users whose local call counts changed since the last call.
func (p *presence) takeShares() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := make([]string, 0, len(p.share))
	for uid := range p.share {
		users = append(users, uid)
	}
	clear(p.share)
	return users
}

// local returns this daemon's call counts of uid.
func (p *presence) local(uid string) config.CallPresence {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[uid]; u != nil {
		return config.CallPresence{Ringing: u.ringing, InCall: u.inCall}
	}
	return config.CallPresence{}
}

// counted returns the users this daemon's calls count (their shares must be renewed)
// and the users other daemons' calls count (to read again: a daemon that died stops
// counting when its share expires).
func (p *presence) counted() (local, remote []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid, u := range p.users {
		if u.ringing > 0 || u.inCall > 0 {
			local = append(local, uid)
		}
		if u.remote != (config.CallPresence{}) {
			remote = append(remote, uid)
		}
	}
	return local, remote
}

// get returns uid's current presence (PresenceIdle for a user with nothing known).
func (p *presence) get(uid string) Presence {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[uid]; u != nil {
		return u.presence()
	}
	return PresenceIdle
}

// take returns the pending changes, oldest first, and clears them.
func (p *presence) take() ([]string, []Presence) {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := p.order
	states := make([]Presence, len(users))
	for i, u := range users {
		states[i] = p.pending[u]
	}
	p.order = nil
	clear(p.pending)
	return users, states
}

// republish queues every followed user's presence again (a PBX that restarted forgot
// the device states it was given).
func (p *presence) republish() {
	p.mu.Lock()
	for uid, u := range p.users {
		if _, queued := p.pending[uid]; !queued {
			p.order = append(p.order, uid)
		}
		p.pending[uid] = u.presence()
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *presence) publishers() []Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Publisher(nil), p.pubs...)
}
