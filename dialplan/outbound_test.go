package dialplan

import (
	"errors"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

func TestParseCLIPrefix(t *testing.T) {
	tests := []struct {
		dialed string
		want   CLIChoice
		rest   string
		err    error
	}{
		{"0612345678", CLIChoice{}, "0612345678", nil},
		{"+33612345678", CLIChoice{}, "+33612345678", nil},
		{"*310612345678", CLIChoice{Mode: CLIHide}, "0612345678", nil},
		{"#31#0612345678", CLIChoice{Mode: CLIHide}, "0612345678", nil},
		{"*3220612345678", CLIChoice{Mode: CLIAssociated, Index: 2}, "0612345678", nil},
		{"*3290612345678", CLIChoice{Mode: CLIAssociated, Index: 9}, "0612345678", nil},
		{"*3300612345678", CLIChoice{Mode: CLIMain}, "00612345678", nil},
		{"*33+442071234567", CLIChoice{Mode: CLIMain}, "+442071234567", nil},
		{"*3412", CLIChoice{Mode: CLISite}, "12", nil},
		{"*351234", CLIChoice{}, "*351234", nil},
		{"*3", CLIChoice{}, "*3", nil},
		{"*", CLIChoice{}, "*", nil},
		{"", CLIChoice{}, "", nil},
		{"*31", CLIChoice{}, "", ErrPrefixNoNumber},
		{"#31#", CLIChoice{}, "", ErrPrefixNoNumber},
		{"*321", CLIChoice{}, "", ErrPrefixNoNumber},
		{"*32", CLIChoice{}, "", ErrPrefixIndex},
		{"*3200612", CLIChoice{}, "", ErrPrefixIndex},
		{"*32*0612", CLIChoice{}, "", ErrPrefixIndex},
	}
	for _, tt := range tests {
		t.Run(tt.dialed, func(t *testing.T) {
			got, rest, err := ParseCLIPrefix(tt.dialed)
			if !errors.Is(err, tt.err) || got != tt.want || rest != tt.rest {
				t.Errorf("ParseCLIPrefix(%q) = %+v, %q, %v; want %+v, %q, %v", tt.dialed, got, rest, err, tt.want, tt.rest, tt.err)
			}
			if err == nil && got.Mode != CLIDefault {
				// The prefix renders back to what was dialed (but for #31#, rendered *31).
				if again, r2, _ := ParseCLIPrefix(got.String() + rest); again != got || r2 != rest {
					t.Errorf("String() %q does not parse back", got.String())
				}
			}
		})
	}
}

func TestDecideOutbound(t *testing.T) {
	presentAssoc := func(n string) func(*config.Sheet) {
		return func(s *config.Sheet) {
			s.PresentedNumber = config.PresentedNumber{Mode: config.PresentAssociated, Number: n}
		}
	}
	present := func(mode string) func(*config.Sheet) {
		return func(s *config.Sheet) { s.PresentedNumber = config.PresentedNumber{Mode: mode} }
	}
	alice := Party{Number: aliceMain, Name: "Alice Martin"}
	tests := []struct {
		name    string
		edit    func(*config.Sheet)
		site    func(*config.Site)
		dialed  string
		active  int
		refused Refusal
		number  string
		class   config.NumberClass
		cid     Party
		hidden  bool
		assert  string
	}{
		{name: "national number presents the main number", dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "E.164 number", dialed: "+33612345678", number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "short number is expanded", dialed: "12", number: "+33478000099", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "extension", dialed: "1002", number: "1002", class: config.ClassInternal, cid: alice, assert: aliceMain},
		{name: "short number after a prefix", dialed: "*3112", number: "+33478000099", class: config.ClassNational, hidden: true, assert: aliceMain},
		{name: "*31 hides the number", dialed: "*310612345678", number: "+33612345678", class: config.ClassNational, hidden: true, assert: aliceMain},
		{name: "#31# hides the number", dialed: "#31#0612345678", number: "+33612345678", class: config.ClassNational, hidden: true, assert: aliceMain},
		{name: "*322 presents the direct line", dialed: "*3220612345678", number: "+33612345678", class: config.ClassNational, cid: Party{Number: aliceDirect, Name: "Alice Martin"}, assert: aliceDirect},
		{name: "*321 refuses the personal mobile", dialed: "*3210612345678", refused: RefusedPrefix},
		{name: "*323 refuses a missing associated number", dialed: "*3230612345678", refused: RefusedPrefix},
		{name: "*34 presents the site number", edit: presentAssoc(aliceDirect), dialed: "*340612345678", number: "+33612345678", class: config.ClassNational, cid: Party{Number: siteNumber, Name: "Alice Martin"}, assert: siteNumber},
		{name: "*34 without a site number is refused", site: func(s *config.Site) { s.Number = "" }, dialed: "*340612345678", refused: RefusedPrefix},
		{name: "*33 shows the main number of an anonymous user", edit: present(config.PresentAnonymous), dialed: "*330612345678", number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "*33 without main number is refused", edit: func(s *config.Sheet) { s.MainNumber = "" }, dialed: "*330612345678", refused: RefusedPrefix},
		{name: "a prefix without a number is refused", dialed: "*31", refused: RefusedPrefix},
		{name: "presented associated number", edit: presentAssoc(aliceDirect), dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: Party{Number: aliceDirect, Name: "Alice Martin"}, assert: aliceDirect},
		{name: "presented associated number no longer allowed falls back to main", edit: presentAssoc(aliceMobile), dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "presented number of another user falls back to main", edit: presentAssoc("+33478000002"), dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "presented site number", edit: present(config.PresentSite), dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: Party{Number: siteNumber, Name: "Alice Martin"}, assert: siteNumber},
		{name: "anonymous user", edit: present(config.PresentAnonymous), dialed: "0612345678", number: "+33612345678", class: config.ClassNational, hidden: true, assert: aliceMain},
		{name: "no main number presents the site", edit: func(s *config.Sheet) { s.MainNumber = "" }, dialed: "0612345678", number: "+33612345678", class: config.ClassNational, cid: Party{Number: siteNumber, Name: "Alice Martin"}, assert: siteNumber},
		{name: "nothing to present is hidden", edit: func(s *config.Sheet) { s.MainNumber = "" }, site: func(s *config.Site) { s.Number = "" }, dialed: "0612345678", number: "+33612345678", class: config.ClassNational, hidden: true},
		{name: "max simultaneous calls", dialed: "0612345678", active: 2, refused: RefusedMaxCalls},
		{name: "below max simultaneous calls", dialed: "0612345678", active: 1, number: "+33612345678", class: config.ClassNational, cid: alice, assert: aliceMain},
		{name: "international refused", dialed: "00442071234567", refused: RefusedPolicy},
		{name: "international allowed by the site", site: func(s *config.Site) { s.OutsideCalls.International = true }, dialed: "00442071234567", number: ukNumber, class: config.ClassInternational, cid: alice, assert: aliceMain},
		{name: "premium refused", dialed: "0899123456", refused: RefusedPolicy},
		{name: "blocked prefix refused", site: func(s *config.Site) { s.OutsideCalls.Block = []string{"+336"} }, dialed: "0612345678", refused: RefusedPolicy},
		{name: "not a number", dialed: "hello", refused: RefusedNumber},
		{name: "unknown star code", dialed: "*99", refused: RefusedNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, site := aliceSheet(), lyon()
			if tt.edit != nil {
				tt.edit(s)
			}
			if tt.site != nil {
				tt.site(site)
			}
			c := compile(t, s, site)
			p := DecideOutbound(&OutboundInput{User: c, Dialed: tt.dialed, Active: tt.active})
			if p.Refused != tt.refused {
				t.Fatalf("DecideOutbound(%q) refused %v (%s), want %v", tt.dialed, p.Refused, p.Reason, tt.refused)
			}
			if tt.refused != RefusedNone {
				if p.Reason == "" {
					t.Errorf("refused without a reason")
				}
				return
			}
			if p.Number != tt.number || p.Class != tt.class || p.CallerID != tt.cid || p.Hidden != tt.hidden || p.Asserted != tt.assert {
				t.Errorf("DecideOutbound(%q) = number %q class %v cid %+v hidden %v asserted %q; want %q %v %+v %v %q",
					tt.dialed, p.Number, p.Class, p.CallerID, p.Hidden, p.Asserted, tt.number, tt.class, tt.cid, tt.hidden, tt.assert)
			}
			if !p.Hidden && !MayPresent(c, p.CallerID.Number) {
				t.Errorf("presents %q, which the user may not present", p.CallerID.Number)
			}
		})
	}
}

func TestRefusalReasons(t *testing.T) {
	c := compile(t, aliceSheet(), lyon())
	for _, tt := range []struct{ dialed, want string }{
		{"00442071234567", "+442071234567: international destinations are not allowed by the site's outside-call policy"},
		{"*3210612345678", "*321: associated number 1 is not allowed for presentation"},
		{"*32", ErrPrefixIndex.Error()},
		{"x1", `"x1" is neither a short number, an extension nor a valid phone number`},
	} {
		if got := DecideOutbound(&OutboundInput{User: c, Dialed: tt.dialed}).Reason; got != tt.want {
			t.Errorf("DecideOutbound(%q).Reason = %q, want %q", tt.dialed, got, tt.want)
		}
	}
	if got := DecideOutbound(&OutboundInput{User: c, Dialed: "12", Active: 3}).Reason; got != "the user already has 3 calls (max_simultaneous_calls 2)" {
		t.Errorf("max calls reason = %q", got)
	}
	if p := DecideOutbound(&OutboundInput{}); p.Refused != RefusedNoUser {
		t.Errorf("no user: %v", p.Refused)
	}
}
