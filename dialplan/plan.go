package dialplan

import (
	"strconv"
	"strings"
)

// Rule names the DESIGN §2 rule that produced a step.
type Rule uint8

// Rules, in DESIGN §2 order. RuleNone is the zero value: no rule (an empty plan).
const (
	RuleNone          Rule = iota
	RuleLoopGuard          // §2.1
	RuleDND                // §2.2
	RuleUnconditional      // §2.3
	RuleScheduled          // §2.3
	RuleNotConnected       // §2.4, and a ring whose device turned out unreachable (§2.7)
	RuleBusy               // §2.5, and a ring whose device answered busy (§2.7)
	RuleRing               // §2.6
	RuleNoAnswer           // §2.7
)

var ruleNames = [...]string{"", "loop_guard", "dnd", "unconditional", "scheduled", "not_connected", "busy", "ring", "no_answer"}

// String returns the rule's name as traces and the API show it ("no_answer").
func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return "rule(" + strconv.Itoa(int(r)) + ")"
}

// Action is what a step does.
type Action uint8

// Actions.
const (
	// ActRing rings Step.Legs together for Step.TimeoutS, the caller hearing
	// Step.Ringback; the first leg to answer is bridged and the others stop at once.
	ActRing Action = iota + 1
	// ActForward forwards the call to Step.Target. To a number, it rings Step.Legs (one
	// outside leg) like ActRing; to "user:<id>" it routes the call again for that user
	// with Step.Divert appended to the diversion history (callflow.Run does it).
	ActForward
	// ActVoicemail sends the caller to Step.Mailbox's voicemail with Step.Greeting.
	ActVoicemail
	// ActBusy plays the user's busy sound (Step.Media, "" = the PBX's busy tone) and ends
	// the call as busy.
	ActBusy
	// ActUnavailable plays the unavailable announcement (Step.Media, "" = the PBX's
	// default) and ends the call.
	ActUnavailable
	// ActMissed ends the call unanswered: it is a missed call for the user.
	ActMissed
	// ActReject refuses the call (the loop guard's last resort).
	ActReject
)

var actionNames = [...]string{"", "ring", "forward", "voicemail", "busy", "unavailable", "missed", "reject"}

// String returns the action's name as traces show it.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Outcome is how a step ended; Step.Next maps each to the step that follows.
type Outcome uint8

// Outcomes of a step. A ring or outside forward ends Answered (a leg answered and was
// bridged), Busy (the device, or the forward's leg, answered busy or declined), NoAnswer
// (the timeout passed), Unreachable (the device or number could not be reached) or
// CallerHangup. A voicemail step ends Answered (the mailbox took the call) or Unreachable
// (no voicemail available). A forward to a user ends Unreachable when that user cannot
// be loaded. Terminal actions (busy, unavailable, missed, reject) have no successor.
const (
	Answered Outcome = iota
	Busy
	NoAnswer
	Unreachable
	CallerHangup
	NumOutcomes
)

var outcomeNames = [...]string{"answered", "busy", "no_answer", "unreachable", "caller_hangup"}

// String returns the outcome's name.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// End is the value of Step.Next for an outcome that ends the call.
const End = -1

// Greeting is which of the mailbox's greetings the caller hears.
type Greeting uint8

// Greetings.
const (
	GreetingUnavailable Greeting = iota // not connected, unconditional or scheduled forward, loop guard
	GreetingBusy                        // busy, DND
	GreetingNoAnswer                    // no answer
)

var greetingNames = [...]string{"unavailable", "busy", "no_answer"}

// String returns the greeting's name.
func (g Greeting) String() string {
	if int(g) < len(greetingNames) {
		return greetingNames[g]
	}
	return "greeting(" + strconv.Itoa(int(g)) + ")"
}

// LegKind says what a leg rings.
type LegKind uint8

// Leg kinds.
const (
	// LegDevice is the user's own device: Leg.Dial is its endpoint as stored
	// (PJSIP/alice, user/1000), dialed as is.
	LegDevice LegKind = iota + 1
	// LegNumber is an outside number (E.164) or internal extension: Leg.Dial is the
	// number, which the adapter dials through its trunk template.
	LegNumber
	// LegUserDevice is another user's device (a "user:<id>" simultaneous-ring target):
	// Leg.User names the user; callflow resolves Leg.Dial from that user's device.
	LegUserDevice
)

var legKindNames = [...]string{"", "device", "number", "user_device"}

// String returns the kind's name.
func (k LegKind) String() string {
	if int(k) < len(legKindNames) {
		return legKindNames[k]
	}
	return "leg(" + strconv.Itoa(int(k)) + ")"
}

// Reason is why a call was diverted, as diversion information carries it.
type Reason uint8

// Diversion reasons.
const (
	ReasonUnknown       Reason = iota
	ReasonUnconditional        // unconditional forward
	ReasonScheduled            // scheduled (time-of-day) forward
	ReasonDND                  // do not disturb (busy path)
	ReasonBusy                 // busy forward
	ReasonNoAnswer             // no-answer forward
	ReasonNotConnected         // not-connected forward
	ReasonSimultaneous         // a simultaneous-ring leg rung on the user's behalf
)

var reasonNames = [...]string{"unknown", "unconditional", "scheduled", "dnd", "busy", "no_answer", "not_connected", "simultaneous"}

// RFC 5806 (SIP Diversion) reason tokens, by Reason.
var reasonSIP = [...]string{"unknown", "unconditional", "time-of-day", "do-not-disturb", "user-busy", "no-answer", "unavailable", "follow-me"}

// String returns the reason's name ("no_answer").
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// SIP returns the reason as an RFC 5806 Diversion header's reason parameter
// ("no-answer", "user-busy", "time-of-day", "follow-me"…). Adapters map the same value to
// Asterisk's REDIRECTING(reason) and FreeSWITCH's sip_h_Diversion.
func (r Reason) SIP() string {
	if int(r) < len(reasonSIP) {
		return reasonSIP[r]
	}
	return "unknown"
}

// Party is a calling identity: a number and a display name. An empty Number means the
// number is withheld (anonymous).
type Party struct {
	Number string
	Name   string
}

// Diversion is one hop of a call's diversion history: User forwarded the call from Number
// for Reason.
type Diversion struct {
	User   string // the user id that forwarded ("" for a diversion from outside sophia)
	Number string // the diverting number: the user's number the call had reached
	Name   string // the forwarding user's display name
	Reason Reason
}

// Redirect is the diversion information a leg carries: the last diversion and how many
// hops the call has made so far (including this leg's own when it is a forward).
type Redirect struct {
	From   Party  // the diverting user's number and name
	User   string // the diverting user's id
	Reason Reason
	Count  int
}

// Leg is one call attempt a ring step makes.
type Leg struct {
	Kind LegKind
	// Target names the leg as traces and explain's respond do: "user:<id>" for a device
	// (the user's own or another user's), the number for an outside leg.
	Target string
	// Dial is what the adapter dials: the device endpoint as stored (LegDevice), the
	// number (LegNumber), "" for LegUserDevice until callflow resolves it.
	Dial string
	// User is whose device this leg rings (LegDevice, LegUserDevice).
	User string
	// CallerID is the identity the leg presents as calling party (package doc). Adapters
	// send CallerID.Number as the calling number (Asterisk: the channel's caller ID
	// number; FreeSWITCH: origination_caller_id_number); "" means withheld (anonymous,
	// with privacy). CallerID.Name is the caller's own name, for records.
	CallerID Party
	// Display is the calling name the ringing phone shows: per incoming_display on the
	// user's phones, CallerID.Name on outside legs. Adapters send it as the caller name
	// (Asterisk: caller ID name; FreeSWITCH: origination_caller_id_name).
	Display string
	// Asserted is, when CallerID.Number is withheld on a leg to the network, the number
	// the network may still see (P-Asserted-Identity with privacy): the user's main
	// number, else the site's. "" otherwise.
	Asserted string
	// Redirect is the diversion information to send with the leg; Count 0 means none.
	// Adapters send it as the redirecting party (Asterisk: REDIRECTING(from-num,
	// from-name, reason, count); FreeSWITCH: a Diversion header,
	// <sip:From.Number@…>;reason=Reason.SIP();counter=Count).
	Redirect Redirect
	// Confirm asks whoever answers this leg to press 1 before the call is theirs
	// (simultaneous_ring.confirm, outside legs only), so a mobile's own voicemail cannot
	// take the call (FreeSWITCH: group_confirm_key=1 on the leg; Asterisk: play a prompt
	// on the answered leg and wait for the digit before bridging).
	Confirm bool
}

// Skip records a forward or leg the engine left out, and why: the trace shows it.
type Skip struct {
	Rule   Rule
	Target string
	Reason string
}

// Step is one state of a Plan.
type Step struct {
	Rule   Rule
	Action Action
	// Legs rung by ActRing and by ActForward to a number.
	Legs []Leg
	// Target of ActForward: "user:<id>" or a number.
	Target string
	// TimeoutS is how long ActRing / ActForward-to-a-number rings, in seconds.
	TimeoutS int
	// Ringback is the media the caller hears while legs ring ("" = the PBX's ring tone).
	Ringback string
	// Mailbox is whose voicemail ActVoicemail reaches; Greeting which greeting plays.
	Mailbox  string
	Greeting Greeting
	// Media is the sound ActBusy / ActUnavailable plays ("" = the PBX's default).
	Media string
	// Divert is the diversion ActForward adds to the call's history.
	Divert Diversion
	// Skips are the forwards and legs left out while building this step.
	Skips []Skip
	// Next holds, for each Outcome, the index of the step that follows, or End.
	Next [NumOutcomes]int8
}

// Targets appends the step's targets as a trace shows them to dst: the legs of a ring,
// the forward's target, "voicemail"; nothing for a terminal step.
func (s *Step) Targets(dst []string) []string {
	switch s.Action {
	case ActRing:
		for i := range s.Legs {
			dst = append(dst, s.Legs[i].Target)
		}
	case ActForward:
		dst = append(dst, s.Target)
	case ActVoicemail:
		dst = append(dst, "voicemail")
	}
	return dst
}

// Inline capacities of a Plan: enough for every plan Decide builds from a sheet with up
// to maxInlineLegs-1 simultaneous-ring targets, so that deciding allocates only the Plan.
const (
	maxInlineSteps = 14 // ring + three chains of forward-to-a-number and its three ends
	maxInlineLegs  = 10 // the device, 6 simultaneous targets, the forward legs of three chains
	maxInlineSkips = 6
)

// Plan is what happens to one call for one user: Steps[0] first, then Step.Next. Build it
// with Decide or DecideInto. Steps' slices may point into storage the Plan reuses on its
// next decision: never copy a Plan (go vet's copylocks check catches copies), and copy out
// of a reused one what must outlive the next DecideInto.
type Plan struct {
	_     noCopy
	User  string // whose plan this is
	Steps []Step
	buf   *planBuf // the storage Steps point into, reused by the next DecideInto
}

// planBuf is a Plan's inline storage: enough for every plan of a valid sheet, so that
// deciding into a reused Plan allocates nothing.
type planBuf struct {
	steps [maxInlineSteps]Step
	legs  [maxInlineLegs]Leg
	skips [maxInlineSkips]Skip
	// used counts the inline entries the last decision wrote, so reset clears only those.
	usedSteps, usedLegs, usedSkips int
	// b lives here: a pointer to it escapes through the rules' func values, and a
	// builder of its own would cost an allocation per decision.
	b builder
}

// noCopy makes go vet report copies of a Plan.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// reset empties p for a decision, keeping its storage. Entries are overwritten whole as
// the plan is built; done clears what the previous decision used beyond.
func (p *Plan) reset(user string) {
	if p.buf == nil {
		p.buf = new(planBuf)
	}
	p.User = user
	p.Steps = p.buf.steps[:0]
}

// done records how much of the storage the decision used, and clears what the previous
// one used beyond it, so that a reused Plan keeps no stale reference to old sheets.
func (b *planBuf) done(steps, legs, skips int) {
	steps, legs, skips = min(steps, maxInlineSteps), min(legs, maxInlineLegs), min(skips, maxInlineSkips)
	if b.usedSteps > steps {
		clear(b.steps[steps:b.usedSteps])
	}
	if b.usedLegs > legs {
		clear(b.legs[legs:b.usedLegs])
	}
	if b.usedSkips > skips {
		clear(b.skips[skips:b.usedSkips])
	}
	b.usedSteps, b.usedLegs, b.usedSkips = steps, legs, skips
}

// String sums the plan up as "rule: action targets" of its first step, e.g.
// "dnd: forward user:bob" or "ring: ring user:alice,+33612345678": what tests compare.
func (p *Plan) String() string {
	if len(p.Steps) == 0 {
		return "(empty plan)"
	}
	return p.Steps[0].summary()
}

func (s *Step) summary() string {
	var b strings.Builder
	b.WriteString(s.Rule.String())
	b.WriteString(": ")
	b.WriteString(s.Action.String())
	var buf [8]string
	if ts := s.Targets(buf[:0]); len(ts) > 0 && s.Action != ActVoicemail {
		b.WriteByte(' ')
		b.WriteString(strings.Join(ts, ","))
	}
	return b.String()
}

// Describe renders the whole state machine, one step a line, for golden files and
// debugging:
//
//	0 ring: ring user:alice 20s ringback=ring-lyon → busy:1 no_answer:3 unreachable:5
//	1 busy: forward user:bob divert=alice/busy → unreachable:2
func (p *Plan) Describe() string {
	var b strings.Builder
	for i := range p.Steps {
		s := &p.Steps[i]
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(' ')
		b.WriteString(s.summary())
		if s.TimeoutS > 0 {
			b.WriteString(" " + strconv.Itoa(s.TimeoutS) + "s")
		}
		if s.Ringback != "" {
			b.WriteString(" ringback=" + s.Ringback)
		}
		if s.Action == ActVoicemail {
			b.WriteString(" mailbox=" + s.Mailbox + " greeting=" + s.Greeting.String())
		}
		if s.Media != "" {
			b.WriteString(" media=" + s.Media)
		}
		if s.Action == ActForward {
			b.WriteString(" divert=" + s.Divert.User + "/" + s.Divert.Reason.String())
		}
		first := true
		for o := Outcome(0); o < NumOutcomes; o++ {
			if s.Next[o] == End {
				continue
			}
			if first {
				b.WriteString(" →")
				first = false
			}
			b.WriteString(" " + o.String() + ":" + strconv.Itoa(int(s.Next[o])))
		}
		for _, k := range s.Skips {
			b.WriteString("\n  skipped " + k.Rule.String() + " " + k.Target + ": " + k.Reason)
		}
		for _, l := range s.Legs {
			b.WriteString("\n  leg " + l.Kind.String() + " " + l.Target + " dial=" + l.Dial +
				" cid=" + strconv.Quote(l.CallerID.Number) + "/" + strconv.Quote(l.CallerID.Name) +
				" display=" + strconv.Quote(l.Display))
			if l.Redirect.Count > 0 {
				b.WriteString(" redirect=" + l.Redirect.From.Number + "/" + l.Redirect.User + "/" +
					l.Redirect.Reason.String() + "/" + strconv.Itoa(l.Redirect.Count))
			}
			if l.Confirm {
				b.WriteString(" confirm")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
