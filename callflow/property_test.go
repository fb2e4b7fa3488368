package callflow_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

var (
	propUsers   = []string{"alice", "bob", "carol", "dave"}
	propTargets = []string{"", "voicemail", "user:alice", "user:bob", "user:carol", "user:dave", "user:ghost",
		scenario.AliceMobile, scenario.CarolMobile, scenario.UKNumber, scenario.AliceMain, "+33899123456"}
	propBehaviors = []callflow.Behavior{callflow.NoAnswer, callflow.Answer, callflow.Busy, callflow.Offline,
		callflow.Congestion, callflow.Reject, callflow.AnswerNoConfirm}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// randomWorld builds four users forwarding to each other and outside at random.
func randomWorld(t *testing.T, r *rand.Rand) (callflow.MapDirectory, *callflow.Sim) {
	site := scenario.Site()
	site.MaxForwardHops = r.IntN(8)
	site.OutsideCalls.International = r.IntN(2) == 0
	var sheets []*config.Sheet
	for i, id := range propUsers {
		s := config.DefaultSheet()
		s.ID, s.Site, s.Name, s.MainNumber = id, "lyon", id, "+3347800000"+string(rune('1'+i))
		if r.IntN(5) != 0 {
			s.Device = &config.Device{Endpoint: "PJSIP/" + id}
		}
		s.DND = r.IntN(5) == 0
		s.Voicemail.Enabled = r.IntN(2) == 0
		s.Advanced.CallWaiting = r.IntN(2) == 0
		s.Advanced.RedirectInfo = r.IntN(2) == 0
		s.PresentedNumber.Mode = pick(r, []string{config.PresentMain, config.PresentSite, config.PresentAnonymous})
		f := &s.Forwards
		f.Unconditional = config.Forward{Enabled: r.IntN(4) == 0, Target: pick(r, propTargets)}
		f.Busy = config.Forward{Enabled: r.IntN(2) == 0, Target: pick(r, propTargets)}
		f.NotConnected = config.Forward{Enabled: r.IntN(2) == 0, Target: pick(r, propTargets)}
		f.NoAnswer = config.NoAnswerForward{Enabled: r.IntN(2) == 0, Target: pick(r, propTargets), TimeoutS: 5 + r.IntN(30)}
		f.SimultaneousRing = config.SimultaneousRing{Enabled: r.IntN(2) == 0, Confirm: r.IntN(2) == 0}
		for range r.IntN(4) {
			f.SimultaneousRing.Targets = append(f.SimultaneousRing.Targets, pick(r, propTargets))
		}
		if r.IntN(3) == 0 {
			f.Scheduled = []config.ScheduledRule{{Enabled: true, Target: pick(r, propTargets), Start: "08:00", End: "08:00"}}
		}
		sheets = append(sheets, &s)
	}
	dir, err := callflow.NewMapDirectory([]*config.Site{site}, sheets...)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range dir {
		v.Device = config.DeviceState(r.IntN(3))
		v.ActiveCalls = r.IntN(3)
	}
	sim := &callflow.Sim{Scripts: map[string]callflow.Script{}, NoVoicemail: r.IntN(4) == 0}
	for _, t := range propTargets {
		sim.Scripts[t] = callflow.Script{Behavior: pick(r, propBehaviors), AfterS: r.IntN(40)}
	}
	if r.IntN(4) == 0 {
		sim.CallerHangupS = 1 + r.IntN(60)
	}
	return dir, sim
}

// TestRunProperties: on random worlds, Run always ends, without error, with a known
// outcome; no user forwards to itself; the diversion history stays within the hop limit;
// other users' devices are rung with their endpoint; an outside leg presents the caller's
// number or one its user may present; the caller is hung up at most once.
func TestRunProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	kinds := map[callflow.OutcomeKind]bool{callflow.OutcomeAnswered: true, callflow.OutcomeVoicemail: true,
		callflow.OutcomeBusy: true, callflow.OutcomeUnavailable: true, callflow.OutcomeMissed: true}
	for i := range 400 {
		dir, sim := randomWorld(t, r)
		callee := pick(r, propUsers)
		from := pick(r, []dialplan.Party{scenario.Eve, {}})
		res, err := callflow.Run(context.Background(), &callflow.Call{User: callee, From: from, To: dir[callee].User.Sheet.MainNumber},
			sim, dir, &callflow.Options{Now: func() time.Time { return scenario.DefaultAt }})
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d: "+format+"\ntrace: %+v", append(append([]any{i}, args...), res.Trace)...)
		}
		if err != nil {
			fail("Run: %v", err)
		}
		if !kinds[res.Outcome.Kind] || res.Outcome.By == "" {
			fail("outcome %+v", res.Outcome)
		}
		limit := dialplan.HopLimit(dir[callee].User.Site)
		if len(res.History) > limit {
			fail("%d diversions, limit %d", len(res.History), limit)
		}
		for _, s := range res.Trace {
			if s.Action == "forward" && len(s.Targets) == 1 && s.Targets[0] == config.TargetUserPrefix+s.User {
				fail("%s forwards to itself", s.User)
			}
		}
		if len(res.Trace) > (limit+1)*14 {
			fail("%d steps", len(res.Trace))
		}
		if len(sim.Hangups) > 1 {
			fail("hung up %d times", len(sim.Hangups))
		}
		for _, rg := range sim.Rings {
			u := dir[rg.User].User
			for _, l := range rg.Legs {
				if l.Dial == "" {
					fail("leg %s without a dial string", l.Target)
				}
				if l.Kind == dialplan.LegNumber && l.CallerID.Number != from.Number && l.CallerID.Number != "" && !dialplan.MayPresent(u, l.CallerID.Number) {
					fail("leg %s of %s presents %s", l.Target, rg.User, l.CallerID.Number)
				}
				if l.Kind == dialplan.LegNumber && l.Redirect.Count > limit {
					fail("leg %s with %d hops", l.Target, l.Redirect.Count)
				}
			}
		}
	}
}
