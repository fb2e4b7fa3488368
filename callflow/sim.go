package callflow

import (
	"context"
	"fmt"
	"slices"

	"github.com/sophia-pbx/sophia/dialplan"
)

// Behavior is how a simulated endpoint answers a leg.
type Behavior uint8

// Endpoint behaviours (explain's respond values are the first four).
const (
	NoAnswer   Behavior = iota // rings until the timeout (the default)
	Answer                     // answers after Script.AfterS seconds
	Busy                       // answers busy at once
	Offline                    // unregistered / unreachable: fails at once (and, in explain, the device's state is offline)
	Congestion                 // the network fails at once with congestion
	Reject                     // declines at once
	// AnswerNoConfirm answers after AfterS but never presses 1: a mobile's own voicemail.
	// On a leg without Confirm it is an answer.
	AnswerNoConfirm
)

var behaviorNames = [...]string{"no_answer", "answer", "busy", "offline", "congestion", "reject", "answer_no_confirm"}

func (b Behavior) String() string {
	if int(b) < len(behaviorNames) {
		return behaviorNames[b]
	}
	return fmt.Sprintf("behavior(%d)", int(b))
}

// ParseBehavior reads a behaviour by its name ("answer", "no_answer", "busy", "offline",
// "congestion", "reject", "answer_no_confirm").
func ParseBehavior(s string) (Behavior, bool) {
	i := slices.Index(behaviorNames[:], s)
	return Behavior(max(i, 0)), i >= 0
}

// Script is a simulated endpoint: what it does, and when.
type Script struct {
	Behavior Behavior
	AfterS   int // seconds after it starts ringing that it answers (Answer, AnswerNoConfirm)
}

// Sim is a Driver without a PBX: endpoints behave as Scripts (by leg target: "user:<id>"
// for a device, the number for an outside leg; a target not listed never answers), time
// is simulated (a ring lasts until the first answer, or its timeout), and everything the
// driver is asked is recorded. Explain runs Run on it; the scenario table runs on it in
// tests, as the adapters run it on their PBX fakes.
type Sim struct {
	Scripts map[string]Script
	// CallerHangupS > 0: the caller hangs up that many simulated seconds into the call.
	CallerHangupS int
	// NoVoicemail makes Voicemail answer ErrVoicemailUnavailable.
	NoVoicemail bool

	// What the driver was asked, in order.
	Rings      []SimRing
	Heard      []string // "ringback:<media>", "busy:<media>", "unavailable:<media>", "voicemail:<mailbox>/<greeting>"
	Hangups    []Cause
	Voicemails []VoicemailRequest
	// Elapsed is the simulated time so far, in seconds.
	Elapsed int
}

// SimRing is a Ring request as the Sim received it, and what came of it.
type SimRing struct {
	User     string // whose plan rang
	Legs     []dialplan.Leg
	TimeoutS int
	Ringback string
	Forward  bool
	Answered int // the leg that answered, -1 for none
}

var _ Driver = (*Sim)(nil)

// Ring simulates r: each leg's script decides when it answers or fails; the earliest
// answer within the timeout wins (ties: the first leg), unless the caller hangs up first.
func (s *Sim) Ring(ctx context.Context, r *Ring) (int, error) {
	if err := ctx.Err(); err != nil && err != context.DeadlineExceeded {
		return -1, err
	}
	rec := SimRing{User: r.User, Legs: slices.Clone(r.Legs), TimeoutS: r.TimeoutS, Ringback: r.Ringback, Forward: r.Forward, Answered: -1}
	s.Heard = append(s.Heard, "ringback:"+r.Ringback)
	winner, at := -1, r.TimeoutS
	causes := make([]Cause, len(r.Legs))
	for i, l := range r.Legs {
		sc := s.Scripts[l.Target]
		switch sc.Behavior {
		case Answer, AnswerNoConfirm:
			if sc.Behavior == AnswerNoConfirm && l.Confirm || sc.AfterS >= r.TimeoutS {
				causes[i] = CauseNoAnswer
				continue
			}
			if sc.AfterS < at {
				winner, at = i, sc.AfterS
			}
		case Busy:
			causes[i] = CauseBusy
		case Offline:
			causes[i] = CauseUnreachable
		case Congestion:
			causes[i] = CauseCongestion
		case Reject:
			causes[i] = CauseRejected
		default:
			causes[i] = CauseNoAnswer
		}
	}
	if winner < 0 && allFailedAtOnce(r.Legs, s.Scripts) {
		at = 0
	}
	// The caller leaving at the very moment a leg answers loses; at the moment the
	// ring times out, wins.
	if s.CallerHangupS > 0 {
		left := max(s.CallerHangupS-s.Elapsed, 0)
		if left < at || (left == at && winner < 0) {
			s.Elapsed += left
			s.Rings = append(s.Rings, rec)
			return -1, ErrCallerHangup
		}
	}
	s.Elapsed += at
	if winner >= 0 {
		rec.Answered = winner
		s.Rings = append(s.Rings, rec)
		return winner, nil
	}
	s.Rings = append(s.Rings, rec)
	return -1, &LegError{Causes: causes}
}

// allFailedAtOnce: every leg fails without ringing (busy, offline, congestion, reject),
// so the attempt takes no time.
func allFailedAtOnce(legs []dialplan.Leg, scripts map[string]Script) bool {
	for _, l := range legs {
		switch scripts[l.Target].Behavior {
		case Busy, Offline, Congestion, Reject:
		default:
			return false
		}
	}
	return true
}

// Play records what the caller heard.
func (s *Sim) Play(_ context.Context, p *Playback) error {
	s.Heard = append(s.Heard, p.Kind.String()+":"+p.Media)
	return nil
}

// Voicemail records the deposit, or answers ErrVoicemailUnavailable with NoVoicemail.
func (s *Sim) Voicemail(_ context.Context, v *VoicemailRequest) error {
	if s.NoVoicemail {
		return ErrVoicemailUnavailable
	}
	s.Voicemails = append(s.Voicemails, *v)
	s.Heard = append(s.Heard, "voicemail:"+v.Mailbox+"/"+v.Greeting.String())
	return nil
}

// Hangup records the cause.
func (s *Sim) Hangup(_ context.Context, c Cause) error {
	s.Hangups = append(s.Hangups, c)
	return nil
}
