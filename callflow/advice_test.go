package callflow_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// good makes alice's sheet follow every practice, so each case shows one item.
func good(u map[string]*config.Sheet) {
	a := u["alice"]
	a.Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{scenario.AliceMobile}, Confirm: true}
	a.Forwards.NotConnected = config.Forward{Enabled: true, Target: scenario.AliceMobile}
	a.Voicemail.Email = config.VoicemailEmail{Enabled: true, Address: "alice@example.com", DeleteAfterEmail: true}
}

func TestAdvise(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	type item struct{ code, severity, field string }
	tests := []struct {
		name string
		edit func(a *config.Sheet, u map[string]*config.Sheet)
		opt  callflow.AdviceOptions
		want []item
	}{
		{name: "good practice", want: nil},
		{name: "mobile neither rung nor a forward", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.SimultaneousRing.Enabled = false
		}, want: []item{{"mobile_not_rung", "warning", "associated_numbers[0].number"}}},
		{name: "mobile as no-answer forward is rung", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.SimultaneousRing.Enabled = false
			a.Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: scenario.AliceMobile, TimeoutS: 20}
		}},
		{name: "a mobile by its label", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.AssociatedNumbers[1].Label = "Portable perso"
		}, want: []item{{"mobile_not_rung", "warning", "associated_numbers[1].number"}}},
		{name: "simultaneous ring without confirm", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.SimultaneousRing.Confirm = false
		}, want: []item{{"simultaneous_without_confirm", "info", "forwards.simultaneous_ring.confirm"}}},
		{name: "no not-connected forward, voicemail on", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.NotConnected.Enabled = false
		}, want: []item{{"no_not_connected_forward", "info", "forwards.not_connected"}}},
		{name: "no not-connected forward, no voicemail", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.NotConnected.Enabled = false
			a.Voicemail.Enabled = false
		}, want: []item{{"no_not_connected_forward", "warning", "forwards.not_connected"}}},
		{name: "emailed messages kept forever", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Voicemail.Email.DeleteAfterEmail = false
		}, want: []item{{"mailbox_fills_up", "warning", "voicemail.email.delete_after_email"}}},
		{name: "emailed messages kept, with retention", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Voicemail.Email.DeleteAfterEmail = false
			a.Voicemail.RetentionDays = 30
		}},
		{name: "personal mobile presented", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.AssociatedNumbers[0].Presentation = true
			a.PresentedNumber = config.PresentedNumber{Mode: config.PresentAssociated, Number: scenario.AliceMobile}
		}, want: []item{{"personal_presented_number", "warning", "presented_number.number"}}},
		{name: "presented number not allowed", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.PresentedNumber = config.PresentedNumber{Mode: config.PresentAssociated, Number: scenario.AliceMobile}
		}, want: []item{{"presented_number_not_allowed", "error", "presented_number.number"}}},
		{name: "direct line presented", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.PresentedNumber = config.PresentedNumber{Mode: config.PresentAssociated, Number: scenario.AliceDirect}
		}},
		{name: "scheduled rule without end", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.Scheduled = []config.ScheduledRule{
				{Enabled: true, Target: "voicemail", Until: "2026-12-31", Start: "18:00", End: "08:00"},
				{Enabled: true, Target: "voicemail", Start: "12:00", End: "14:00"},
				{Enabled: false, Target: "voicemail", Start: "12:00", End: "14:00"},
			}
		}, want: []item{{"scheduled_without_end", "info", "forwards.scheduled[1].until"}}},
		{name: "unconditional to a mobile for three weeks", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.Unconditional = config.Forward{Enabled: true, Target: scenario.AliceMobile}
		}, opt: callflow.AdviceOptions{Now: now, UnconditionalSince: now.Add(-21 * 24 * time.Hour)},
			want: []item{{"unconditional_left_on", "warning", "forwards.unconditional"}}},
		{name: "unconditional to a mobile since yesterday", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.Unconditional = config.Forward{Enabled: true, Target: scenario.AliceMobile}
		}, opt: callflow.AdviceOptions{Now: now, UnconditionalSince: now.Add(-24 * time.Hour)}},
		{name: "unconditional to a colleague for months", edit: func(a *config.Sheet, _ map[string]*config.Sheet) {
			a.Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:carol"}
		}, opt: callflow.AdviceOptions{Now: now, UnconditionalSince: now.Add(-90 * 24 * time.Hour)}},
		{name: "forwards loop through two colleagues", edit: func(a *config.Sheet, u map[string]*config.Sheet) {
			a.Forwards.Busy = config.Forward{Enabled: true, Target: "user:bob"}
			a.Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:carol", TimeoutS: 20}
			u["bob"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:carol", TimeoutS: 20}
			u["carol"].Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:alice"}
		}, want: []item{{"forward_loop", "warning", "forwards.busy.target"}, {"forward_loop", "warning", "forwards.no_answer.target"}}},
		{name: "a chain that does not come back", edit: func(a *config.Sheet, u map[string]*config.Sheet) {
			a.Forwards.Busy = config.Forward{Enabled: true, Target: "user:bob"}
			u["bob"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:carol", TimeoutS: 20}
			u["carol"].Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:bob"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := world(t, func(u map[string]*config.Sheet) {
				good(u)
				if tt.edit != nil {
					tt.edit(u["alice"], u)
				}
			})
			got, err := callflow.Advise(context.Background(), dir, "alice", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var items []item
			for _, a := range got {
				items = append(items, item{a.Code, string(a.Severity), a.Field})
				if a.Message == "" {
					t.Errorf("%s without a message", a.Code)
				}
			}
			if !slices.Equal(items, tt.want) {
				t.Errorf("Advise() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAdviseMessages(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	dir := world(t, func(u map[string]*config.Sheet) {
		good(u)
		u["alice"].Forwards.Busy = config.Forward{Enabled: true, Target: "user:bob"}
		u["bob"].Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:alice"}
		u["alice"].Forwards.Unconditional = config.Forward{Enabled: true, Target: scenario.AliceMobile}
	})
	got, err := callflow.Advise(context.Background(), dir, "alice", callflow.AdviceOptions{Now: now, UnconditionalSince: now.Add(-15 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"forwards loop back: alice →(busy) bob →(unconditional) alice;",
		"every call has been forwarded to the outside number +33612345678 for 15 days",
	} {
		if !slices.ContainsFunc(got, func(a callflow.Advice) bool { return strings.Contains(a.Message, want) }) {
			t.Errorf("no advice says %q: %+v", want, got)
		}
	}
	if _, err := callflow.Advise(context.Background(), dir, "nobody", callflow.AdviceOptions{}); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Advise(nobody) = %v", err)
	}
}
