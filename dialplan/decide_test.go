package dialplan

import (
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// Edits applied to Alice's base sheet.
func setDND(s *config.Sheet) { s.DND = true }
func uncond(target string) func(*config.Sheet) {
	return func(s *config.Sheet) { s.Forwards.Unconditional = config.Forward{Enabled: true, Target: target} }
}
func busyFwd(target string) func(*config.Sheet) {
	return func(s *config.Sheet) { s.Forwards.Busy = config.Forward{Enabled: true, Target: target} }
}
func notConnFwd(target string) func(*config.Sheet) {
	return func(s *config.Sheet) { s.Forwards.NotConnected = config.Forward{Enabled: true, Target: target} }
}
func noAnswerFwd(target string) func(*config.Sheet) {
	return func(s *config.Sheet) {
		s.Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: target, TimeoutS: 25}
	}
}
func simRing(confirm bool, targets ...string) func(*config.Sheet) {
	return func(s *config.Sheet) {
		s.Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: targets, Confirm: confirm}
	}
}
func evenings(target string) func(*config.Sheet) {
	return func(s *config.Sheet) {
		s.Forwards.Scheduled = append(s.Forwards.Scheduled, config.ScheduledRule{
			Enabled: true, Target: target, From: "2026-12-01", Until: "2026-12-31",
			Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "18:00", End: "08:00"})
	}
}
func noVoicemail(s *config.Sheet) { s.Voicemail.Enabled = false }
func noDevice(s *config.Sheet)    { s.Device = nil }
func noCallWaiting(s *config.Sheet) {
	s.Advanced.CallWaiting = false
}
func all(edits ...func(*config.Sheet)) func(*config.Sheet) {
	return func(s *config.Sheet) {
		for _, e := range edits {
			e(s)
		}
	}
}

func TestDecideInbound(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	monEvening := time.Date(2026, 12, 7, 19, 30, 0, 0, paris) // inside evenings()
	monMorning := time.Date(2026, 12, 7, 10, 0, 0, 0, paris)  // outside it
	loop := []Diversion{{User: "bob", Number: "+33478000002", Reason: ReasonBusy}, {User: "alice", Reason: ReasonNoAnswer}}
	five := []Diversion{{User: "u1"}, {User: "u2"}, {User: "u3"}, {User: "u4"}, {User: "u5"}}
	four := five[:4]
	tests := []struct {
		name     string
		edit     func(*config.Sheet)
		device   config.DeviceState
		active   int
		history  []Diversion
		now      time.Time
		outcomes []Outcome // followed from the first step
		want     string
	}{
		// §2.6 / §2.7: ring, then what no answer, busy and unreachable lead to.
		{name: "plain ring", want: "ring: ring user:alice"},
		{name: "unknown device state rings", device: config.DeviceUnknown, want: "ring: ring user:alice"},
		{name: "no answer reaches voicemail", outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: voicemail"},
		{name: "no answer without voicemail is missed", edit: noVoicemail, outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: missed"},
		{name: "no answer forward to a user", edit: noAnswerFwd("user:bob"), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: forward user:bob"},
		{name: "no answer forward to a number", edit: noAnswerFwd(aliceMobile), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: forward " + aliceMobile},
		{name: "no answer forward to voicemail", edit: all(noAnswerFwd("voicemail")), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: voicemail"},
		{name: "no answer forward to a blocked number falls to voicemail", edit: noAnswerFwd(ukNumber), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: voicemail"},
		{name: "no answer forward to voicemail when voicemail is off is missed", edit: all(noVoicemail, noAnswerFwd("voicemail")), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: missed"},
		{name: "no answer forward to the user itself is skipped", edit: noAnswerFwd("user:alice"), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: voicemail"},
		{name: "no answer forward to the own main number is skipped", edit: noAnswerFwd(aliceMain), outcomes: []Outcome{NoAnswer}, want: "ring: ring user:alice → no_answer: voicemail"},
		{name: "device answering busy takes the busy path", edit: busyFwd("user:bob"), outcomes: []Outcome{Busy}, want: "ring: ring user:alice → busy: forward user:bob"},
		{name: "device answering busy without forward reaches voicemail", outcomes: []Outcome{Busy}, want: "ring: ring user:alice → busy: voicemail"},
		{name: "device answering busy without voicemail hears busy", edit: noVoicemail, outcomes: []Outcome{Busy}, want: "ring: ring user:alice → busy: busy"},
		{name: "device unreachable takes the not-connected path", edit: notConnFwd(aliceMobile), outcomes: []Outcome{Unreachable}, want: "ring: ring user:alice → not_connected: forward " + aliceMobile},
		{name: "device unreachable without forward reaches voicemail", outcomes: []Outcome{Unreachable}, want: "ring: ring user:alice → not_connected: voicemail"},
		{name: "device unreachable without voicemail hears unavailable", edit: noVoicemail, outcomes: []Outcome{Unreachable}, want: "ring: ring user:alice → not_connected: unavailable"},
		{name: "answered ends", outcomes: []Outcome{Answered}, want: "ring: ring user:alice → end"},
		{name: "caller hangup ends", outcomes: []Outcome{CallerHangup}, want: "ring: ring user:alice → end"},
		{name: "voicemail unavailable after no answer is missed", outcomes: []Outcome{NoAnswer, Unreachable}, want: "ring: ring user:alice → no_answer: voicemail → no_answer: missed"},
		{name: "voicemail unavailable after busy hears busy", outcomes: []Outcome{Busy, Unreachable}, want: "ring: ring user:alice → busy: voicemail → busy: busy"},
		{name: "voicemail unavailable after unreachable hears unavailable", outcomes: []Outcome{Unreachable, Unreachable}, want: "ring: ring user:alice → not_connected: voicemail → not_connected: unavailable"},

		// §2.6: simultaneous ring.
		{name: "simultaneous ring adds legs", edit: simRing(true, aliceMobile, "user:bob"), want: "ring: ring user:alice," + aliceMobile + ",user:bob"},
		{name: "simultaneous ring off adds none", edit: all(simRing(true, aliceMobile), func(s *config.Sheet) { s.Forwards.SimultaneousRing.Enabled = false }), want: "ring: ring user:alice"},
		{name: "simultaneous ring skips what cannot ring", edit: simRing(false, ukNumber, "voicemail", "user:alice", aliceMobile, aliceMobile, aliceMain), want: "ring: ring user:alice," + aliceMobile},

		// §2.5: busy.
		{name: "busy at max calls takes the busy forward", edit: busyFwd("user:bob"), active: 2, want: "busy: forward user:bob"},
		{name: "busy at max calls reaches voicemail", active: 2, want: "busy: voicemail"},
		{name: "busy without voicemail hears busy", edit: noVoicemail, active: 2, want: "busy: busy"},
		{name: "one call with call waiting rings", active: 1, want: "ring: ring user:alice"},
		{name: "one call without call waiting is busy", edit: noCallWaiting, active: 1, want: "busy: voicemail"},
		{name: "max 1 call", edit: func(s *config.Sheet) { s.Advanced.MaxSimultaneousCalls = 1 }, active: 1, want: "busy: voicemail"},
		{name: "busy forward refused by policy is skipped", edit: busyFwd(ukNumber), active: 2, want: "busy: voicemail"},

		// §2.4: not connected, before busy.
		{name: "no device", edit: all(noDevice, notConnFwd(aliceMobile)), want: "not_connected: forward " + aliceMobile},
		{name: "device offline", edit: notConnFwd("user:bob"), device: config.DeviceOffline, want: "not_connected: forward user:bob"},
		{name: "device offline reaches voicemail", device: config.DeviceOffline, want: "not_connected: voicemail"},
		{name: "device offline without voicemail hears unavailable", edit: noVoicemail, device: config.DeviceOffline, want: "not_connected: unavailable"},
		{name: "device without endpoint is not connected", edit: func(s *config.Sheet) { s.Device.Endpoint = "" }, want: "not_connected: voicemail"},
		{name: "not connected beats busy", edit: busyFwd("user:bob"), device: config.DeviceOffline, active: 5, want: "not_connected: voicemail"},
		{name: "not-connected forward to voicemail off falls to unavailable", edit: all(noVoicemail, notConnFwd("voicemail")), device: config.DeviceOffline, want: "not_connected: unavailable"},

		// §2.3: unconditional, then scheduled.
		{name: "unconditional to a number", edit: uncond(aliceMobile), want: "unconditional: forward " + aliceMobile},
		{name: "unconditional to a user", edit: uncond("user:bob"), want: "unconditional: forward user:bob"},
		{name: "unconditional to voicemail", edit: uncond("voicemail"), want: "unconditional: voicemail"},
		{name: "unconditional beats not connected", edit: uncond("user:bob"), device: config.DeviceOffline, want: "unconditional: forward user:bob"},
		{name: "unconditional beats busy", edit: uncond("user:bob"), active: 9, want: "unconditional: forward user:bob"},
		{name: "unconditional off", edit: all(uncond("user:bob"), func(s *config.Sheet) { s.Forwards.Unconditional.Enabled = false }), want: "ring: ring user:alice"},
		{name: "unconditional refused by policy is skipped", edit: uncond(ukNumber), want: "ring: ring user:alice"},
		{name: "unconditional to premium refused", edit: uncond("+33899123456"), want: "ring: ring user:alice"},
		{name: "unconditional international refused by default", edit: uncond(ukNumber), want: "ring: ring user:alice"}, // allowed: TestPolicyAllowsInternational
		{name: "unconditional to the user itself is skipped", edit: uncond("user:alice"), want: "ring: ring user:alice"},
		{name: "unconditional to voicemail when off is skipped", edit: all(noVoicemail, uncond("voicemail")), want: "ring: ring user:alice"},
		{name: "unconditional to empty user is skipped", edit: uncond("user:"), want: "ring: ring user:alice"},
		{name: "unconditional beats scheduled", edit: all(uncond("user:bob"), evenings("voicemail")), now: monEvening, want: "unconditional: forward user:bob"},
		{name: "skipped unconditional falls to scheduled", edit: all(uncond(ukNumber), evenings("user:carol")), now: monEvening, want: "scheduled: forward user:carol"},
		{name: "scheduled rule active", edit: evenings("voicemail"), now: monEvening, want: "scheduled: voicemail"},
		{name: "scheduled rule inactive", edit: evenings("voicemail"), now: monMorning, want: "ring: ring user:alice"},
		{name: "scheduled rule disabled", edit: all(evenings("voicemail"), func(s *config.Sheet) { s.Forwards.Scheduled[0].Enabled = false }), now: monEvening, want: "ring: ring user:alice"},
		{name: "scheduled beats not connected", edit: evenings("user:bob"), device: config.DeviceOffline, now: monEvening, want: "scheduled: forward user:bob"},
		{name: "first active scheduled rule wins", edit: all(evenings("user:bob"), evenings("user:carol")), now: monEvening, want: "scheduled: forward user:bob"},
		{name: "scheduled rule refused by policy falls to the next", edit: all(evenings(ukNumber), evenings("user:carol")), now: monEvening, want: "scheduled: forward user:carol"},
		{name: "scheduled forward to voicemail unavailable", edit: evenings("voicemail"), now: monEvening, outcomes: []Outcome{Unreachable}, want: "scheduled: voicemail → scheduled: unavailable"},

		// §2.2: DND takes the busy path, before forwards.
		{name: "dnd takes the busy forward", edit: all(setDND, busyFwd("user:bob")), want: "dnd: forward user:bob"},
		{name: "dnd reaches voicemail", edit: setDND, want: "dnd: voicemail"},
		{name: "dnd without voicemail hears busy", edit: all(setDND, noVoicemail), want: "dnd: busy"},
		{name: "dnd beats unconditional", edit: all(setDND, uncond("user:carol")), want: "dnd: voicemail"},
		{name: "dnd beats not connected", edit: setDND, device: config.DeviceOffline, want: "dnd: voicemail"},
		{name: "dnd beats scheduled", edit: all(setDND, evenings("user:carol")), now: monEvening, want: "dnd: voicemail"},
		{name: "dnd with blocked busy forward reaches voicemail", edit: all(setDND, busyFwd(ukNumber)), want: "dnd: voicemail"},

		// §2.1: the loop guard, before everything.
		{name: "loop guard rings the device", edit: uncond("user:bob"), history: loop, want: "loop_guard: ring user:alice"},
		{name: "loop guard does not ring a user in dnd", edit: all(uncond("user:bob"), setDND), history: loop, want: "loop_guard: voicemail"},
		{name: "loop guard rejects for a user in dnd without voicemail", edit: all(setDND, noVoicemail), history: loop, want: "loop_guard: reject"},
		{name: "loop guard without answer reaches voicemail, not the forward", edit: noAnswerFwd("user:bob"), history: loop, outcomes: []Outcome{NoAnswer}, want: "loop_guard: ring user:alice → loop_guard: voicemail"},
		{name: "loop guard without answer nor voicemail is missed", edit: noVoicemail, history: loop, outcomes: []Outcome{NoAnswer}, want: "loop_guard: ring user:alice → loop_guard: missed"},
		{name: "loop guard device offline reaches voicemail", history: loop, device: config.DeviceOffline, want: "loop_guard: voicemail"},
		{name: "loop guard device offline without voicemail rejects", edit: noVoicemail, history: loop, device: config.DeviceOffline, want: "loop_guard: reject"},
		{name: "loop guard no device without voicemail rejects", edit: all(noVoicemail, noDevice), history: loop, want: "loop_guard: reject"},
		{name: "loop guard busy user reaches voicemail", history: loop, active: 2, want: "loop_guard: voicemail"},
		{name: "loop guard busy user without voicemail rejects", edit: noVoicemail, history: loop, active: 2, want: "loop_guard: reject"},
		{name: "loop guard rings the device only", edit: simRing(false, aliceMobile), history: loop, want: "loop_guard: ring user:alice"},
		{name: "loop guard unreachable device without voicemail rejects", edit: noVoicemail, history: loop, outcomes: []Outcome{Unreachable}, want: "loop_guard: ring user:alice → loop_guard: reject"},
		{name: "loop guard device busy hears busy", edit: noVoicemail, history: loop, outcomes: []Outcome{Busy}, want: "loop_guard: ring user:alice → loop_guard: busy"},
		{name: "hop limit reached", edit: uncond("user:bob"), history: five, want: "loop_guard: ring user:alice"},
		{name: "one hop below the limit still forwards", edit: uncond("user:bob"), history: four, want: "unconditional: forward user:bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = monMorning
			}
			in := input(t, tt.edit, now)
			if tt.device != 0 || tt.name == "unknown device state rings" {
				in.Device = tt.device
			}
			in.Active = tt.active
			in.Call.History = tt.history
			p := Decide(in)
			if got := walk(p, tt.outcomes...); got != tt.want {
				t.Errorf("Decide() = %q, want %q\n%s", got, tt.want, p.Describe())
			}
			checkPlan(t, in, p)
		})
	}
}

func TestPolicyAllowsInternational(t *testing.T) {
	in := input(t, uncond(ukNumber), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	site := *in.User.Site
	site.OutsideCalls.International = true
	in.User = compile(t, in.User.Sheet, &site)
	if got, want := Decide(in).String(), "unconditional: forward "+ukNumber; got != want {
		t.Errorf("Decide() = %q, want %q", got, want)
	}
	site.OutsideCalls.Block = []string{"+44"}
	in.User = compile(t, in.User.Sheet, &site)
	p := Decide(in)
	if got, want := p.String(), "ring: ring user:alice"; got != want {
		t.Errorf("with +44 blocked: Decide() = %q, want %q", got, want)
	}
	if len(p.Steps[0].Skips) != 1 || p.Steps[0].Skips[0].Reason != "destination blocked by the site's outside-call policy" {
		t.Errorf("skips = %+v, want the policy's reason", p.Steps[0].Skips)
	}
}

func TestHopLimitOfSite(t *testing.T) {
	in := input(t, uncond("user:bob"), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	site := *in.User.Site
	site.MaxForwardHops = 2
	in.User = compile(t, in.User.Sheet, &site)
	for n, want := range []string{"unconditional: forward user:bob", "unconditional: forward user:bob", "loop_guard: ring user:alice"} {
		in.Call.History = make([]Diversion, n)
		if got := Decide(in).String(); got != want {
			t.Errorf("%d hops: Decide() = %q, want %q", n, got, want)
		}
	}
	for _, tt := range []struct{ site, want int }{{0, 5}, {-1, 5}, {3, 3}, {1000, MaxHops}} {
		if got := HopLimit(&config.Site{MaxForwardHops: tt.site}); got != tt.want {
			t.Errorf("HopLimit(%d) = %d, want %d", tt.site, got, tt.want)
		}
	}
}

func TestSkipsAreExplained(t *testing.T) {
	in := input(t, all(uncond(ukNumber), simRing(true, "voicemail", aliceMobile), noAnswerFwd("+33899123456")), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	p := Decide(in)
	want := []Skip{
		{RuleUnconditional, ukNumber, "international destinations are not allowed by the site's outside-call policy"},
		{RuleRing, "voicemail", whyNotANumber},
	}
	got := p.Steps[0].Skips
	if len(got) != len(want) {
		t.Fatalf("ring step skips = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("skip %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	na := p.Steps[p.Steps[0].Next[NoAnswer]]
	if len(na.Skips) != 1 || na.Skips[0].Rule != RuleNoAnswer || na.Skips[0].Target != "+33899123456" {
		t.Errorf("no-answer step skips = %+v, want the premium number refused", na.Skips)
	}
	lg := input(t, nil, in.Now)
	lg.Call.History = []Diversion{{User: "alice"}}
	if s := Decide(lg).Steps[0].Skips; len(s) != 1 || s[0].Reason != whyInHistory {
		t.Errorf("loop guard skips = %+v, want %q", s, whyInHistory)
	}
}

func TestLegs(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	hist := []Diversion{{User: "bob", Number: "+33478000002", Name: "Bob", Reason: ReasonBusy}}
	redirect := func(s *config.Sheet) { s.Advanced.RedirectInfo = true }
	display := func(mode string) func(*config.Sheet) {
		return func(s *config.Sheet) { s.Advanced.IncomingDisplay = mode }
	}
	carol := Party{Number: callerNum, Name: "Carol"}
	aliceAsDiverter := Party{Number: aliceMain, Name: "Alice Martin"}
	tests := []struct {
		name    string
		edit    func(*config.Sheet)
		from    Party
		to      string
		history []Diversion
		leg     int
		want    Leg
	}{
		{name: "device shows the caller", want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: "Carol"}},
		{name: "device shows the called number", edit: display(config.DisplayCalledNumber), to: aliceDirect,
			want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: aliceDirect}},
		{name: "device shows the label of the number dialed", edit: display(config.DisplayContextName), to: aliceDirect,
			want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: "Support line"}},
		{name: "main number shows the site name", edit: display(config.DisplayContextName),
			want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: "Lyon"}},
		{name: "forwarded call shows no redirection when off", history: hist,
			want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: "Carol"}},
		{name: "forwarded call shows who forwarded when on", edit: redirect, history: hist,
			want: Leg{Kind: LegDevice, Target: "user:alice", Dial: "PJSIP/alice", User: "alice", CallerID: carol, Display: "Carol",
				Redirect: Redirect{From: Party{Number: "+33478000002", Name: "Bob"}, User: "bob", Reason: ReasonBusy, Count: 1}}},
		{name: "simultaneous mobile presents the caller with diversion and confirm", edit: simRing(true, aliceMobile), leg: 1,
			want: Leg{Kind: LegNumber, Target: aliceMobile, Dial: aliceMobile, CallerID: carol, Display: "Carol", Confirm: true,
				Redirect: Redirect{From: aliceAsDiverter, User: "alice", Reason: ReasonSimultaneous, Count: 1}}},
		{name: "simultaneous mobile for an anonymous caller presents the user's number", edit: simRing(false, aliceMobile), from: Party{Name: "x"}, leg: 1,
			want: Leg{Kind: LegNumber, Target: aliceMobile, Dial: aliceMobile, CallerID: Party{Number: aliceMain}, Display: "",
				Redirect: Redirect{From: aliceAsDiverter, User: "alice", Reason: ReasonSimultaneous, Count: 1}}},
		{name: "anonymous caller, anonymous user: nothing presented", edit: all(simRing(false, aliceMobile), func(s *config.Sheet) { s.PresentedNumber.Mode = config.PresentAnonymous }), from: Party{}, leg: 1,
			want: Leg{Kind: LegNumber, Target: aliceMobile, Dial: aliceMobile, Asserted: aliceMain,
				Redirect: Redirect{From: aliceAsDiverter, User: "alice", Reason: ReasonSimultaneous, Count: 1}}},
		{name: "an internal caller's extension is not presented outside", edit: simRing(false, aliceMobile), from: Party{Number: "1002", Name: "Bob"}, leg: 1,
			want: Leg{Kind: LegNumber, Target: aliceMobile, Dial: aliceMobile, CallerID: Party{Number: aliceMain, Name: "Bob"}, Display: "Bob",
				Redirect: Redirect{From: aliceAsDiverter, User: "alice", Reason: ReasonSimultaneous, Count: 1}}},
		{name: "simultaneous user device", edit: simRing(true, "user:bob"), to: aliceMobile, history: hist, leg: 1,
			want: Leg{Kind: LegUserDevice, Target: "user:bob", User: "bob", CallerID: carol, Display: "Carol",
				Redirect: Redirect{From: Party{Number: aliceMobile, Name: "Alice Martin"}, User: "alice", Reason: ReasonSimultaneous, Count: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(t, tt.edit, now)
			if tt.from != (Party{}) || tt.name == "anonymous caller, anonymous user: nothing presented" {
				in.Call.From = tt.from
			}
			if tt.to != "" {
				in.Call.To = tt.to
			}
			in.Call.History = tt.history
			p := Decide(in)
			legs := p.Steps[0].Legs
			if tt.leg >= len(legs) {
				t.Fatalf("plan has %d legs, want leg %d\n%s", len(legs), tt.leg, p.Describe())
			}
			if got := legs[tt.leg]; got != tt.want {
				t.Errorf("leg %d =\n %+v\nwant\n %+v", tt.leg, got, tt.want)
			}
		})
	}
}

func TestForwardSteps(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	in := input(t, uncond(aliceMobile), now)
	in.Call.To = aliceDirect
	in.Call.History = []Diversion{{User: "bob"}}
	p := Decide(in)
	st := p.Steps[0]
	if st.Action != ActForward || st.TimeoutS != ForwardTimeoutS || st.Ringback != "ring-lyon" || len(st.Legs) != 1 {
		t.Fatalf("forward step = %+v", st)
	}
	wantDivert := Diversion{User: "alice", Number: aliceDirect, Name: "Alice Martin", Reason: ReasonUnconditional}
	if st.Divert != wantDivert {
		t.Errorf("Divert = %+v, want %+v", st.Divert, wantDivert)
	}
	if r := st.Legs[0].Redirect; r.Count != 2 || r.Reason != ReasonUnconditional || r.From.Number != aliceDirect {
		t.Errorf("leg redirect = %+v, want count 2 from %s", r, aliceDirect)
	}
	for o, want := range map[Outcome]string{
		Busy:        "unconditional: forward " + aliceMobile + " → unconditional: busy",
		NoAnswer:    "unconditional: forward " + aliceMobile + " → unconditional: missed",
		Unreachable: "unconditional: forward " + aliceMobile + " → unconditional: unavailable",
		Answered:    "unconditional: forward " + aliceMobile + " → end",
	} {
		if got := walk(p, o); got != want {
			t.Errorf("after %v: %q, want %q", o, got, want)
		}
	}
	if b := p.Steps[p.Steps[0].Next[Busy]]; b.Media != "busy-fr" {
		t.Errorf("busy step media = %q, want the user's busy sound", b.Media)
	}
	up := Decide(input(t, uncond("user:bob"), now))
	if got, want := walk(up, Unreachable), "unconditional: forward user:bob → unconditional: unavailable"; got != want {
		t.Errorf("user forward that fails: %q, want %q", got, want)
	}
}

func TestRingStep(t *testing.T) {
	in := input(t, all(noAnswerFwd("voicemail"), func(s *config.Sheet) { s.Voicemail.Greeting = "x" }), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	p := Decide(in)
	st := p.Steps[0]
	if st.TimeoutS != 25 || st.Ringback != "ring-lyon" {
		t.Errorf("ring step timeout %d ringback %q, want 25 and ring-lyon", st.TimeoutS, st.Ringback)
	}
	vm := p.Steps[st.Next[NoAnswer]]
	if vm.Mailbox != "alice" || vm.Greeting != GreetingNoAnswer {
		t.Errorf("voicemail step = %+v, want alice's mailbox with the no-answer greeting", vm)
	}
	for _, tt := range []struct{ set, want int }{{0, 20}, {3, 5}, {500, 120}, {30, 30}} {
		s := aliceSheet()
		s.Forwards.NoAnswer.TimeoutS = tt.set
		if got := ringTimeout(s); got != tt.want {
			t.Errorf("ringTimeout(%d) = %d, want %d", tt.set, got, tt.want)
		}
	}
}

func TestDecideWithoutSheet(t *testing.T) {
	for _, in := range []*Input{{}, {User: &config.Compiled{}}, {User: &config.Compiled{Sheet: aliceSheet()}}} {
		p := Decide(in)
		if got, want := p.String(), ": unavailable"; got != want {
			t.Errorf("Decide(no sheet) = %q, want %q", got, want)
		}
	}
}

func TestMatchNumber(t *testing.T) {
	c := compile(t, aliceSheet(), lyon())
	for _, tt := range []struct {
		num  string
		want Hit
	}{
		{aliceMain, Hit{Kind: HitMain}},
		{aliceMobile, Hit{Kind: HitAssociated, Index: 0}},
		{aliceDirect, Hit{Kind: HitAssociated, Index: 1}},
		{"1001", Hit{Kind: HitExtension}},
		{"+33478009999", Hit{Kind: HitOther}},
		{"", Hit{Kind: HitOther}},
	} {
		if got := MatchNumber(c, tt.num); got != tt.want {
			t.Errorf("MatchNumber(%q) = %+v, want %+v", tt.num, got, tt.want)
		}
	}
}

// checkPlan asserts what every plan must be: transitions go forward, each step is
// well-formed, no forward goes to the user itself, hop counts stay within the limit, and
// every outside leg presents the caller's number or one the user may present.
func checkPlan(t testing.TB, in *Input, p *Plan) {
	t.Helper()
	if len(p.Steps) == 0 {
		t.Fatalf("empty plan")
	}
	hops := HopLimit(in.User.Site)
	self := in.User.Sheet.ID
	for i := range p.Steps {
		s := &p.Steps[i]
		for o, n := range s.Next {
			if n != End && (int(n) <= i || int(n) >= len(p.Steps)) {
				t.Fatalf("step %d: Next[%v] = %d goes backwards or out of the plan\n%s", i, Outcome(o), n, p.Describe())
			}
		}
		switch s.Action {
		case ActRing, ActForward:
			if s.Action == ActRing && s.TimeoutS < config.MinNoAnswerTimeoutS || s.TimeoutS > config.MaxNoAnswerTimeoutS {
				t.Errorf("step %d: timeout %d out of bounds", i, s.TimeoutS)
			}
			if s.Action == ActForward {
				if id, ok := config.UserTarget(s.Target); ok && id == self {
					t.Errorf("step %d forwards to the user itself", i)
				}
				if s.Target == in.User.Sheet.MainNumber {
					t.Errorf("step %d forwards to the user's own main number", i)
				}
				if len(in.Call.History)+1 > hops {
					t.Errorf("step %d forwards with %d hops, limit %d", i, len(in.Call.History), hops)
				}
			}
			if s.Action == ActRing && len(s.Legs) == 0 {
				t.Errorf("step %d rings no leg", i)
			}
			for _, l := range s.Legs {
				// A leg rung on the user's behalf adds a hop; a device leg only shows the
				// history it was given.
				if l.Kind != LegDevice && l.Redirect.Count > hops {
					t.Errorf("step %d leg %s: hop count %d > limit %d", i, l.Target, l.Redirect.Count, hops)
				}
				fromOK := l.CallerID.Number == in.Call.From.Number && !config.IsExtension(l.CallerID.Number)
				if l.Kind == LegNumber && !fromOK && l.CallerID.Number != "" && !MayPresent(in.User, l.CallerID.Number) {
					t.Errorf("step %d leg %s presents %q, which the user may not present", i, l.Target, l.CallerID.Number)
				}
				if l.Kind == LegUserDevice && l.User == self {
					t.Errorf("step %d rings the user itself as another user", i)
				}
			}
		case ActVoicemail:
			if s.Mailbox != self || !in.User.Sheet.Voicemail.Enabled {
				t.Errorf("step %d: voicemail of %q (enabled %v)", i, s.Mailbox, in.User.Sheet.Voicemail.Enabled)
			}
			if s.Next[Unreachable] == End {
				t.Errorf("step %d: voicemail without a fallback", i)
			}
		case ActBusy, ActUnavailable, ActMissed, ActReject:
			for o, n := range s.Next {
				if n != End {
					t.Errorf("step %d: terminal %v has Next[%v] = %d", i, s.Action, Outcome(o), n)
				}
			}
		default:
			t.Errorf("step %d: action %v", i, s.Action)
		}
	}
}

// TestInboundOrder pins DESIGN §2's order of the rules.
func TestInboundOrder(t *testing.T) {
	var got []string
	for _, r := range inbound {
		got = append(got, r.name.String())
	}
	want := "loop_guard dnd unconditional scheduled not_connected busy ring"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("inbound rules = %q, want %q", g, want)
	}
}
