package dialplan

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// source is where a random sheet draws its choices: a PRNG for property tests, fuzz bytes
// for FuzzDecide.
type source interface{ IntN(n int) int }

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) IntN(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	v := int(s.b[s.i])
	s.i++
	return v % n
}

func pick[T any](r source, xs ...T) T { return xs[r.IntN(len(xs))] }

var targetPool = []string{"", "voicemail", "user:alice", "user:bob", "user:carol", "user:", aliceMain, aliceMobile,
	aliceDirect, ukNumber, "+33899123456", "1002", "not-a-number", siteNumber}

func randTarget(r source) string { return pick(r, targetPool...) }

func randClock(r source) string {
	if r.IntN(10) == 0 {
		return pick(r, "", "24:00", "7:00", "25:00", "12:61", "ab:cd")
	}
	return time.Date(2000, 1, 1, r.IntN(24), r.IntN(4)*15, 0, 0, time.UTC).Format("15:04")
}

func randDate(r source) string {
	switch r.IntN(4) {
	case 0:
		return ""
	case 1:
		return pick(r, "2026-02-30", "garbage", "2026-13-01")
	}
	return time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

// randInput builds a random but compilable sheet for alice, a random site and context.
func randInput(t testing.TB, r source) *Input {
	s := aliceSheet()
	s.DND = r.IntN(4) == 0
	s.Voicemail.Enabled = r.IntN(3) != 0
	if r.IntN(5) == 0 {
		s.Device = nil
	} else if r.IntN(8) == 0 {
		s.Device.Endpoint = ""
	}
	if r.IntN(3) == 0 {
		s.MainNumber = ""
	}
	s.Advanced.MaxSimultaneousCalls = r.IntN(4)
	s.Advanced.CallWaiting = r.IntN(2) == 0
	s.Advanced.RedirectInfo = r.IntN(2) == 0
	s.Advanced.IncomingDisplay = pick(r, config.DisplayCaller, config.DisplayCalledNumber, config.DisplayContextName, "")
	s.PresentedNumber = pick(r,
		config.PresentedNumber{Mode: config.PresentMain},
		config.PresentedNumber{Mode: config.PresentSite},
		config.PresentedNumber{Mode: config.PresentAnonymous},
		config.PresentedNumber{Mode: config.PresentAssociated, Number: aliceDirect},
		config.PresentedNumber{Mode: config.PresentAssociated, Number: aliceMobile},
		config.PresentedNumber{Mode: config.PresentAssociated, Number: "+33478000002"})
	f := &s.Forwards
	f.Unconditional = config.Forward{Enabled: r.IntN(4) == 0, Target: randTarget(r)}
	f.Busy = config.Forward{Enabled: r.IntN(2) == 0, Target: randTarget(r)}
	f.NotConnected = config.Forward{Enabled: r.IntN(2) == 0, Target: randTarget(r)}
	f.NoAnswer = config.NoAnswerForward{Enabled: r.IntN(2) == 0, Target: randTarget(r), TimeoutS: r.IntN(150) - 5}
	f.SimultaneousRing.Enabled = r.IntN(2) == 0
	f.SimultaneousRing.Confirm = r.IntN(2) == 0
	for range r.IntN(10) {
		f.SimultaneousRing.Targets = append(f.SimultaneousRing.Targets, randTarget(r))
	}
	for range r.IntN(12) {
		rule := config.ScheduledRule{Enabled: r.IntN(4) != 0, Target: randTarget(r), From: randDate(r), Until: randDate(r),
			Start: randClock(r), End: randClock(r)}
		for range r.IntN(4) {
			rule.Days = append(rule.Days, pick(r, "mon", "tue", "wed", "thu", "fri", "sat", "sun", "Sunday"))
		}
		if r.IntN(6) == 0 {
			rule.Timezone = pick(r, "America/New_York", "Asia/Kolkata", "UTC")
		}
		f.Scheduled = append(f.Scheduled, rule)
	}
	site := lyon()
	site.MaxForwardHops = r.IntN(10) - 1
	site.OutsideCalls.International = r.IntN(2) == 0
	site.OutsideCalls.Premium = r.IntN(3) == 0
	if r.IntN(3) == 0 {
		site.OutsideCalls.Block = []string{"+336"}
	}
	if r.IntN(4) == 0 {
		site.Number = ""
	}
	in := &Input{
		User:   compile(t, s, site),
		Device: config.DeviceState(r.IntN(3)),
		Active: r.IntN(4),
		Now:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24*4)) * 15 * time.Minute),
		Call: Call{
			From: pick(r, Party{Number: callerNum, Name: "Carol"}, Party{}, Party{Number: "+33478000002", Name: "Bob"}, Party{Number: "1002", Name: "Bob"}),
			To:   pick(r, aliceMain, aliceMobile, aliceDirect, "+33478000002", "1001", ""),
		},
	}
	for range r.IntN(8) {
		in.Call.History = append(in.Call.History, Diversion{User: pick(r, "alice", "bob", "carol", "dave", ""), Number: "+33478000002", Reason: Reason(r.IntN(8))})
	}
	return in
}

// TestProperties checks, on random sheets and contexts, what must hold of every plan
// (checkPlan), and that the plan ends whatever the outcomes: a walk of at most len(Steps)
// transitions reaches End.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2026))
	var p Plan
	for i := range 1000 {
		in := randInput(t, r)
		DecideInto(in, &p)
		checkPlan(t, in, &p)
		checkLoopGuard(t, in, &p)
		for range 4 {
			at, n := 0, 0
			for ; at != End; n++ {
				if n > len(p.Steps) {
					t.Fatalf("case %d: walk does not end\n%s", i, p.Describe())
				}
				at = int(p.Steps[at].Next[Outcome(r.IntN(int(NumOutcomes)))])
			}
		}
		if t.Failed() {
			t.Fatalf("case %d failed:\n%s", i, p.Describe())
		}
	}
}

// checkLoopGuard: a user already in the history, or a call at the hop limit, is never
// forwarded and rings nothing but the user's device.
func checkLoopGuard(t testing.TB, in *Input, p *Plan) {
	t.Helper()
	looped := len(in.Call.History) >= HopLimit(in.User.Site)
	for _, h := range in.Call.History {
		looped = looped || h.User == in.User.Sheet.ID
	}
	if !looped {
		return
	}
	for i, s := range p.Steps {
		if s.Rule != RuleLoopGuard {
			t.Errorf("looped call: step %d comes from rule %v", i, s.Rule)
		}
		if s.Action == ActForward {
			t.Errorf("looped call: step %d forwards", i)
		}
		for _, l := range s.Legs {
			if l.Kind != LegDevice {
				t.Errorf("looped call: step %d rings %s", i, l.Target)
			}
		}
		if s.Action == ActRing && in.User.Sheet.DND {
			t.Errorf("looped call: step %d rings a user in do not disturb", i)
		}
	}
}

// TestDecideIsPure: the same Input gives the same plan, and deciding into a reused Plan
// gives what a fresh one does.
func TestDecideIsPure(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	reused := new(Plan)
	for range 150 {
		in := randInput(t, r)
		a := Decide(in).Describe()
		DecideInto(in, reused)
		if b := reused.Describe(); a != b {
			t.Fatalf("reused plan differs:\n%s\nvs\n%s", a, b)
		}
	}
}

func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("loop guard, dnd, unconditional, scheduled, not connected, busy, ring"))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := randInput(t, &byteSource{b: data})
		p := Decide(in)
		checkPlan(t, in, p)
		checkLoopGuard(t, in, p)
	})
}

func FuzzParseCLIPrefix(f *testing.F) {
	for _, s := range []string{"", "*31", "*310612345678", "#31#06", "*322+33612345678", "*32", "*3", "*34x", "0612345678", "*33*33*33"} {
		f.Add(s)
	}
	c, err := config.Compile(aliceSheet(), lyon())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dialed string) {
		choice, rest, err := ParseCLIPrefix(dialed)
		if err != nil {
			if choice != (CLIChoice{}) || rest != "" {
				t.Fatalf("error %v with a choice %+v / rest %q", err, choice, rest)
			}
		} else {
			if choice.Mode == CLIDefault && rest != dialed {
				t.Fatalf("no prefix but rest %q != %q", rest, dialed)
			}
			if choice.Mode != CLIDefault && (rest == "" || len(rest) >= len(dialed)) {
				t.Fatalf("prefix %+v leaves %q of %q", choice, rest, dialed)
			}
		}
		p := DecideOutbound(&OutboundInput{User: c, Dialed: dialed})
		if p.Refused == RefusedNone {
			if p.Number == "" {
				t.Fatalf("allowed without a number")
			}
			if !p.Hidden && !MayPresent(c, p.CallerID.Number) {
				t.Fatalf("presents %q", p.CallerID.Number)
			}
		} else if p.Reason == "" {
			t.Fatalf("refused %v without a reason", p.Refused)
		}
	})
}

func FuzzActive(f *testing.F) {
	f.Add("18:00", "08:00", "2026-12-01", "2026-12-31", "mon", int64(1796670000))
	f.Add("00:00", "00:00", "", "", "", int64(0))
	f.Add("02:00", "03:00", "", "", "sun", int64(1774746000))
	f.Fuzz(func(t *testing.T, start, end, from, until, day string, unix int64) {
		r := config.ScheduledRule{Start: start, End: end, From: from, Until: until}
		if day != "" {
			r.Days = []string{day}
		}
		loc, _ := time.LoadLocation("Europe/Paris")
		active, ok := Active(&r, time.Unix(unix, 0).In(loc))
		if !ok && active {
			t.Fatalf("unreadable rule reported active")
		}
	})
}
