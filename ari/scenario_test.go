package ari_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeari"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// TestScenarios runs the PBX-neutral scenario table end to end: sophia's call path on
// real Redis, the adapter, a fake Asterisk 22 speaking ARI on loopback.
func TestScenarios(t *testing.T) {
	scenario.RunAll(t, runner{})
}

type runner struct {
	order fakeari.EventOrder // how events race REST replies (Natural: as Asterisk)
}

// NoVoicemail: sophia has no voicemail on Asterisk yet.
func (runner) NoVoicemail() bool { return true }

func (rn runner) Run(t *testing.T, r *scenario.Row) scenario.Observation {
	h := newHarness(t, harnessOptions{now: r.Clock()})
	ctx := context.Background()
	script(h.fake, r) // the phones first: registered or not, as Asterisk knows them
	if err := scenario.Load(ctx, h.store, r, nil); err != nil {
		t.Fatal(err)
	}
	// The sheets name devices the adapter did not follow: it syncs them at once, on its
	// own time. As on a real Asterisk, where phones register long before they are
	// called, the call comes once their states are known.
	for _, uid := range []string{"alice", "bob", "carol"} {
		if v, err := h.store.CallView(ctx, uid); err == nil && v.User.Sheet.Device != nil {
			ep := v.User.Sheet.Device.Endpoint
			waitFor(t, ep+" followed", func() bool { return slices.Contains(h.fake.SubscribedEndpoints("sophia"), ep) })
		}
	}
	h.fake.SetEventOrder(rn.order)
	var call *fakeari.Call
	var err error
	in := fakeari.InboundCall{CallerNumber: r.Call.From.Number, CallerName: r.Call.From.Name, Exten: r.Call.To,
		HangsUpAfter: 5 * time.Second} // the caller ends a conversation 5 s in
	if r.Call.From.Number == "" {
		// A withheld call, as chan_pjsip presents one (From: "Anonymous" <sip:anonymous@…>).
		in.CallerNumber, in.CallerName = "anonymous", "Anonymous"
	}
	if r.Call.Direction == scenario.Outbound {
		in = fakeari.InboundCall{Args: []string{"outbound"}, PJSIP: true, Endpoint: r.Call.User, Exten: r.Call.Dialed,
			Context: "outbound", HangsUpAfter: 5 * time.Second}
	}
	call, err = h.fake.Inbound(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.CallerHangupS > 0 {
		stop := time.AfterFunc(seconds(r.CallerHangupS), func() { call.Hangup() })
		defer stop.Stop()
	}
	res := h.waitEnd(call.ID())
	obs := observe(t, h.fake, call.ID())
	obs.Outcome = res.Outcome
	if res.Outcome != r.Want.Outcome {
		for _, a := range h.fake.Actions() {
			t.Logf("%v %v", a.At.Format("05.000"), a)
		}
		for _, d := range h.fake.Dials() {
			t.Logf("dial %v %s %v", d.At.Format("05.000"), d.ChannelID, d.Behavior)
		}
	}

	// Whatever the path, the call leaves nothing behind: no channel, bridge or playback
	// on Asterisk, no lease in Redis beyond the row's own calls in progress.
	if left := waitLeftovers(h.fake); len(left) > 0 {
		t.Errorf("left on Asterisk after the call: %v", left)
	}
	for _, uid := range []string{"alice", "bob", "carol"} {
		if n, _ := h.store.ActiveCalls(ctx, uid); n != r.Active[uid] {
			t.Errorf("%s has %d active calls after the call, want %d", uid, n, r.Active[uid])
		}
	}
	if f := h.fake.Failures(); len(f) > 0 {
		t.Errorf("protocol misuse: %v", f)
	}
	// The call is in the log of the user it was for.
	if res.User != "" {
		log, err := h.store.CallLog(ctx, res.User, 1)
		if err != nil || len(log) != 1 || log[0].ID != call.ID() || log[0].Outcome != string(res.Outcome.Kind) {
			t.Errorf("call log of %s: %v %+v, want this call, %s", res.User, err, log, res.Outcome.Kind)
		}
	}
	return obs
}

// waitLeftovers gives the fake's last hangups (StasisEnd after a DELETE's reply) time to
// land: the call's goroutine returned after sending them. It waits on the fake's own
// state, up to a deadline.
func waitLeftovers(f *fakeari.Fake) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := f.Leftovers()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(time.Millisecond)
	}
}

// script turns the row's far ends into the fake Asterisk's endpoint scripts: a user's
// device is PJSIP/<uid>, an outside number PJSIP/<number>@trunk; a target the row does
// not list rings until the dial timeout.
func script(f *fakeari.Fake, r *scenario.Row) {
	targets := map[string]callflow.Script{}
	for _, uid := range []string{"alice", "bob", "carol"} {
		targets["user:"+uid] = callflow.Script{Behavior: callflow.NoAnswer}
	}
	for _, n := range []string{scenario.AliceMobile, scenario.CarolMobile, scenario.UKNumber, "+33611223344", "+33478000099"} {
		targets[n] = callflow.Script{Behavior: callflow.NoAnswer}
	}
	for k, v := range r.Endpoints {
		targets[k] = v
	}
	for target, s := range targets {
		ep := "PJSIP/" + target + "@trunk"
		if uid, ok := strings.CutPrefix(target, "user:"); ok {
			ep = "PJSIP/" + uid
		}
		after := time.Duration(s.AfterS) * time.Second
		var b fakeari.Behavior
		switch s.Behavior {
		case callflow.Answer:
			// A person answers, and presses 1 if asked to.
			b = fakeari.AnswersAfter(after).ThenPresses("1", 500*time.Millisecond)
		case callflow.AnswerNoConfirm:
			b = fakeari.AnswersAfter(after) // a mobile's voicemail: never presses 1
		case callflow.Busy:
			b = fakeari.Busy()
		case callflow.Offline:
			b = fakeari.Offline()
		case callflow.Congestion:
			b = fakeari.Congestion()
		case callflow.Reject:
			b = fakeari.Rejects(603)
		default:
			b = fakeari.NoAnswer()
		}
		f.Script(ep, b)
	}
}

// observe reads what the fake Asterisk saw: the legs dialed (grouped by ring step), what
// the caller's channel was played or rung, and the cause it was hung up with.
func observe(t *testing.T, f *fakeari.Fake, callID string) scenario.Observation {
	var obs scenario.Observation
	steps := map[int]*scenario.Dial{}
	type indexed struct {
		idx int
		leg scenario.Leg
	}
	legs := map[int][]indexed{}
	for _, d := range f.Dials() {
		step, idx, ok := legStep(callID, d.ChannelID)
		if !ok {
			t.Errorf("dial of a channel sophia did not name: %+v", d)
			continue
		}
		if steps[step] == nil {
			steps[step] = &scenario.Dial{TimeoutS: int(d.Timeout / time.Second)}
		}
		l := scenario.Leg{Target: targetOf(d.Target), Number: d.Connected.Number, Name: d.Connected.Name,
			Confirm: slices.Contains(d.AppArgs, "confirm")}
		if strings.HasPrefix(d.Vars["CONNECTEDLINE(pres)"], "prohib") {
			l.Number, l.Asserted = "", d.Connected.Number
		}
		if r := d.Redirecting; r.Count > 0 {
			l.Redirect = fmt.Sprintf("%s;%s;%d", r.FromNum, sipReason(r.Reason), r.Count)
		}
		legs[step] = append(legs[step], indexed{idx, l})
	}
	var order []int
	for s := range steps {
		order = append(order, s)
	}
	sort.Ints(order)
	for _, s := range order {
		ls := legs[s]
		sort.Slice(ls, func(i, j int) bool { return ls[i].idx < ls[j].idx })
		for _, l := range ls {
			steps[s].Legs = append(steps[s].Legs, l.leg)
		}
		obs.Dials = append(obs.Dials, *steps[s])
	}
	for _, a := range f.Actions(callID) {
		switch a.Kind {
		case "ring":
			obs.Heard = append(obs.Heard, "ringback:")
		case "play":
			kind, _, _ := strings.Cut(a.PlaybackID, "-")
			if kind == "ringback" && !strings.HasSuffix(a.PlaybackID, "-1") {
				continue // the ringback again, after it ended: one hearing
			}
			obs.Heard = append(obs.Heard, kind+":"+mediaName(a.Detail))
		case "hangup":
			if code, ok := strings.CutPrefix(a.Detail, "code "); ok {
				var n int
				fmt.Sscan(code, &n)
				obs.Hangup = callflow.FromQ850(n).String()
			}
		}
	}
	return obs
}

func targetOf(endpoint string) string {
	rest := strings.TrimPrefix(endpoint, "PJSIP/")
	if n, ok := strings.CutSuffix(rest, "@trunk"); ok {
		return n
	}
	return config.TargetUserPrefix + rest
}

// mediaName is the library name of a played URI ("" for a tone).
func mediaName(uri string) string {
	if n, ok := strings.CutPrefix(uri, "sound:"+mediaBase+"/"); ok {
		return strings.TrimSuffix(n, ".wav")
	}
	return ""
}

// sipReason maps Asterisk's canonical REDIRECTING(reason) to the RFC 5806 token the table
// speaks (chan_pjsip's Diversion reason).
func sipReason(r string) string {
	switch r {
	case "cfu":
		return "unconditional"
	case "time_of_day":
		return "time-of-day"
	case "dnd":
		return "do-not-disturb"
	case "cfb":
		return "user-busy"
	case "cfnr":
		return "no-answer"
	case "follow_me":
		return "follow-me"
	}
	return r
}
