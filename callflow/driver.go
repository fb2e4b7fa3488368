package callflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// Driver carries out, on one PBX, the steps of one call's plan. An adapter implements it
// per call (Asterisk over ARI, FreeSWITCH over the Event Socket); the simulation behind
// explain implements it without a PBX (Sim). Run calls its methods from one goroutine,
// one at a time, never after it has returned.
//
// Errors: the sentinels and *LegError below are how a driver reports what the caller or
// the far ends did; any other error means the PBX could not be driven (link lost,
// command refused) and ends Run with that error.
type Driver interface {
	// Ring rings r.Legs all at once while the caller hears r.Ringback, and connects the
	// caller to the first leg that answers.
	//
	// The ring lasts until ctx is done: its deadline is the step's timeout (r.Timeout,
	// r.TimeoutS in seconds, given so that the PBX can run its own timer too: Asterisk's
	// dial timeout, FreeSWITCH's leg_timeout / originate_timeout; the driver must still
	// return when ctx is done).
	//
	// Results:
	//   - (i, nil): leg i answered (for a leg with Confirm: answered and its answerer
	//     pressed 1; an answer without the key within the PBX's confirm timeout is that
	//     leg's CauseNoAnswer and the others keep ringing). Before returning, the driver
	//     has answered the caller if needed, bridged the caller and leg i, and stopped
	//     every other leg at once (first answer wins). The call then lives on in the
	//     adapter; Run is over.
	//   - (-1, *LegError): no leg answered. Causes[i] is leg i's cause: CauseBusy,
	//     CauseRejected (declined), CauseUnreachable (unregistered, unknown endpoint,
	//     channel creation refused), CauseCongestion, or CauseNoAnswer (still ringing when
	//     ctx's deadline passed; the driver stops it). A PBX that reports one cause for
	//     the whole attempt sets it for every leg. Run turns the causes into the plan's
	//     outcome (Classify).
	//   - (-1, ErrCallerHangup): the caller hung up while the legs rang; every leg has
	//     been stopped.
	//   - (-1, err): ctx was cancelled (shutdown) or the PBX failed; the driver stops the
	//     legs it can.
	Ring(ctx context.Context, r *Ring) (answered int, err error)

	// Play plays p.Media to the caller once: the user's busy sound, or the unavailable
	// announcement; Media "" means the PBX's own busy tone or "number unavailable"
	// prompt. The driver may play it as early media or answer first. It returns nil when
	// the media has played, ErrCallerHangup if the caller hung up meanwhile. Run then
	// calls Hangup.
	Play(ctx context.Context, p *Playback) error

	// Voicemail hands the caller to v.Mailbox's voicemail with greeting v.Greeting, and
	// returns when the caller is done with it (message left or not: nil; a hangup during
	// the deposit is nil too). A PBX without voicemail returns ErrVoicemailUnavailable at
	// once, and Run follows the plan's fallback (what the engine does with voicemail off).
	Voicemail(ctx context.Context, v *VoicemailRequest) error

	// Hangup ends the caller's call with cause. It is a no-op (nil) when the caller has
	// already hung up. Run calls it after Play, after Voicemail and for a missed or
	// rejected call; never after an answered Ring.
	Hangup(ctx context.Context, cause Cause) error
}

// Ring is one ring step to carry out.
type Ring struct {
	User string        // whose plan the step is
	Rule dialplan.Rule // the rule that produced it
	// Forward is true when this is a forward to an outside number (one leg), false for
	// the user's own ring (device and simultaneous targets).
	Forward bool
	// Legs to ring at once. Every leg has its Dial set: LegDevice and LegUserDevice to
	// the endpoint as stored, LegNumber to the number (E.164 or extension) the adapter
	// dials through its trunk / gateway template.
	Legs     []dialplan.Leg
	Timeout  time.Duration
	TimeoutS int
	Ringback string // media, "" = the PBX's ring tone
	// MusicOnHold is the user's hold music, for the adapter to set as the caller's
	// music class once bridged ("" = the PBX's default).
	MusicOnHold string
}

// PlayKind is what Play plays.
type PlayKind uint8

// Play kinds.
const (
	PlayBusy        PlayKind = iota + 1 // the user's busy sound
	PlayUnavailable                     // the unavailable announcement
)

func (k PlayKind) String() string {
	switch k {
	case PlayBusy:
		return "busy"
	case PlayUnavailable:
		return "unavailable"
	}
	return "play(" + strconv.Itoa(int(k)) + ")"
}

// Playback is a Play request.
type Playback struct {
	User  string
	Kind  PlayKind
	Media string // a media library name, "" = the PBX's default
}

// VoicemailRequest is a Voicemail request.
type VoicemailRequest struct {
	Mailbox  string // the user whose mailbox takes the message
	Greeting dialplan.Greeting
	Caller   dialplan.Party
	Dialed   string
}

// Sentinel results of Driver methods.
var (
	// ErrCallerHangup: the caller hung up during the step.
	ErrCallerHangup = errors.New("caller hung up")
	// ErrVoicemailUnavailable: this PBX cannot take the caller to voicemail.
	ErrVoicemailUnavailable = errors.New("voicemail not available")
)

// Cause is why a leg failed or a call ended, independent of the PBX. Adapters translate
// their PBX's causes with FromQ850 (Asterisk's hangup cause numbers) and
// FromFreeSWITCH (FreeSWITCH's cause names), and Hangup's cause back with Q850 and
// FreeSWITCH.
type Cause uint8

// Causes.
const (
	CauseNormal        Cause = iota // normal clearing
	CauseBusy                       // the far end is busy
	CauseNoAnswer                   // nobody answered in time
	CauseUnreachable                // unregistered, absent, unknown, out of order
	CauseRejected                   // declined by the far end, or refused by us
	CauseCongestion                 // network congestion, no circuit
	CauseInvalidNumber              // the number is malformed
	CauseBarred                     // outgoing call barred (policy)
)

var causeTable = [...]struct {
	name string
	q850 int
	fs   string
}{
	CauseNormal:        {"normal", 16, "NORMAL_CLEARING"},
	CauseBusy:          {"busy", 17, "USER_BUSY"},
	CauseNoAnswer:      {"no_answer", 19, "NO_ANSWER"},
	CauseUnreachable:   {"unreachable", 20, "SUBSCRIBER_ABSENT"},
	CauseRejected:      {"rejected", 21, "CALL_REJECTED"},
	CauseCongestion:    {"congestion", 34, "NORMAL_CIRCUIT_CONGESTION"},
	CauseInvalidNumber: {"invalid_number", 28, "INVALID_NUMBER_FORMAT"},
	CauseBarred:        {"barred", 52, "OUTGOING_CALL_BARRED"},
}

func (c Cause) String() string {
	if int(c) < len(causeTable) {
		return causeTable[c].name
	}
	return "cause(" + strconv.Itoa(int(c)) + ")"
}

// Q850 returns the ITU-T Q.850 cause code (Asterisk's hangup cause numbers).
func (c Cause) Q850() int {
	if int(c) < len(causeTable) {
		return causeTable[c].q850
	}
	return 16
}

// FreeSWITCH returns FreeSWITCH's name for the cause (hangup, uuid_kill).
func (c Cause) FreeSWITCH() string {
	if int(c) < len(causeTable) {
		return causeTable[c].fs
	}
	return "NORMAL_CLEARING"
}

// FromQ850 maps a Q.850 cause code (Asterisk's HANGUPCAUSE, a channel's cause in ARI
// events) to a Cause; codes with no specific meaning for routing are CauseUnreachable
// when they say the destination cannot be reached, else CauseNoAnswer.
func FromQ850(code int) Cause {
	switch code {
	case 16, 31:
		return CauseNormal
	case 17:
		return CauseBusy
	case 18, 19, 102: // no user responding, no answer, recovery on timer expiry
		return CauseNoAnswer
	case 21:
		return CauseRejected
	case 28:
		return CauseInvalidNumber
	case 34, 38, 41, 42, 44, 47:
		return CauseCongestion
	case 52, 54, 55:
		return CauseBarred
	case 1, 2, 3, 20, 22, 27, 29, 66, 88:
		return CauseUnreachable
	}
	return CauseNoAnswer
}

// FromFreeSWITCH maps a FreeSWITCH hangup cause name (originate_disposition, a
// CHANNEL_HANGUP's Hangup-Cause) to a Cause.
func FromFreeSWITCH(name string) Cause {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "NORMAL_CLEARING", "SUCCESS":
		return CauseNormal
	case "USER_BUSY":
		return CauseBusy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE", "PROGRESS_TIMEOUT",
		// What sophia itself provokes, and a bridge that says nothing: nobody answered.
		"LOSE_RACE", "ORIGINATOR_CANCEL", "", "FAILURE", "_UNDEF_":
		return CauseNoAnswer
	case "CALL_REJECTED":
		return CauseRejected
	case "INVALID_NUMBER_FORMAT":
		return CauseInvalidNumber
	case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "NETWORK_OUT_OF_ORDER", "NORMAL_TEMPORARY_FAILURE":
		return CauseCongestion
	case "OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED":
		return CauseBarred
	case "USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT", "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION",
		"DESTINATION_OUT_OF_ORDER", "NO_ROUTE_TRANSIT_NET", "CHAN_NOT_IMPLEMENTED", "INVALID_GATEWAY":
		return CauseUnreachable
	}
	return CauseNoAnswer
}

// LegError is Ring's result when no leg answered.
type LegError struct {
	Causes []Cause // one per leg of the Ring request, in order
}

func (e *LegError) Error() string {
	var b strings.Builder
	b.WriteString("no leg answered:")
	for i, c := range e.Causes {
		fmt.Fprintf(&b, " %d=%v", i, c)
	}
	return b.String()
}

// Classify turns the causes of a ring nobody answered into the plan's outcome (DESIGN
// §2.7): the user's own device decides when it answered busy or declined (busy path) or
// could not be reached (not-connected path); otherwise nobody answered (no-answer path).
// Without a device leg (a forward to a number), the legs decide together: all busy or
// declined is busy, all unreachable or congested is unreachable, else no answer.
func Classify(legs []dialplan.Leg, causes []Cause) dialplan.Outcome {
	for i, l := range legs {
		if l.Kind == dialplan.LegDevice && i < len(causes) {
			switch causes[i] {
			case CauseBusy, CauseRejected:
				return dialplan.Busy
			case CauseUnreachable, CauseCongestion, CauseInvalidNumber, CauseBarred:
				return dialplan.Unreachable
			}
			return dialplan.NoAnswer
		}
	}
	busy, unreachable := 0, 0
	for _, c := range causes {
		switch c {
		case CauseBusy, CauseRejected:
			busy++
		case CauseUnreachable, CauseCongestion, CauseInvalidNumber, CauseBarred:
			unreachable++
		}
	}
	switch n := len(causes); {
	case n > 0 && busy == n:
		return dialplan.Busy
	case n > 0 && unreachable == n:
		return dialplan.Unreachable
	}
	return dialplan.NoAnswer
}

// Directory loads what a call needs about a user: config.Store implements it with one
// pipelined Redis round trip; MapDirectory over compiled sheets in memory.
type Directory interface {
	// CallView returns user uid's compiled sheet, device state and active calls; an
	// unknown user is an error wrapping config.ErrNotFound. The view is shared: callers
	// never modify it.
	CallView(ctx context.Context, uid string) (*config.CallView, error)
}

// NumberDirectory is a Directory that also finds a user by number: config.Store's
// CallViewByNumber. RunOutbound uses it, when the Directory has it, to turn a call to
// another user's number into that user's inbound call.
type NumberDirectory interface {
	Directory
	CallViewByNumber(ctx context.Context, num string) (*config.CallView, error)
}
