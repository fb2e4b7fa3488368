package callflow

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// Severity of an advice item.
type Severity string

// Severities, most serious first.
const (
	SeverityError   Severity = "error"   // calls do not go where the sheet seems to say
	SeverityWarning Severity = "warning" // calls are likely lost, or something will fill up
	SeverityInfo    Severity = "info"    // good practice
)

// Advice is one item of GET /v1/users/{id}/advice (sophiactl lint): a practice the sheet
// does not follow. Code is stable (scripts filter on it), Field the sheet path it is
// about, Message a sentence for the admin.
type Advice struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Field    string   `json:"field"`
	Message  string   `json:"message"`
}

// Advice codes.
const (
	AdviceMobileNotRung       = "mobile_not_rung"
	AdviceNoNotConnected      = "no_not_connected_forward"
	AdviceMailboxFills        = "mailbox_fills_up"
	AdvicePersonalPresented   = "personal_presented_number"
	AdvicePresentedNotAllowed = "presented_number_not_allowed"
	AdviceForwardLoop         = "forward_loop"
	AdviceScheduledNoEnd      = "scheduled_without_end"
	AdviceUnconditionalLong   = "unconditional_left_on"
	AdviceNoConfirm           = "simultaneous_without_confirm"
)

// AdviceOptions are the facts advice needs besides sheets.
type AdviceOptions struct {
	// Now is the time of the check (zero: time.Now()).
	Now time.Time
	// UnconditionalSince is when the unconditional forward was last turned on (from the
	// audit log); zero when unknown, which skips the unconditional_left_on check.
	UnconditionalSince time.Time
	// StaleAfter is how long an unconditional forward to an outside number may stay on
	// before it is reported; zero means DefaultStaleAfter.
	StaleAfter time.Duration
}

// DefaultStaleAfter is when an unconditional forward to an outside number is "left on".
const DefaultStaleAfter = 14 * 24 * time.Hour

// Advise checks user uid's sheet, following its forwards to other users through dir to
// find loops, and returns the items found, most serious first, then by field. An unknown
// uid is dir's error.
func Advise(ctx context.Context, dir Directory, uid string, opt AdviceOptions) ([]Advice, error) {
	v, err := dir.CallView(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("advise %q: %w", uid, err)
	}
	c := v.User
	s := c.Sheet
	var out []Advice
	add := func(code string, sev Severity, field, format string, args ...any) {
		out = append(out, Advice{Code: code, Severity: sev, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	f := &s.Forwards

	// An associated mobile the user's calls never reach.
	for i, a := range s.AssociatedNumbers {
		if !isMobile(a, c.Site.Region) {
			continue
		}
		rung := f.SimultaneousRing.Enabled && slices.Contains(f.SimultaneousRing.Targets, a.Number) ||
			f.NoAnswer.Enabled && f.NoAnswer.Target == a.Number ||
			f.Unconditional.Enabled && f.Unconditional.Target == a.Number
		if !rung {
			add(AdviceMobileNotRung, SeverityWarning, fmt.Sprintf("associated_numbers[%d].number", i),
				"calls to the desk never reach the mobile %s: ring it with the device (simultaneous ring) or make it the no-answer forward", a.Number)
		}
	}
	if sr := &f.SimultaneousRing; sr.Enabled && !sr.Confirm {
		for _, t := range sr.Targets {
			if _, isUser := config.UserTarget(t); !isUser && t != config.TargetVoicemail {
				add(AdviceNoConfirm, SeverityInfo, "forwards.simultaneous_ring.confirm",
					"%s rings with the device without \"press 1 to accept\": its own voicemail can take the call before anyone answers", t)
				break
			}
		}
	}

	// Calls when the phone is off.
	if !f.NotConnected.Enabled {
		if s.Voicemail.Enabled {
			add(AdviceNoNotConnected, SeverityInfo, "forwards.not_connected",
				"no not-connected forward: while the phone is off or unregistered, calls go to voicemail; a forward (to a mobile, a colleague) would reach someone")
		} else {
			add(AdviceNoNotConnected, SeverityWarning, "forwards.not_connected",
				"no not-connected forward and no voicemail: while the phone is off or unregistered, callers only hear an announcement and the calls are lost")
		}
	}

	// A mailbox that only grows.
	vm := &s.Voicemail
	if vm.Enabled && vm.Email.Enabled && !vm.Email.DeleteAfterEmail && vm.RetentionDays == 0 {
		add(AdviceMailboxFills, SeverityWarning, "voicemail.email.delete_after_email",
			"messages are emailed but neither deleted after email nor expired (retention_days 0): the mailbox fills up at %d messages and then takes no more", vm.MaxMessages)
	}

	// The presented number.
	if pn := s.PresentedNumber; pn.Mode == config.PresentAssociated {
		const field = "presented_number.number"
		i := slices.IndexFunc(s.AssociatedNumbers, func(a config.AssociatedNumber) bool { return a.Number == pn.Number })
		switch {
		case i < 0 || !s.AssociatedNumbers[i].Presentation:
			shown := "nothing"
			if num, hidden := dialplan.Presented(c); !hidden {
				shown = num
			}
			add(AdvicePresentedNotAllowed, SeverityError, field,
				"%s is not an associated number allowed for presentation: calls present %s instead", pn.Number, shown)
		case isMobile(s.AssociatedNumbers[i], c.Site.Region):
			add(AdvicePersonalPresented, SeverityWarning, field,
				"the personal mobile %s is presented as caller ID: people will call it back directly, bypassing forwards and voicemail; present the main or the site number", pn.Number)
		}
	}

	// Scheduled rules that never end.
	for i, r := range f.Scheduled {
		if r.Enabled && r.Until == "" {
			add(AdviceScheduledNoEnd, SeverityInfo, fmt.Sprintf("forwards.scheduled[%d].until", i),
				"scheduled rule %d (to %s) has no end date: it applies until someone turns it off", i+1, r.Target)
		}
	}

	// An unconditional forward out of the company, left on.
	if u := &f.Unconditional; u.Enabled && !opt.UnconditionalSince.IsZero() {
		_, isUser := config.UserTarget(u.Target)
		if !isUser && u.Target != config.TargetVoicemail && c.Class(u.Target) != config.ClassInternal {
			now, stale := opt.Now, opt.StaleAfter
			if now.IsZero() {
				now = time.Now()
			}
			if stale <= 0 {
				stale = DefaultStaleAfter
			}
			if on := now.Sub(opt.UnconditionalSince); on >= stale {
				add(AdviceUnconditionalLong, SeverityWarning, "forwards.unconditional",
					"every call has been forwarded to the outside number %s for %d days: is it still wanted?", u.Target, int(on.Hours()/24))
			}
		}
	}

	loops, err := forwardLoops(ctx, dir, c)
	if err != nil {
		return nil, fmt.Errorf("advise %q: %w", uid, err)
	}
	out = append(out, loops...)

	rank := map[Severity]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}
	slices.SortStableFunc(out, func(a, b Advice) int {
		return cmp.Or(cmp.Compare(rank[a.Severity], rank[b.Severity]), cmp.Compare(a.Field, b.Field))
	})
	return out, nil
}

// isMobile reports whether an associated number is a mobile: the numbering plan says so,
// or its label does.
func isMobile(a config.AssociatedNumber, region string) bool {
	l := strings.ToLower(a.Label)
	for _, w := range []string{"mobile", "portable", "cell", "gsm", "handy"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	n, err := phonenumbers.Parse(a.Number, region)
	return err == nil && phonenumbers.GetNumberType(n) == phonenumbers.MOBILE
}

// forwardEdge is one forward of a sheet to another user.
type forwardEdge struct {
	field, why, to string
}

func userForwards(s *config.Sheet) []forwardEdge {
	var es []forwardEdge
	add := func(enabled bool, target, field, why string) {
		if id, ok := config.UserTarget(target); ok && enabled && id != "" {
			es = append(es, forwardEdge{field: field, why: why, to: id})
		}
	}
	f := &s.Forwards
	add(f.Unconditional.Enabled, f.Unconditional.Target, "forwards.unconditional.target", "unconditional")
	for i, r := range f.Scheduled {
		add(r.Enabled, r.Target, fmt.Sprintf("forwards.scheduled[%d].target", i), "scheduled")
	}
	add(f.NotConnected.Enabled, f.NotConnected.Target, "forwards.not_connected.target", "not_connected")
	add(f.Busy.Enabled, f.Busy.Target, "forwards.busy.target", "busy")
	add(f.NoAnswer.Enabled, f.NoAnswer.Target, "forwards.no_answer.target", "no_answer")
	return es
}

// forwardLoops finds, for each forward of c's user to another user, whether following
// forwards from there comes back to the user: one item per such forward, naming a
// shortest chain. Users that cannot be loaded end a chain.
func forwardLoops(ctx context.Context, dir Directory, c *config.Compiled) ([]Advice, error) {
	self := c.Sheet.ID
	cache := map[string][]forwardEdge{self: userForwards(c.Sheet)}
	edges := func(uid string) ([]forwardEdge, error) {
		if es, ok := cache[uid]; ok {
			return es, nil
		}
		v, err := dir.CallView(ctx, uid)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			cache[uid] = nil
			return nil, nil
		}
		es := userForwards(v.User.Sheet)
		cache[uid] = es
		return es, nil
	}
	var out []Advice
	for _, first := range cache[self] {
		// Breadth first from the forward's target: the shortest way back to self.
		type node struct {
			uid   string
			chain []string
		}
		queue := []node{{first.to, []string{self + " →(" + first.why + ") " + first.to}}}
		seen := map[string]bool{first.to: true}
		var found []string
		for len(queue) > 0 && found == nil {
			n := queue[0]
			queue = queue[1:]
			if n.uid == self {
				found = n.chain
				break
			}
			if len(n.chain) > dialplan.MaxHops {
				continue
			}
			es, err := edges(n.uid)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				if seen[e.to] && e.to != self {
					continue
				}
				seen[e.to] = true
				queue = append(queue, node{e.to, append(slices.Clip(n.chain), "→("+e.why+") "+e.to)})
			}
		}
		if found != nil {
			out = append(out, Advice{Code: AdviceForwardLoop, Severity: SeverityWarning, Field: first.field,
				Message: "forwards loop back: " + strings.Join(found, " ") +
					"; the loop guard stops such calls at the device or voicemail, but callers may wait through every hop"})
		}
	}
	return out, nil
}

// UnconditionalSince returns since when the unconditional forward has been as it is now,
// from the user's audit entries (config.Store.Audit, newest first): the time of the
// newest entry that changed forwards.unconditional (turned on, or retargeted), else,
// when the audit kept no such entry, the oldest entry's (a lower bound). Zero without
// entries. The API passes it as AdviceOptions.UnconditionalSince.
func UnconditionalSince(entries []config.AuditEntry) time.Time {
	for _, e := range entries {
		for _, c := range e.Changes {
			if c.Path == "forwards.unconditional" || strings.HasPrefix(c.Path, "forwards.unconditional.") {
				return e.At
			}
		}
	}
	if n := len(entries); n > 0 {
		return entries[n-1].At
	}
	return time.Time{}
}
