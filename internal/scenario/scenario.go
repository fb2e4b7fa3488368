// Package scenario is ONE table of call scenarios, PBX-neutral, that the simulation
// (callflow's tests) and both PBX adapters (against their fake Asterisk and fake
// FreeSWITCH) run, so that the same settings give the same calls everywhere.
//
// # The world
//
// Every row starts from the same world: site Lyon (Site) and users alice, bob and carol
// (Sheets), every forward off, voicemail on, each device online and idle, at DefaultAt
// (Monday 2026-12-07 10:00, Europe/Paris). A row edits that world (Edit, EditSite),
// sets device states through its endpoint scripts (a device scripted Offline is
// unregistered: its state is offline before the call), calls in progress (Active), the
// clock (At), then places one call (Call) and says what must happen (Want).
//
// # Running the table on a PBX (adapters)
//
// Implement Runner and call RunAll from a test:
//
//	func TestScenarios(t *testing.T) { scenario.RunAll(t, &myRunner{...}) }
//
// Runner.Run gets one row and must:
//  1. write the row's world into a fresh store: Load does it all (media, site, sheets in
//     an order validation accepts, device states, calls in progress), rewriting device
//     endpoints into the PBX's dial strings if given a func ("PJSIP/<uid>" in the table);
//  2. script the fake PBX's endpoints from row.Endpoints: the key is the leg target,
//     "user:<id>" for a user's device, the E.164 number for an outside number reached
//     through the trunk (callflow.Script: answers after AfterS s, busy, never answers,
//     offline = unregistered, congestion, rejects, answers but never presses 1); a
//     target not listed never answers; row.CallerHangupS > 0 hangs the caller up that
//     many seconds into the call; row.NoVoicemail means the PBX has no voicemail (the
//     Driver answers callflow.ErrVoicemailUnavailable);
//  3. place row.Call through the daemon with the row's clock (callflow.Options.Now =
//     row.Clock): inbound from row.Call.From to row.Call.To, or outbound by
//     row.Call.User dialing row.Call.Dialed;
//  4. report an Observation: every ring attempt (the legs dialed together, in order, with
//     the calling number and name sent, the asserted identity of a withheld number, the
//     diversion, confirm, and the ring timeout), what the caller heard, the cause sophia
//     hung the caller up with, and callflow's Outcome.
//
// callflow's own tests run the table on the simulation (Sim: a MapDirectory) and on the
// real store in real Redis (Load, then the simulation driver): see
// callflow/scenario_test.go and callflow/store_test.go for two complete Runners.
//
// Times are seconds of the PBX: a Runner may shrink them uniformly (callflow.Options.
// Seconds and its endpoint scripts alike). A PBX without voicemail sets
// Runner.Voicemail false: RunAll then skips the rows whose expectation needs it, saying
// so.
package scenario

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// The world's numbers.
const (
	SiteNumber  = "+33478000000"
	AliceMain   = "+33478000001"
	AliceMobile = "+33612345678"
	AliceDirect = "+33478000011" // label "Support", may be presented
	BobMain     = "+33478000002"
	CarolMain   = "+33478000003"
	CarolMobile = "+33698765432"
	Outsider    = "+33145000000" // an outside caller, "Eve Durand"
	UKNumber    = "+442071234567"
)

// Eve is the outside caller of most rows.
var Eve = dialplan.Party{Number: Outsider, Name: "Eve Durand"}

// Paris is the world's zone.
var Paris = mustZone("Europe/Paris")

// DefaultAt is the world's clock: Monday 2026-12-07 10:00 in Paris.
var DefaultAt = time.Date(2026, 12, 7, 10, 0, 0, 0, Paris)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Site returns a fresh copy of the world's site.
func Site() *config.Site {
	s := config.DefaultSite()
	s.ID, s.Name, s.Number, s.Version = "lyon", "Lyon", SiteNumber, 1
	return &s
}

// Sheets returns fresh copies of the world's users: alice (desk, mobile, a direct line,
// her own busy sound, ringback and hold music), bob and carol (desk each).
func Sheets() map[string]*config.Sheet {
	user := func(id, name, main string) *config.Sheet {
		s := config.DefaultSheet()
		s.ID, s.Site, s.Name, s.Timezone, s.Version = id, "lyon", name, "Europe/Paris", 1
		s.MainNumber = main
		s.Device = &config.Device{ID: "desk-" + id, Endpoint: "PJSIP/" + id}
		return &s
	}
	alice := user("alice", "Alice Martin", AliceMain)
	alice.AssociatedNumbers = []config.AssociatedNumber{
		{Number: AliceMobile, Label: "mobile", Callback: true},
		{Number: AliceDirect, Label: "Support", Callback: true, Presentation: true},
	}
	alice.ShortNumbers = []config.ShortNumber{{Code: "12", Number: "+33478000099", Label: "Standard"}}
	alice.Audio = config.Audio{Busy: "busy-fr", Ringback: "ring-lyon", Hold: "moh-corporate"}
	carol := user("carol", "Carol Petit", CarolMain)
	carol.AssociatedNumbers = []config.AssociatedNumber{{Number: CarolMobile, Label: "mobile"}}
	return map[string]*config.Sheet{"alice": alice, "bob": user("bob", "Bob Leroy", BobMain), "carol": carol}
}

// Direction of a row's call.
type Direction uint8

// Directions.
const (
	Inbound  Direction = iota // From calls To, a number of a user
	Outbound                  // User dials Dialed
)

// Call is the row's call.
type Call struct {
	Direction Direction
	From      dialplan.Party // inbound: the caller
	To        string         // inbound: the number dialed
	User      string         // outbound: the user who dials
	Dialed    string         // outbound: what the user dials
}

// Row is one scenario.
type Row struct {
	Name string
	// Edit changes the world's sheets (by user id) before the call; EditSite its site.
	Edit     func(users map[string]*config.Sheet)
	EditSite func(*config.Site)
	At       time.Time      // the clock; zero means DefaultAt
	Active   map[string]int // calls in progress, by user id
	// Endpoints script the far ends by leg target ("user:<id>", a number); not listed:
	// never answers. A device scripted Offline is also unregistered before the call.
	Endpoints     map[string]callflow.Script
	CallerHangupS int  // > 0: the caller hangs up this many seconds into the call
	NoVoicemail   bool // the PBX has no voicemail
	Call          Call
	Want          Want
}

// Want is what must happen; Observation what did. They have the same shape.
type Want = Observation

// Observation is what a Runner saw.
type Observation struct {
	Dials   []Dial
	Heard   []string // "ringback:<media>", "busy:<media>", "unavailable:<media>", "voicemail:<mailbox>/<greeting>"
	Hangup  string   // the cause sophia hung the caller up with (callflow.Cause.String()), "" for none
	Outcome callflow.Outcome
}

// Dial is one ring attempt: the legs dialed together and the ring timeout.
type Dial struct {
	TimeoutS int
	Legs     []Leg
}

// Leg is a leg as a PBX sends it.
type Leg struct {
	Target string // "user:<id>" or the number
	Number string // calling number sent ("" withheld)
	Name   string // calling name sent (the display)
	// Asserted is the network-asserted number sent with a withheld number, "" otherwise.
	Asserted string
	// Redirect is the diversion sent: "<from number>;<RFC 5806 reason>;<count>", "" none.
	Redirect string
	Confirm  bool
}

func (l Leg) String() string {
	s := fmt.Sprintf("%s cid=%q/%q", l.Target, l.Number, l.Name)
	if l.Asserted != "" {
		s += " asserted=" + l.Asserted
	}
	if l.Redirect != "" {
		s += " redirect=" + l.Redirect
	}
	if l.Confirm {
		s += " confirm"
	}
	return s
}

// LegOf renders a plan's leg as the table compares it.
func LegOf(l dialplan.Leg) Leg {
	out := Leg{Target: l.Target, Number: l.CallerID.Number, Name: l.Display, Asserted: l.Asserted, Confirm: l.Confirm}
	if r := l.Redirect; r.Count > 0 {
		out.Redirect = fmt.Sprintf("%s;%s;%d", r.From.Number, r.Reason.SIP(), r.Count)
	}
	return out
}

// World returns the row's site and sheets after its edits.
func (r *Row) World() (*config.Site, map[string]*config.Sheet) {
	site, users := Site(), Sheets()
	if r.EditSite != nil {
		r.EditSite(site)
	}
	if r.Edit != nil {
		r.Edit(users)
	}
	return site, users
}

// Clock returns the row's time.
func (r *Row) Clock() time.Time {
	if r.At.IsZero() {
		return DefaultAt
	}
	return r.At
}

// DeviceState returns the state of uid's device before the call.
func (r *Row) DeviceState(uid string) config.DeviceState {
	if r.Endpoints[config.TargetUserPrefix+uid].Behavior == callflow.Offline {
		return config.DeviceOffline
	}
	return config.DeviceOnline
}

// NeedsVoicemail reports whether the expectation needs a PBX with voicemail.
func (r *Row) NeedsVoicemail() bool {
	return r.Want.Outcome.Kind == callflow.OutcomeVoicemail ||
		slices.ContainsFunc(r.Want.Heard, func(h string) bool { return strings.HasPrefix(h, "voicemail:") })
}

// Runner runs one row on a PBX (or the simulation) and reports what happened.
type Runner interface {
	Run(t *testing.T, r *Row) Observation
}

// VoicemailLess is implemented by a Runner whose PBX has no voicemail yet.
type VoicemailLess interface {
	NoVoicemail() bool
}

// RunAll runs every row of Rows with r, each in its own subtest, and checks it.
func RunAll(t *testing.T, r Runner) {
	vl, _ := r.(VoicemailLess)
	for _, row := range Rows() {
		t.Run(row.Name, func(t *testing.T) {
			if vl != nil && vl.NoVoicemail() && row.NeedsVoicemail() && !row.NoVoicemail {
				t.Skip("needs voicemail, which this PBX's driver does not have yet")
			}
			Check(t, &row, r.Run(t, &row))
		})
	}
}

// Check compares an observation with the row's expectation, reporting every difference.
func Check(t testing.TB, r *Row, got Observation) {
	t.Helper()
	want := r.Want
	if g, w := renderDials(got.Dials), renderDials(want.Dials); g != w {
		t.Errorf("legs dialed:\n got: %s\nwant: %s", g, w)
	}
	if !slices.Equal(got.Heard, want.Heard) {
		t.Errorf("caller heard %q, want %q", got.Heard, want.Heard)
	}
	if got.Hangup != want.Hangup {
		t.Errorf("hangup cause %q, want %q", got.Hangup, want.Hangup)
	}
	if got.Outcome != want.Outcome {
		t.Errorf("outcome %+v, want %+v", got.Outcome, want.Outcome)
	}
}

func renderDials(ds []Dial) string {
	if len(ds) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for i, d := range ds {
		fmt.Fprintf(&b, "\n  %d. %ds:", i+1, d.TimeoutS)
		for _, l := range d.Legs {
			b.WriteString("\n     " + l.String())
		}
	}
	return b.String()
}
