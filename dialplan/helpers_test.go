package dialplan

import (
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// The fixtures: site Lyon and Alice, every forward off, voicemail on.
const (
	aliceMain   = "+33478000001"
	aliceMobile = "+33612345678"
	aliceDirect = "+33478000011"
	siteNumber  = "+33478000000"
	callerNum   = "+33145000000"
	ukNumber    = "+442071234567"
)

func lyon() *config.Site {
	s := config.DefaultSite()
	s.ID, s.Name, s.Number = "lyon", "Lyon", siteNumber
	return &s
}

func aliceSheet() *config.Sheet {
	s := config.DefaultSheet()
	s.ID, s.Site, s.Name, s.Timezone = "alice", "lyon", "Alice Martin", "Europe/Paris"
	s.MainNumber = aliceMain
	s.AssociatedNumbers = []config.AssociatedNumber{
		{Number: aliceMobile, Label: "mobile", Callback: true},
		{Number: aliceDirect, Label: "Support line", Callback: true, Presentation: true},
	}
	s.ShortNumbers = []config.ShortNumber{{Code: "12", Number: "+33478000099", Label: "Standard"}}
	s.Device = &config.Device{ID: "desk-alice", Endpoint: "PJSIP/alice"}
	s.Audio = config.Audio{Busy: "busy-fr", Ringback: "ring-lyon", Hold: "moh"}
	return &s
}

func compile(t testing.TB, s *config.Sheet, site *config.Site) *config.Compiled {
	t.Helper()
	c, err := config.Compile(s, site)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// input builds an Input for Alice after edit, called from callerNum on her main number.
func input(t testing.TB, edit func(*config.Sheet), now time.Time) *Input {
	t.Helper()
	s := aliceSheet()
	if edit != nil {
		edit(s)
	}
	return &Input{
		User:   compile(t, s, lyon()),
		Call:   Call{From: Party{Number: callerNum, Name: "Carol"}, To: aliceMain},
		Device: config.DeviceOnline,
		Now:    now,
	}
}

// walk follows the plan from its first step through outcomes, returning each step's
// summary joined with " → ", and stopping when an outcome ends the call ("→ end").
func walk(p *Plan, outcomes ...Outcome) string {
	if len(p.Steps) == 0 {
		return "(empty plan)"
	}
	i := 0
	parts := []string{p.Steps[0].summary()}
	for _, o := range outcomes {
		n := p.Steps[i].Next[o]
		if n == End {
			parts = append(parts, "end")
			break
		}
		i = int(n)
		parts = append(parts, p.Steps[i].summary())
	}
	return strings.Join(parts, " → ")
}
