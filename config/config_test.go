package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// facts is the world the testdata sheets are checked against: alice is the sheet under
// test; bob and carol exist; bob holds +33478000002 and the endpoint PJSIP/bob.
var facts = &config.Facts{
	Users:        map[string]bool{"alice": true, "bob": true, "carol": true},
	Media:        map[string]bool{"busy-fr": true, "ring-lyon": true, "moh-corporate": true, "greeting-alice": true},
	NumberOwners: map[string]string{"+33478000002": "bob", "+33478000001": "alice"},
	DeviceOwners: map[string]string{"PJSIP/bob": "bob", "PJSIP/alice": "alice"},
}

func loadSite(t testing.TB, path string) *config.Site {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.DecodeSite(data)
	if err != nil {
		t.Fatalf("DecodeSite(%s): %v", path, err)
	}
	s.Normalize()
	if err := s.Validate(); err != nil {
		t.Fatalf("site %s: %v", path, err)
	}
	return s
}

// sites are the sites a testdata sheet may name: lyon, and nonum (a site with no number).
func sites(t testing.TB) map[string]*config.Site {
	lyon := loadSite(t, "testdata/site-lyon.json")
	nonum := *lyon
	nonum.ID, nonum.Number = "nonum", ""
	return map[string]*config.Site{"lyon": lyon, "nonum": &nonum}
}

// check decodes, normalizes and validates one sheet file as the store does, and returns
// the problems as "path: reason" strings (nil when the sheet is valid).
func check(t *testing.T, path string) (*config.Sheet, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.DecodeSheet(data)
	if err == nil {
		site := sites(t)[s.Site]
		region := "FR"
		if site != nil {
			region = site.Region
		}
		s.Normalize(region)
		err = s.Validate(site, facts)
	}
	return s, problemStrings(t, err)
}

func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("ValidationError with no problem")
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.String())
	}
	return got
}

func TestGoodSheet(t *testing.T) {
	s, problems := check(t, "testdata/sheet-good.json")
	if problems != nil {
		t.Fatalf("sheet-good.json: %q", problems)
	}
	// Normalization: national numbers to E.164 in the site's region, MAC to colons.
	if got := s.AssociatedNumbers[0].Number; got != "+33612345678" {
		t.Errorf("associated_numbers[0].number = %q, want +33612345678", got)
	}
	if got := s.Device.MAC; got != "80:5e:c0:a1:b2:c3" {
		t.Errorf("device.mac = %q, want 80:5e:c0:a1:b2:c3", got)
	}
	if s.Voicemail.PINSet {
		t.Error("pin_set from the input was kept; it is output only")
	}
	// Defaults fill what the input leaves out.
	if r := s.Forwards.Scheduled[1]; r.Start != "00:00" || r.End != "00:00" {
		t.Errorf("scheduled[1] start/end = %q/%q, want 00:00/00:00 (all day)", r.Start, r.End)
	}
	// A valid sheet survives a JSON round trip unchanged.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.DecodeSheet(data)
	if err != nil {
		t.Fatalf("decode own output: %v", err)
	}
	back.Normalize("FR")
	if !reflect.DeepEqual(s, back) {
		t.Errorf("round trip changed the sheet:\n got %+v\nwant %+v", back, s)
	}
}

func TestDefaults(t *testing.T) {
	s, err := config.DecodeSheet([]byte(`{"id": "bob", "name": "Bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	s.Normalize("FR")
	if s.Site != config.DefaultSiteID {
		t.Errorf("site = %q, want %q", s.Site, config.DefaultSiteID)
	}
	def := config.DefaultSite()
	// No main number: the default presented number (main) has nothing to present.
	if got := problemStrings(t, s.Validate(&def, facts)); !reflect.DeepEqual(got, []string{"presented_number.mode: main requires a main_number"}) {
		t.Errorf("problems = %q", got)
	}
	s.PresentedNumber.Mode = config.PresentAnonymous
	if err := s.Validate(&def, facts); err != nil {
		t.Errorf("a minimal sheet with anonymous presentation: %v", err)
	}
	want := config.DefaultSheet()
	want.ID, want.Name, want.PresentedNumber.Mode = "bob", "Bob", config.PresentAnonymous
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("decoded minimal sheet = %+v, want the defaults %+v", *s, want)
	}
}

func TestBadSheets(t *testing.T) {
	tests := map[string][]string{
		"advanced-display":                      {"advanced.incoming_display: must be one of caller, called_number, context_name"},
		"advanced-max-calls-high":               {"advanced.max_simultaneous_calls: must be between 1 and 50"},
		"advanced-max-calls":                    {"advanced.max_simultaneous_calls: must be between 1 and 50"},
		"associated-duplicate":                  {"associated_numbers[1].number: duplicate of associated_numbers[0]"},
		"associated-invalid":                    {"associated_numbers[1].number: not a valid phone number or extension"},
		"associated-label":                      {"associated_numbers[0].label: must be at most 64 characters"},
		"associated-main":                       {"associated_numbers[0].number: same as main_number"},
		"associated-missing":                    {"associated_numbers[0].number: required"},
		"associated-owned":                      {"associated_numbers[0].number: +33478000002 already belongs to user bob"},
		"associated-too-many":                   {"associated_numbers: at most 20 associated numbers"},
		"audio-unknown":                         {"audio.busy: no media \"busy-de\" in the library", "audio.hold: must be a media name: 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		"decode-syntax":                         {"invalid JSON: unexpected EOF"},
		"decode-trailing":                       {"invalid JSON: data after the object"},
		"decode-types":                          {"advanced.max_simultaneous_calls: must be an integer", "associated_numbers: must be a list", "dnd: must be true or false", "forwards.no_answer.timeout_s: must be an integer"},
		"decode-unknown-fields":                 {"Main_Number: unknown field", "colour: unknown field", "forwards.no_answer.timout_s: unknown field"},
		"device-endpoint-injection":             {"device.endpoint: must be TECH/resource, like PJSIP/alice or sofia/internal/alice"},
		"device-endpoint-missing":               {"device.endpoint: required"},
		"device-endpoint-owned":                 {"device.endpoint: PJSIP/bob already belongs to user bob"},
		"device-endpoint":                       {"device.endpoint: must be TECH/resource, like PJSIP/alice or sofia/internal/alice"},
		"device-id":                             {"device.id: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		"device-mac":                            {"device.mac: not a MAC address like 80:5e:c0:a1:b2:c3"},
		"forward-blocked-prefix":                {"forwards.unconditional.target: destination blocked by the site's outside-call policy"},
		"forward-enabled-without-target":        {"forwards.unconditional.target: required when enabled", "forwards.busy.target: required when enabled"},
		"forward-international":                 {"forwards.unconditional.target: international destinations are not allowed by the site's outside-call policy"},
		"forward-own-number":                    {"forwards.no_answer.target: must not be the user's own main number"},
		"forward-premium":                       {"forwards.unconditional.target: premium-rate destinations are not allowed by the site's outside-call policy"},
		"forward-target-invalid":                {"forwards.not_connected.target: must be voicemail, user:<id> or a phone number"},
		"forward-user-self":                     {"forwards.busy.target: must not forward to the user itself"},
		"forward-user-unknown":                  {"forwards.busy.target: no user \"zoe\""},
		"forward-voicemail-disabled":            {"forwards.no_answer.target: voicemail is disabled"},
		"id-missing":                            {"id: required"},
		"id-syntax":                             {"id: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		"key-position-duplicate":                {"function_keys[1].position: duplicate of function_keys[0]"},
		"key-position":                          {"function_keys[0].position: must be at least 1"},
		"key-shortcut-number":                   {"function_keys[0].target: not a valid phone number or extension"},
		"key-space-target":                      {"function_keys[0].target: must be empty for a space key"},
		"key-supervision-self":                  {"function_keys[0].target: a user cannot supervise itself"},
		"key-supervision-target":                {"function_keys[0].target: must be user:<id>"},
		"key-supervision-unknown":               {"function_keys[0].target: no user \"zoe\""},
		"key-type":                              {"function_keys[0].type: must be one of shortcut, space, supervision"},
		"main-number-invalid":                   {"main_number: not a valid phone number or extension"},
		"main-number-owned":                     {"main_number: +33478000002 already belongs to user bob"},
		"multiple-problems":                     {"name: required", "advanced.max_simultaneous_calls: must be between 1 and 50", "forwards.no_answer.timeout_s: must be between 5 and 120"},
		"name-control":                          {"name: must not contain control characters"},
		"name-missing":                          {"name: required"},
		"no-answer-timeout-high":                {"forwards.no_answer.timeout_s: must be between 5 and 120"},
		"no-answer-timeout":                     {"forwards.no_answer.timeout_s: must be between 5 and 120"},
		"presented-associated-missing":          {"presented_number.number: required when mode is associated"},
		"presented-associated-not-presentation": {"presented_number.number: must be one of the user's associated numbers marked presentation"},
		"presented-main-without-number":         {"presented_number.mode: main requires a main_number"},
		"presented-mode":                        {"presented_number.mode: must be one of main, associated, site, anonymous", "presented_number.number: must be empty unless mode is associated"},
		"presented-site-without-number":         {"presented_number.mode: the site has no number"},
		"scheduled-dates":                       {"forwards.scheduled[0].from: must be a date YYYY-MM-DD", "forwards.scheduled[0].until: must be a date YYYY-MM-DD"},
		"scheduled-days":                        {"forwards.scheduled[0].days[1]: must be one of mon, tue, wed, thu, fri, sat, sun", "forwards.scheduled[0].days[2]: duplicate of days[0]"},
		"scheduled-target":                      {"forwards.scheduled[0].target: required when enabled"},
		"scheduled-times":                       {"forwards.scheduled[0].start: must be a time HH:MM (00:00 to 23:59)", "forwards.scheduled[0].end: must be a time HH:MM (00:00 to 23:59)"},
		"scheduled-timezone":                    {"forwards.scheduled[0].timezone: unknown time zone \"Europe/Lyon\""},
		"scheduled-until-before-from":           {"forwards.scheduled[0].until: must not be before from"},
		"short-code":                            {"short_numbers[0].code: must be 1 to 4 digits", "short_numbers[1].code: must be 1 to 4 digits"},
		"short-duplicate":                       {"short_numbers[1].code: duplicate of short_numbers[0]"},
		"short-number":                          {"short_numbers[0].number: not a valid phone number or extension", "short_numbers[1].number: required"},
		"simring-duplicate":                     {"forwards.simultaneous_ring.targets[1]: duplicate of targets[0]"},
		"simring-empty":                         {"forwards.simultaneous_ring.targets: at least one target when enabled"},
		"simring-own-main":                      {"forwards.simultaneous_ring.targets[0]: must not be the user's own main number"},
		"simring-too-many":                      {"forwards.simultaneous_ring.targets: at most 5 targets"},
		"simring-voicemail":                     {"forwards.simultaneous_ring.targets[0]: must be user:<id> or a phone number", "forwards.simultaneous_ring.targets[1]: must not ring the user itself", "forwards.simultaneous_ring.targets[2]: no user \"zoe\""},
		"site-syntax":                           {"site: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		"site-unknown":                          {"site: no site \"paris\""},
		"timezone-unknown":                      {"timezone: unknown time zone \"Mars/Olympus\""},
		"voicemail-delete-after-email":          {"voicemail.email.delete_after_email: requires email to be enabled"},
		"voicemail-email-invalid":               {"voicemail.email.address: not a valid email address"},
		"voicemail-email-missing":               {"voicemail.email.address: required when email is enabled"},
		"voicemail-greeting-unknown":            {"voicemail.greeting: no media \"greeting-bob\" in the library"},
		"voicemail-max-messages-high":           {"voicemail.max_messages: must be between 1 and 1000"},
		"voicemail-max-messages":                {"voicemail.max_messages: must be between 1 and 1000"},
		"voicemail-remote-numbers":              {"voicemail.remote_access.allowed_numbers[1]: not a valid phone number or extension", "voicemail.remote_access.allowed_numbers[2]: duplicate of allowed_numbers[0]"},
		"voicemail-retention-high":              {"voicemail.retention_days: must be between 0 and 3650"},
		"voicemail-retention":                   {"voicemail.retention_days: must be between 0 and 3650"},
	}
	files, err := filepath.Glob("testdata/sheet-bad/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/sheet-bad, %d cases: every file needs its expected messages", len(files), len(tests))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			want, ok := tests[name]
			if !ok {
				t.Fatalf("no expected messages for %s", f)
			}
			_, got := check(t, f)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestBadSites(t *testing.T) {
	tests := map[string][]string{
		"id-syntax":             {"id: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
		"max-forward-hops-high": {"max_forward_hops: must be between 1 and 10"},
		"max-forward-hops":      {"max_forward_hops: must be between 1 and 10"},
		"name-missing":          {"name: required"},
		"number-invalid":        {"number: not a valid phone number or extension"},
		"policy-prefixes":       {"outside_calls.allow[0]: must be + followed by 1 to 15 digits", "outside_calls.block[0]: must be + followed by 1 to 15 digits"},
		"region-unknown":        {"region: unknown region \"XX\": an ISO 3166 code like FR"},
		"timezone-missing":      {"timezone: required"},
		"timezone-unknown":      {"timezone: unknown time zone \"Europe/Lutece\""},
		"unknown-field":         {"outside_calls.premium_rate: unknown field"},
	}
	files, err := filepath.Glob("testdata/site-bad/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/site-bad, %d cases", len(files), len(tests))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			want, ok := tests[name]
			if !ok {
				t.Fatalf("no expected messages for %s", f)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := config.DecodeSite(data)
			if err == nil {
				s.Normalize()
				err = s.Validate()
			}
			if got := problemStrings(t, err); !reflect.DeepEqual(got, want) {
				t.Errorf("problems:\n got %q\nwant %q", got, want)
			}
		})
	}
}
