package dialplan

import (
	"fmt"

	"github.com/sophia-pbx/sophia/config"
)

// OutboundInput is all an outbound decision may look at.
type OutboundInput struct {
	// User is the caller's compiled sheet (with its site). Required.
	User *config.Compiled
	// Dialed is what the user dialed, as the PBX got it: digits, '*', '#', a leading '+'.
	Dialed string
	// Active is the user's calls in progress, not counting this one.
	Active int
}

// Refusal says why an outbound call is refused.
type Refusal uint8

// Refusals, in the order DecideOutbound checks them.
const (
	RefusedNone     Refusal = iota
	RefusedMaxCalls         // the user is at max_simultaneous_calls
	RefusedPrefix           // a CLI prefix that cannot be used (malformed, or a number the user may not present)
	RefusedNumber           // not a number: neither a short number, an extension nor a valid phone number
	RefusedPolicy           // the site's outside-call policy refuses the destination
	RefusedNoUser           // no sheet to decide by
)

var refusalNames = [...]string{"", "max_calls", "cli_prefix", "invalid_number", "outside_policy", "no_user"}

// String returns the refusal's code, as call records and metrics carry it.
func (r Refusal) String() string {
	if int(r) < len(refusalNames) {
		return refusalNames[r]
	}
	return "unknown"
}

// OutboundPlan is what happens to an outbound call.
type OutboundPlan struct {
	// Refused is set when the call must not go out; Reason says why in words for a trace
	// or an announcement log.
	Refused Refusal
	Reason  string
	// CLI is the per-call prefix found in the dialed string.
	CLI CLIChoice
	// Short is the short number used, nil when none (it points into the user's sheet).
	Short *config.ShortNumber
	// Number is the destination, normalized: E.164 or an internal extension. A number
	// that belongs to another user is the adapter's to find (its number index): the call
	// is then also that user's inbound call.
	Number string
	Class  config.NumberClass
	// CallerID is what the call presents: a number the user may present and the user's
	// name, or nothing when Hidden.
	CallerID Party
	Hidden   bool
	// Asserted is the user's identity for the network when the number is withheld
	// (P-Asserted-Identity with privacy): the main number, else the site's; "" if none.
	// When not hidden it equals CallerID.Number.
	Asserted string
}

// DecideOutbound returns the plan for a call the user places: max simultaneous calls, the
// CLI prefix, short-number expansion, the number's class and the site's outside-call
// policy, then the presented number (never one the user may not present: MayPresent).
//
// Unlike Decide it may allocate: a dialed number that is neither a short number nor an
// extension is parsed with the phone-number library (config.NormalizeNumber,
// config.ClassifyNumber); short numbers use the classes compiled with the sheet.
func DecideOutbound(in *OutboundInput) OutboundPlan {
	var p OutboundPlan
	c := in.User
	if c == nil || c.Sheet == nil || c.Site == nil {
		p.Refused, p.Reason = RefusedNoUser, "no settings for the caller"
		return p
	}
	s := c.Sheet
	limit := s.Advanced.MaxSimultaneousCalls
	if limit <= 0 {
		limit = config.DefaultMaxSimultaneousCalls
	}
	if in.Active >= limit {
		p.Refused, p.Reason = RefusedMaxCalls, fmt.Sprintf("the user already has %d calls (max_simultaneous_calls %d)", in.Active, limit)
		return p
	}
	choice, rest, err := ParseCLIPrefix(in.Dialed)
	if err != nil {
		p.Refused, p.Reason = RefusedPrefix, err.Error()
		return p
	}
	p.CLI = choice
	switch {
	case shortNumber(s, rest) != nil:
		p.Short = shortNumber(s, rest)
		p.Number, p.Class = p.Short.Number, c.Class(p.Short.Number)
	case config.IsExtension(rest):
		p.Number, p.Class = rest, config.ClassInternal
	default:
		num, err := config.NormalizeNumber(rest, c.Site.Region)
		if err != nil {
			p.Refused, p.Reason = RefusedNumber, fmt.Sprintf("%q is neither a short number, an extension nor a valid phone number", rest)
			return p
		}
		p.Number, p.Class = num, config.ClassifyNumber(num, c.Site.Region)
	}
	if ok, why := c.Site.OutsideCalls.Allows(p.Number, p.Class); !ok {
		p.Refused, p.Reason = RefusedPolicy, p.Number+": "+why
		return p
	}
	num, hidden, why := presented(c, choice)
	if why != "" {
		p.Refused, p.Reason = RefusedPrefix, choice.String()+": "+why
		return p
	}
	p.Hidden = hidden
	if hidden {
		p.Asserted, _ = defaultPresentedNumber(c)
	} else {
		p.CallerID = Party{Number: num, Name: s.Name}
		p.Asserted = num
	}
	return p
}

func shortNumber(s *config.Sheet, code string) *config.ShortNumber {
	for i := range s.ShortNumbers {
		if s.ShortNumbers[i].Code == code {
			return &s.ShortNumbers[i]
		}
	}
	return nil
}

// presented applies a CLI choice: the number to present, or hidden; why is set when the
// prefix asks for a number the user may not present.
func presented(c *config.Compiled, choice CLIChoice) (num string, hidden bool, why string) {
	s := c.Sheet
	switch choice.Mode {
	case CLIHide:
		return "", true, ""
	case CLIMain:
		if s.MainNumber == "" {
			return "", false, "the user has no main number"
		}
		return s.MainNumber, false, ""
	case CLISite:
		if c.Site.Number == "" {
			return "", false, "the site has no number"
		}
		return c.Site.Number, false, ""
	case CLIAssociated:
		i := choice.Index - 1
		switch {
		case i < 0 || i >= len(s.AssociatedNumbers):
			return "", false, fmt.Sprintf("the user has no associated number %d", choice.Index)
		case !s.AssociatedNumbers[i].Presentation:
			return "", false, fmt.Sprintf("associated number %d is not allowed for presentation", choice.Index)
		}
		return s.AssociatedNumbers[i].Number, false, ""
	}
	num, hidden = defaultPresented(c)
	return num, hidden, ""
}

// Presented returns the number the user presents on a call without CLI prefix: the
// sheet's presented_number when the user may present it, else the main number, else the
// site's, else none (hidden). Anonymous is hidden.
func Presented(c *config.Compiled) (num string, hidden bool) { return defaultPresented(c) }

// defaultPresented is the sheet's presented_number, falling back to a number the user may
// present when the chosen one is missing or no longer allowed: main, then the site's
// number, else hidden. Anonymous is hidden.
func defaultPresented(c *config.Compiled) (num string, hidden bool) {
	s := c.Sheet
	switch s.PresentedNumber.Mode {
	case config.PresentAnonymous:
		return "", true
	case config.PresentAssociated:
		if n := s.PresentedNumber.Number; n != "" && mayPresentAssociated(s, n) {
			return n, false
		}
	case config.PresentSite:
		if c.Site.Number != "" {
			return c.Site.Number, false
		}
	}
	num, ok := defaultPresentedNumber(c)
	return num, !ok
}

// defaultPresentedNumber is the main number, else the site's number.
func defaultPresentedNumber(c *config.Compiled) (string, bool) {
	if c.Sheet.MainNumber != "" {
		return c.Sheet.MainNumber, true
	}
	if c.Site.Number != "" {
		return c.Site.Number, true
	}
	return "", false
}

func mayPresentAssociated(s *config.Sheet, num string) bool {
	for i := range s.AssociatedNumbers {
		if a := &s.AssociatedNumbers[i]; a.Number == num && a.Presentation {
			return true
		}
	}
	return false
}

// MayPresent reports whether the user may present num as caller ID: the main number, an
// associated number marked for presentation, or the site's number (DESIGN §1). Never
// another user's number.
func MayPresent(c *config.Compiled, num string) bool {
	if num == "" {
		return false
	}
	return num == c.Sheet.MainNumber || num == c.Site.Number || mayPresentAssociated(c.Sheet, num)
}
