package dialplan

import (
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// Input is all an inbound routing decision may look at; it holds no connection.
type Input struct {
	// User is the callee's compiled sheet (with its site). Required.
	User *config.Compiled
	Call Call
	// Device is the callee's device state as last reported (DeviceUnknown counts as
	// online: the dial result decides).
	Device config.DeviceState
	// Active is the callee's calls in progress, across every daemon.
	Active int
	// Now is the clock, as a value; scheduled rules read it in their own zone.
	Now time.Time
}

// Call is the call's context.
type Call struct {
	From Party // the caller; From.Number "" when withheld
	// To is the number dialed: one of the user's numbers, or, for a call forwarded to
	// the user, the number the first user was called on.
	To string
	// Hit says which of the user's numbers To is. The zero value (HitUnknown) makes
	// Decide work it out from To (MatchNumber).
	Hit Hit
	// History is the diversion history, oldest first: every user that forwarded the
	// call so far. Decide never modifies it.
	History []Diversion
}

// HitKind is which of a user's numbers a call reached.
type HitKind uint8

// Hit kinds.
const (
	HitUnknown    HitKind = iota // not worked out yet: Decide calls MatchNumber
	HitMain                      // the main number
	HitAssociated                // associated number Hit.Index (0-based)
	HitExtension                 // an internal extension the PBX routed to the user
	HitOther                     // none of the user's numbers (a forwarded call)
)

var hitNames = [...]string{"unknown", "main", "associated", "extension", "other"}

// String returns the kind's name.
func (k HitKind) String() string {
	if int(k) < len(hitNames) {
		return hitNames[k]
	}
	return "unknown"
}

// Hit is which of the user's numbers a call reached.
type Hit struct {
	Kind  HitKind
	Index int // associated_numbers index when Kind is HitAssociated
}

// MatchNumber says which of c's numbers num is: the main number, an associated number,
// an internal extension (one the PBX routed to the user by its own plan), or other.
func MatchNumber(c *config.Compiled, num string) Hit {
	s := c.Sheet
	switch {
	case num == "":
		return Hit{Kind: HitOther}
	case num == s.MainNumber:
		return Hit{Kind: HitMain}
	}
	for i := range s.AssociatedNumbers {
		if s.AssociatedNumbers[i].Number == num {
			return Hit{Kind: HitAssociated, Index: i}
		}
	}
	if config.IsExtension(num) {
		return Hit{Kind: HitExtension}
	}
	return Hit{Kind: HitOther}
}

// Hop limits. A site's max_forward_hops of 0 or less means DefaultMaxHops; whatever a
// site says, no call is forwarded more than MaxHops times.
const (
	DefaultMaxHops = 5
	MaxHops        = 20
)

// HopLimit returns how many diversions a call to a user of site may have made before the
// loop guard stops forwarding it.
func HopLimit(site *config.Site) int {
	n := DefaultMaxHops
	if site != nil && site.MaxForwardHops > 0 {
		n = site.MaxForwardHops
	}
	return min(n, MaxHops)
}

// ForwardTimeoutS is how long a forward to an outside number rings before the call is
// missed: the longest no-answer timeout a sheet may set. The far end's own voicemail
// usually answers well before.
const ForwardTimeoutS = config.MaxNoAnswerTimeoutS

// ringTimeout returns the no-answer timeout of a sheet, clamped to the documented bounds.
func ringTimeout(s *config.Sheet) int {
	t := s.Forwards.NoAnswer.TimeoutS
	switch {
	case t <= 0:
		return config.DefaultNoAnswerTimeoutS
	case t < config.MinNoAnswerTimeoutS:
		return config.MinNoAnswerTimeoutS
	case t > config.MaxNoAnswerTimeoutS:
		return config.MaxNoAnswerTimeoutS
	}
	return t
}
