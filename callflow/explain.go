package callflow

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// ExplainParams are the hypotheses of an explained call (GET /v1/users/{id}/route).
type ExplainParams struct {
	At     time.Time // when the call happens; zero means now
	From   string    // the caller's number ("" = withheld)
	To     string    // the number dialed; "" means the user's main number
	Active int       // the user's calls in progress
	// Respond says how targets behave: "user:<id>" (that user's device) or a number →
	// Answer, NoAnswer, Busy or Offline. A target not named does not answer; a device not
	// named is online. Offline also makes the device's state offline for the decision.
	Respond map[string]Behavior
}

// ParseExplainQuery reads the route query: at (RFC 3339), from, to, active, and repeated
// respond=<target>=<answer|no_answer|busy|offline>. A '+' in a query value decodes as a
// space: a number arriving as " 33612345678" is read as "+33612345678". Errors name the
// parameter.
func ParseExplainQuery(q url.Values) (ExplainParams, error) {
	var p ExplainParams
	for k := range q {
		switch k {
		case "at", "from", "to", "active", "respond":
		default:
			return p, fmt.Errorf("%s: unknown parameter (want at, from, to, active, respond)", k)
		}
	}
	if s := q.Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return p, fmt.Errorf("at: %q is not an RFC 3339 time (2026-12-07T19:30:00+01:00)", s)
		}
		p.At = t
	}
	p.From, p.To = plusNumber(q.Get("from")), plusNumber(q.Get("to"))
	if s := q.Get("active"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			return p, fmt.Errorf("active: %q is not a number of calls (0 to 1000)", s)
		}
		p.Active = n
	}
	for _, r := range q["respond"] {
		i := strings.LastIndexByte(r, '=')
		if i <= 0 {
			return p, fmt.Errorf("respond: %q is not <target>=<response>", r)
		}
		target, resp := plusNumber(r[:i]), r[i+1:]
		if target == "" {
			return p, fmt.Errorf("respond: %q is not <target>=<response>", r)
		}
		b, ok := ParseBehavior(resp)
		if !ok || b > Offline {
			return p, fmt.Errorf("respond: %q: response must be answer, no_answer, busy or offline", r)
		}
		if p.Respond == nil {
			p.Respond = map[string]Behavior{}
		}
		if _, dup := p.Respond[target]; dup {
			return p, fmt.Errorf("respond: %s given twice", target)
		}
		p.Respond[target] = b
	}
	return p, nil
}

// plusNumber undoes a query's '+' → ' ' on a leading plus.
func plusNumber(s string) string {
	if len(s) > 1 && s[0] == ' ' && s[1] >= '0' && s[1] <= '9' {
		return "+" + s[1:]
	}
	return strings.TrimSpace(s)
}

// Explanation is the answer of GET /v1/users/{id}/route: the steps a call would take, and
// how it would end.
type Explanation struct {
	User    string      `json:"user"`
	Trace   []TraceStep `json:"trace"`
	Outcome Outcome     `json:"outcome"`
}

// Explain tells what happens to a call to uid under p, without a call: Run, the executor
// the adapters use, on a Sim driver whose endpoints behave as p.Respond says, over dir
// (the store, or a MapDirectory of hypothetical sheets). Devices not named in Respond are
// online; users other than uid have no call in progress. A uid dir does not know is an
// error wrapping dir's (config.ErrNotFound from the store).
func Explain(ctx context.Context, dir Directory, uid string, p ExplainParams) (*Explanation, error) {
	at := p.At
	if at.IsZero() {
		at = time.Now()
	}
	sim := &Sim{Scripts: map[string]Script{}}
	for t, b := range p.Respond {
		sim.Scripts[t] = Script{Behavior: b}
	}
	xd := &explainDirectory{dir: dir, respond: p.Respond, uid: uid, active: p.Active}
	view, err := xd.CallView(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("explain a call to %q: %w", uid, err)
	}
	to := p.To
	if to == "" {
		to = view.User.Sheet.MainNumber
	}
	call := &Call{User: uid, From: dialplan.Party{Number: p.From}, To: to, View: view}
	res, err := Run(ctx, call, sim, xd, &Options{Now: func() time.Time { return at }})
	if err != nil {
		return nil, fmt.Errorf("explain a call to %q: %w", uid, err)
	}
	return &Explanation{User: uid, Trace: res.Trace, Outcome: res.Outcome}, nil
}

// explainDirectory presents the hypotheses: device states per respond, active calls.
type explainDirectory struct {
	dir     Directory
	respond map[string]Behavior
	uid     string
	active  int
}

func (x *explainDirectory) CallView(ctx context.Context, uid string) (*config.CallView, error) {
	v, err := x.dir.CallView(ctx, uid)
	if err != nil {
		return nil, err
	}
	cp := *v // the store's view is shared: never modify it
	cp.Device, cp.ActiveCalls = config.DeviceOnline, 0
	if x.respond[config.TargetUserPrefix+uid] == Offline {
		cp.Device = config.DeviceOffline
	}
	if uid == x.uid {
		cp.ActiveCalls = x.active
	}
	return &cp, nil
}

// WriteText writes the explanation as readable steps (sophiactl route):
//
//	alice  ring       ring user:alice, +33612345678 for 20 s
//	alice  no_answer  voicemail
//	→ voicemail of alice
func (e *Explanation) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range e.Trace {
		fmt.Fprintf(&b, "%-10s %-14s %s", s.User, s.Rule, s.Action)
		if s.Action != "voicemail" && len(s.Targets) > 0 {
			b.WriteString(" " + strings.Join(s.Targets, ", "))
		}
		if s.TimeoutS > 0 {
			fmt.Fprintf(&b, " for %d s", s.TimeoutS)
		}
		b.WriteByte('\n')
		for _, k := range s.Skipped {
			if k.Target == "" {
				fmt.Fprintf(&b, "%-10s %-14s   (%s)\n", "", "", k.Reason)
				continue
			}
			fmt.Fprintf(&b, "%-10s %-14s   skipped %s: %s\n", "", "", k.Target, k.Reason)
		}
	}
	o := e.Outcome
	switch o.Kind {
	case OutcomeAnswered:
		fmt.Fprintf(&b, "→ answered by %s\n", o.By)
	case OutcomeVoicemail:
		fmt.Fprintf(&b, "→ voicemail of %s\n", o.By)
	default:
		fmt.Fprintf(&b, "→ %s (%s, %s)\n", o.Kind, o.By, o.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
