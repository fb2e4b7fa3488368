package callflow_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// world returns the scenario world's directory after edit.
func world(t *testing.T, edit func(map[string]*config.Sheet)) callflow.MapDirectory {
	t.Helper()
	users := scenario.Sheets()
	if edit != nil {
		edit(users)
	}
	dir, err := callflow.NewMapDirectory([]*config.Site{scenario.Site()}, slices.Collect(maps.Values(users))...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func at(t time.Time) *callflow.Options { return &callflow.Options{Now: func() time.Time { return t }} }

func TestRunForwardChain(t *testing.T) {
	dir := world(t, func(u map[string]*config.Sheet) {
		u["alice"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:bob", TimeoutS: 15}
		u["bob"].Forwards.Busy = config.Forward{Enabled: true, Target: "user:carol"}
	})
	sim := &callflow.Sim{Scripts: map[string]callflow.Script{"user:bob": {Behavior: callflow.Busy}, "user:carol": {Behavior: callflow.Answer, AfterS: 4}}}
	res, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve, To: scenario.AliceDirect}, sim, dir, at(scenario.DefaultAt))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"alice ring ring [user:alice] 15",
		"alice no_answer forward [user:bob] 0",
		"bob ring ring [user:bob] 20",
		"bob busy forward [user:carol] 0",
		"carol ring ring [user:carol] 20",
	}
	var got []string
	for _, s := range res.Trace {
		got = append(got, strings.Join([]string{s.User, s.Rule, s.Action, "[" + strings.Join(s.Targets, ",") + "]", strconv.Itoa(s.TimeoutS)}, " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("trace:\n got %q\nwant %q", got, want)
	}
	if res.Outcome != (callflow.Outcome{Kind: callflow.OutcomeAnswered, By: "user:carol"}) {
		t.Errorf("outcome %+v", res.Outcome)
	}
	wantHist := []dialplan.Diversion{
		{User: "alice", Number: scenario.AliceDirect, Name: "Alice Martin", Reason: dialplan.ReasonNoAnswer},
		{User: "bob", Number: scenario.BobMain, Name: "Bob Leroy", Reason: dialplan.ReasonBusy},
	}
	if !slices.Equal(res.History, wantHist) {
		t.Errorf("history %+v, want %+v", res.History, wantHist)
	}
	if got := sim.Elapsed; got != 15+0+4 { // bob's desk is busy at once
		t.Errorf("simulated %d s, want 19", got)
	}
}

func TestRunForwardToUnknownUser(t *testing.T) {
	dir := world(t, func(u map[string]*config.Sheet) {
		u["alice"].Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:ghost"}
	})
	sim := &callflow.Sim{}
	res, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve, To: scenario.AliceMain}, sim, dir, at(scenario.DefaultAt))
	if err != nil {
		t.Fatal(err)
	}
	if want := (callflow.Outcome{Kind: callflow.OutcomeUnavailable, By: "alice", Reason: "unconditional"}); res.Outcome != want {
		t.Errorf("outcome %+v, want %+v", res.Outcome, want)
	}
	if len(res.Trace) != 2 || len(res.Trace[0].Skipped) != 1 || !strings.Contains(res.Trace[0].Skipped[0].Reason, "not found") {
		t.Errorf("trace %+v: want the forward with the lookup's error, then unavailable", res.Trace)
	}
	if !slices.Equal(sim.Heard, []string{"unavailable:"}) || !slices.Equal(sim.Hangups, []callflow.Cause{callflow.CauseUnreachable}) {
		t.Errorf("heard %q, hangups %v", sim.Heard, sim.Hangups)
	}
}

func TestRunUnknownCallee(t *testing.T) {
	_, err := callflow.Run(context.Background(), &callflow.Call{User: "nobody"}, &callflow.Sim{}, world(t, nil), nil)
	if !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Run(unknown) = %v, want ErrNotFound", err)
	}
}

// failing is a Sim whose methods fail as told: fault injection for the executor.
type failing struct {
	callflow.Sim
	ringErr, playErr, vmErr, hangupErr error
	sawDeadline                        time.Duration
}

func (f *failing) Ring(ctx context.Context, r *callflow.Ring) (int, error) {
	if d, ok := ctx.Deadline(); ok {
		f.sawDeadline = time.Until(d)
	}
	if f.ringErr != nil {
		return -1, f.ringErr
	}
	return f.Sim.Ring(ctx, r)
}
func (f *failing) Play(ctx context.Context, p *callflow.Playback) error {
	if f.playErr != nil {
		return f.playErr
	}
	return f.Sim.Play(ctx, p)
}
func (f *failing) Voicemail(ctx context.Context, v *callflow.VoicemailRequest) error {
	if f.vmErr != nil {
		return f.vmErr
	}
	return f.Sim.Voicemail(ctx, v)
}
func (f *failing) Hangup(ctx context.Context, c callflow.Cause) error {
	if f.hangupErr != nil {
		return f.hangupErr
	}
	return f.Sim.Hangup(ctx, c)
}

func TestRunDriverFailures(t *testing.T) {
	pbxDown := errors.New("pbx link lost")
	noVM := func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false }
	tests := []struct {
		name    string
		edit    func(map[string]*config.Sheet)
		drv     *failing
		wantErr error
		want    callflow.Outcome
		steps   int
	}{
		{name: "ring fails", drv: &failing{ringErr: pbxDown}, wantErr: pbxDown, steps: 1},
		{name: "voicemail fails", drv: &failing{vmErr: pbxDown}, wantErr: pbxDown, steps: 2},
		{name: "hangup fails", drv: &failing{hangupErr: pbxDown}, wantErr: pbxDown, steps: 2,
			want: callflow.Outcome{Kind: callflow.OutcomeVoicemail, By: "alice"}},
		{name: "play fails", edit: noVM, drv: &failing{Sim: callflow.Sim{Scripts: map[string]callflow.Script{"user:alice": {Behavior: callflow.Busy}}}, playErr: pbxDown},
			wantErr: pbxDown, steps: 2},
		{name: "caller leaves during the busy sound: no hangup", edit: noVM,
			drv:  &failing{Sim: callflow.Sim{Scripts: map[string]callflow.Script{"user:alice": {Behavior: callflow.Busy}}}, playErr: callflow.ErrCallerHangup},
			want: callflow.Outcome{Kind: callflow.OutcomeBusy, By: "alice", Reason: "busy"}, steps: 2},
		{name: "caller leaves during voicemail: no hangup", drv: &failing{vmErr: callflow.ErrCallerHangup},
			want: callflow.Outcome{Kind: callflow.OutcomeVoicemail, By: "alice"}, steps: 2},
		{name: "ctx cancelled", drv: &failing{ringErr: context.Canceled}, wantErr: context.Canceled, steps: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve, To: scenario.AliceMain}, tt.drv, world(t, tt.edit), at(scenario.DefaultAt))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run() error = %v, want %v", err, tt.wantErr)
			}
			if len(res.Trace) != tt.steps {
				t.Errorf("trace has %d steps, want %d: %+v", len(res.Trace), tt.steps, res.Trace)
			}
			if res.Outcome != tt.want {
				t.Errorf("outcome %+v, want %+v", res.Outcome, tt.want)
			}
			if errors.Is(tt.drv.playErr, callflow.ErrCallerHangup) || errors.Is(tt.drv.vmErr, callflow.ErrCallerHangup) {
				if len(tt.drv.Hangups) != 0 {
					t.Errorf("hung up %v a caller who left", tt.drv.Hangups)
				}
			}
		})
	}
}

func TestRunRingDeadline(t *testing.T) {
	drv := &failing{}
	opt := &callflow.Options{Now: func() time.Time { return scenario.DefaultAt }, Seconds: func(s int) time.Duration { return time.Duration(s) * time.Hour }}
	if _, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve}, drv, world(t, nil), opt); err != nil {
		t.Fatal(err)
	}
	if drv.sawDeadline < 19*time.Hour || drv.sawDeadline > 20*time.Hour {
		t.Errorf("ring ctx deadline in %v, want the 20 s timeout scaled to 20 h", drv.sawDeadline)
	}
	if len(drv.Rings) != 1 || drv.Rings[0].TimeoutS != 20 {
		t.Errorf("rings %+v", drv.Rings)
	}
}

func TestRunOtherUsersDevices(t *testing.T) {
	dir := world(t, func(u map[string]*config.Sheet) {
		u["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{"user:bob", "user:carol"}}
		u["carol"].DND = true
	})
	sim := &callflow.Sim{Scripts: map[string]callflow.Script{"user:bob": {Behavior: callflow.Answer, AfterS: 1}}}
	res, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve}, sim, dir, at(scenario.DefaultAt))
	if err != nil {
		t.Fatal(err)
	}
	legs := sim.Rings[0].Legs
	if len(legs) != 2 || legs[1].Target != "user:bob" || legs[1].Dial != "PJSIP/bob" {
		t.Fatalf("legs %+v: want alice's desk and bob's resolved to PJSIP/bob", legs)
	}
	if sk := res.Trace[0].Skipped; len(sk) != 1 || sk[0].Target != "user:carol" || sk[0].Reason != "the user is in do not disturb" {
		t.Errorf("skipped %+v, want carol in do not disturb", sk)
	}
	for name, edit := range map[string]func(*config.CallView){
		"the user's device is offline": func(v *config.CallView) { v.Device = config.DeviceOffline },
		"the user has no device":       func(v *config.CallView) { cp := *v.User; s := *cp.Sheet; s.Device = nil; cp.Sheet = &s; v.User = &cp },
	} {
		d2 := maps.Clone(dir)
		bob := *d2["bob"]
		edit(&bob)
		d2["bob"] = &bob
		sim := &callflow.Sim{}
		res, err := callflow.Run(context.Background(), &callflow.Call{User: "alice", From: scenario.Eve}, sim, d2, at(scenario.DefaultAt))
		if err != nil {
			t.Fatal(err)
		}
		if sk := res.Trace[0].Skipped; len(sk) != 2 || sk[0].Reason != name {
			t.Errorf("%s: skipped %+v", name, sk)
		}
	}
}

func TestClassify(t *testing.T) {
	devIdx := []dialplan.Leg{{Kind: dialplan.LegDevice}, {Kind: dialplan.LegNumber}}
	fwd := []dialplan.Leg{{Kind: dialplan.LegNumber}, {Kind: dialplan.LegNumber}}
	C := func(cs ...callflow.Cause) []callflow.Cause { return cs }
	tests := []struct {
		name   string
		legs   []dialplan.Leg
		causes []callflow.Cause
		want   dialplan.Outcome
	}{
		{"device busy", devIdx, C(callflow.CauseBusy, callflow.CauseNoAnswer), dialplan.Busy},
		{"device declined", devIdx, C(callflow.CauseRejected, callflow.CauseNoAnswer), dialplan.Busy},
		{"device unreachable", devIdx, C(callflow.CauseUnreachable, callflow.CauseNoAnswer), dialplan.Unreachable},
		{"device congestion", devIdx, C(callflow.CauseCongestion, callflow.CauseBusy), dialplan.Unreachable},
		{"device no answer, mobile busy", devIdx, C(callflow.CauseNoAnswer, callflow.CauseBusy), dialplan.NoAnswer},
		{"forward leg busy", fwd[:1], C(callflow.CauseBusy), dialplan.Busy},
		{"forward legs all unreachable", fwd, C(callflow.CauseUnreachable, callflow.CauseCongestion), dialplan.Unreachable},
		{"forward legs mixed", fwd, C(callflow.CauseUnreachable, callflow.CauseBusy), dialplan.NoAnswer},
		{"no causes", fwd, nil, dialplan.NoAnswer},
	}
	for _, tt := range tests {
		if got := callflow.Classify(tt.legs, tt.causes); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCauseMappings(t *testing.T) {
	for c := callflow.CauseNormal; c <= callflow.CauseBarred; c++ {
		if got := callflow.FromQ850(c.Q850()); got != c {
			t.Errorf("FromQ850(%d) = %v, want %v", c.Q850(), got, c)
		}
		if got := callflow.FromFreeSWITCH(c.FreeSWITCH()); got != c {
			t.Errorf("FromFreeSWITCH(%s) = %v, want %v", c.FreeSWITCH(), got, c)
		}
	}
	for code, want := range map[int]callflow.Cause{18: callflow.CauseNoAnswer, 1: callflow.CauseUnreachable, 27: callflow.CauseUnreachable, 42: callflow.CauseCongestion, 999: callflow.CauseNoAnswer} {
		if got := callflow.FromQ850(code); got != want {
			t.Errorf("FromQ850(%d) = %v, want %v", code, got, want)
		}
	}
	for name, want := range map[string]callflow.Cause{"USER_NOT_REGISTERED": callflow.CauseUnreachable, "ORIGINATOR_CANCEL": callflow.CauseNoAnswer, "no_user_response": callflow.CauseNoAnswer, "UNALLOCATED_NUMBER": callflow.CauseUnreachable} {
		if got := callflow.FromFreeSWITCH(name); got != want {
			t.Errorf("FromFreeSWITCH(%s) = %v, want %v", name, got, want)
		}
	}
}
