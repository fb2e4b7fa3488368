package scenario

import (
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// TestTable checks the table itself: unique names, calls that reach a user, sheets the
// store would accept (config validation), endpoints named as legs are.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rows() {
		if seen[r.Name] {
			t.Errorf("two rows named %q", r.Name)
		}
		seen[r.Name] = true
		site, users := r.World()
		if err := site.Validate(); err != nil {
			t.Errorf("%s: site: %v", r.Name, err)
		}
		facts := &config.Facts{Users: map[string]bool{}, Media: map[string]bool{"busy-fr": true, "ring-lyon": true, "moh-corporate": true}}
		for id := range users {
			facts.Users[id] = true
		}
		for id, s := range users {
			if err := s.Validate(WritableSite(site), facts); err != nil {
				t.Errorf("%s: sheet %s: %v", r.Name, id, err)
			}
		}
		switch r.Call.Direction {
		case Inbound:
			found := false
			for _, s := range users {
				found = found || s.Routes(r.Call.To)
			}
			if !found {
				t.Errorf("%s: no user receives %s", r.Name, r.Call.To)
			}
		case Outbound:
			if users[r.Call.User] == nil {
				t.Errorf("%s: no user %q", r.Name, r.Call.User)
			}
		}
		for target := range r.Endpoints {
			if id, ok := config.UserTarget(target); ok && users[id] == nil || !ok && !strings.HasPrefix(target, "+") {
				t.Errorf("%s: endpoint %q is neither user:<id> of the world nor an E.164 number", r.Name, target)
			}
		}
	}
	if a, b := Sheets()["alice"], Sheets()["alice"]; a == b || &a.AssociatedNumbers[0] == &b.AssociatedNumbers[0] {
		t.Errorf("Sheets() shares data between calls")
	}
}
