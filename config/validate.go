package config

import (
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones validate the same on a host without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Facts are what validating a sheet needs to know about the rest of the store. The store
// fills them for the names a sheet uses (Sheet.Refs) inside its write, and the same atomic
// step re-checks every fact it relied on, so Validate itself stays pure. A nil *Facts skips
// the checks that need them (a sheet checked offline, before import).
type Facts struct {
	Users        map[string]bool   // user ids that exist
	Media        map[string]bool   // names in the media library
	NumberOwners map[string]string // number → the user whose sheet holds it
	DeviceOwners map[string]string // device endpoint → the user whose sheet holds it
}

// Refs are the names a sheet uses outside itself.
type Refs struct {
	Users    []string // ids in user:<id> targets and supervision keys, each once
	Media    []string // audio and greeting references, each once
	Numbers  []string // the numbers the sheet holds: main, then associated (indexed: one owner each)
	Endpoint string   // the device's endpoint ("" without a device)
}

// Refs returns the names s uses outside itself, for the store to look up.
func (s *Sheet) Refs() Refs {
	var r Refs
	addUser := func(target string) {
		if id, ok := UserTarget(target); ok && id != "" && !slices.Contains(r.Users, id) {
			r.Users = append(r.Users, id)
		}
	}
	for _, k := range s.FunctionKeys {
		if k.Type == KeySupervision {
			addUser(k.Target)
		}
	}
	f := &s.Forwards
	for _, t := range []string{f.Unconditional.Target, f.NoAnswer.Target, f.NotConnected.Target, f.Busy.Target} {
		addUser(t)
	}
	for _, r := range f.Scheduled {
		addUser(r.Target)
	}
	for _, t := range f.SimultaneousRing.Targets {
		addUser(t)
	}
	for _, m := range []string{s.Audio.Busy, s.Audio.Ringback, s.Audio.Hold, s.Voicemail.Greeting} {
		if m != "" && !slices.Contains(r.Media, m) {
			r.Media = append(r.Media, m)
		}
	}
	r.Numbers = s.Numbers()
	if s.Device != nil {
		r.Endpoint = s.Device.Endpoint
	}
	return r
}

// Numbers returns the numbers the sheet holds, each once: the main number, then the
// associated numbers. Each belongs to one user at most ({P}:numbers).
func (s *Sheet) Numbers() []string {
	var ns []string
	if s.MainNumber != "" {
		ns = append(ns, s.MainNumber)
	}
	for _, a := range s.AssociatedNumbers {
		if a.Number != "" && !slices.Contains(ns, a.Number) {
			ns = append(ns, a.Number)
		}
	}
	return ns
}

// Routes reports whether a call to num reaches the user: num is the main number or an
// associated number marked callback.
func (s *Sheet) Routes(num string) bool {
	if num == "" {
		return false
	}
	if num == s.MainNumber {
		return true
	}
	for _, a := range s.AssociatedNumbers {
		if a.Number == num && a.Callback {
			return true
		}
	}
	return false
}

// Limits on what one sheet may hold, so that a sheet stays small on the call path.
const (
	MaxAssociatedNumbers  = 20
	MaxShortNumbers       = 100
	MaxFunctionKeys       = 200
	MaxScheduledRules     = 50
	MaxSimultaneousRing   = 5
	MaxRemoteNumbers      = 50
	MaxSimultaneousCalls  = 50
	MaxMailboxMessages    = 1000
	MaxRetentionDays      = 3650
	MinForwardHops        = 1
	MaxForwardHopsLimit   = 10
	maxLabelLen           = 64
	maxNameLen            = 200
	maxCommentLen         = 2000
	maxShortCodeDigits    = 4
	reasonID              = "must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
	reasonNumber          = "not a valid phone number or extension"
	reasonTarget          = "must be voicemail, user:<id> or a phone number"
	reasonRingTarget      = "must be user:<id> or a phone number"
	reasonRequired        = "required"
	reasonRequiredEnabled = "required when enabled"
)

var (
	idRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	shortCodeRE = regexp.MustCompile(`^[0-9]{1,4}$`)
	hhmmRE      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	prefixRE    = regexp.MustCompile(`^\+[0-9]{1,15}$`)
	// endpointRE is TECH/resource: a channel technology, then a resource with no blank
	// and none of the characters that separate dial strings (& , |) or quote them.
	endpointRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*/[^\s&,|"'\\]+$`)
)

// ValidID reports whether id is a valid user, site, media or token id.
func ValidID(id string) bool { return idRE.MatchString(id) }

// validNumber reports whether num is a normalized number: an internal extension or an
// E.164 number that phonenumbers accepts as valid.
func validNumber(num string) bool {
	if IsExtension(num) {
		return true
	}
	if !strings.HasPrefix(num, "+") {
		return false
	}
	return validMemo.get(num, func() bool {
		n, err := NormalizeNumber(num, "")
		return err == nil && n == num
	})
}

var (
	validMemo  memo[bool]
	classMemo  memo[NumberClass]
	normalMemo memo[normalized]
)

var zoneCache sync.Map // name → bool

// ValidZone reports whether name is an IANA time zone ("Local" is not: it would mean
// whatever the daemon's host is set to).
func ValidZone(name string) bool {
	if name == "" || name == "Local" {
		return false
	}
	if ok, found := zoneCache.Load(name); found {
		return ok.(bool)
	}
	_, err := time.LoadLocation(name)
	zoneCache.Store(name, err == nil)
	return err == nil
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// text checks a free-text field: at most max characters, no control characters.
func (ps *problems) text(path, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		ps.add(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		ps.addf(path, "must be at most %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ps.add(path, "must not contain control characters")
	}
}

func (ps *problems) id(path, id string) {
	switch {
	case id == "":
		ps.add(path, reasonRequired)
	case !ValidID(id):
		ps.add(path, reasonID)
	}
}

func (ps *problems) zone(path, zone string) {
	if zone == "" {
		ps.add(path, reasonRequired)
	} else if !ValidZone(zone) {
		ps.addf(path, "unknown time zone %q", zone)
	}
}

func (ps *problems) between(path string, v, lo, hi int) {
	if v < lo || v > hi {
		ps.addf(path, "must be between %d and %d", lo, hi)
	}
}

func (ps *problems) atMost(path string, n, max int, what string) bool {
	if n > max {
		ps.addf(path, "at most %d %s", max, what)
		return false
	}
	return true
}

// sheetCheck is one validation of one sheet.
type sheetCheck struct {
	s    *Sheet
	site *Site
	f    *Facts
	ps   problems
}

// Validate checks a normalized sheet of site (nil: the sheet's site does not exist)
// against every rule of the user sheet, using f for what lies outside the sheet, and
// returns a *ValidationError listing every problem, or nil.
func (s *Sheet) Validate(site *Site, f *Facts) error {
	c := &sheetCheck{s: s, site: site, f: f}
	c.identity()
	c.general()
	c.parameters()
	c.forwards()
	c.voicemail()
	return c.ps.err()
}

func (c *sheetCheck) identity() {
	s, ps := c.s, &c.ps
	ps.id("id", s.ID)
	switch {
	case s.Site == "":
		ps.add("site", reasonRequired)
	case !ValidID(s.Site):
		ps.add("site", reasonID)
	case c.site == nil:
		ps.addf("site", "no site %q", s.Site)
	}
	if s.Name == "" {
		ps.add("name", reasonRequired)
	} else {
		ps.text("name", s.Name, maxNameLen)
	}
	if s.Timezone != "" {
		ps.zone("timezone", s.Timezone)
	}
	if s.Version < 0 {
		ps.add("version", "must not be negative")
	}
	ps.text("comment", s.Comment, maxCommentLen)
}

// owned checks that num, held by the sheet, belongs to no other user.
func (c *sheetCheck) owned(path, num string) {
	if c.f == nil {
		return
	}
	if owner := c.f.NumberOwners[num]; owner != "" && owner != c.s.ID {
		c.ps.addf(path, "%s already belongs to user %s", num, owner)
	}
}

func (c *sheetCheck) number(path, num string) bool {
	switch {
	case num == "":
		c.ps.add(path, reasonRequired)
	case !validNumber(num):
		c.ps.add(path, reasonNumber)
	default:
		return true
	}
	return false
}

func (c *sheetCheck) general() {
	s, ps := c.s, &c.ps
	if s.MainNumber != "" && c.number("main_number", s.MainNumber) {
		c.owned("main_number", s.MainNumber)
	}
	if ps.atMost("associated_numbers", len(s.AssociatedNumbers), MaxAssociatedNumbers, "associated numbers") {
		seen := map[string]int{}
		for i, a := range s.AssociatedNumbers {
			p := idx("associated_numbers", i)
			if c.number(p+".number", a.Number) {
				if j, dup := seen[a.Number]; dup {
					ps.addf(p+".number", "duplicate of associated_numbers[%d]", j)
				} else if a.Number == s.MainNumber {
					ps.add(p+".number", "same as main_number")
				} else {
					c.owned(p+".number", a.Number)
				}
				seen[a.Number] = i
			}
			ps.text(p+".label", a.Label, maxLabelLen)
		}
	}
	if ps.atMost("short_numbers", len(s.ShortNumbers), MaxShortNumbers, "short numbers") {
		seen := map[string]int{}
		for i, sn := range s.ShortNumbers {
			p := idx("short_numbers", i)
			if !shortCodeRE.MatchString(sn.Code) {
				ps.addf(p+".code", "must be 1 to %d digits", maxShortCodeDigits)
			} else if j, dup := seen[sn.Code]; dup {
				ps.addf(p+".code", "duplicate of short_numbers[%d]", j)
			} else {
				seen[sn.Code] = i
			}
			c.number(p+".number", sn.Number)
			ps.text(p+".label", sn.Label, maxLabelLen)
		}
	}
	if d := s.Device; d != nil {
		ps.id("device.id", d.ID)
		switch {
		case d.Endpoint == "":
			ps.add("device.endpoint", reasonRequired)
		case !endpointRE.MatchString(d.Endpoint):
			ps.add("device.endpoint", "must be TECH/resource, like PJSIP/alice or sofia/internal/alice")
		case c.f != nil:
			if owner := c.f.DeviceOwners[d.Endpoint]; owner != "" && owner != s.ID {
				ps.addf("device.endpoint", "%s already belongs to user %s", d.Endpoint, owner)
			}
		}
		if d.MAC != "" {
			if mac, err := net.ParseMAC(d.MAC); err != nil || len(mac) != 6 {
				ps.add("device.mac", "not a MAC address like 80:5e:c0:a1:b2:c3")
			}
		}
		ps.text("device.model", d.Model, maxLabelLen)
	}
}

func (c *sheetCheck) media(path, name string) {
	switch {
	case name == "":
	case !ValidID(name):
		c.ps.add(path, "must be a media name: "+reasonID[len("must be "):])
	case c.f != nil && !c.f.Media[name]:
		c.ps.addf(path, "no media %q in the library", name)
	}
}

// user checks a user:<id> target naming another, existing user.
func (c *sheetCheck) user(path, id, self string) {
	switch {
	case !ValidID(id):
		c.ps.add(path, "user:<id> names no valid user id")
	case id == c.s.ID:
		c.ps.add(path, self)
	case c.f != nil && !c.f.Users[id]:
		c.ps.addf(path, "no user %q", id)
	}
}

func (c *sheetCheck) parameters() {
	s, ps := c.s, &c.ps
	if ps.atMost("function_keys", len(s.FunctionKeys), MaxFunctionKeys, "function keys") {
		seen := map[int]int{}
		for i, k := range s.FunctionKeys {
			p := idx("function_keys", i)
			if k.Position < 1 {
				ps.add(p+".position", "must be at least 1")
			} else if j, dup := seen[k.Position]; dup {
				ps.addf(p+".position", "duplicate of function_keys[%d]", j)
			} else {
				seen[k.Position] = i
			}
			ps.text(p+".label", k.Label, maxLabelLen)
			switch k.Type {
			case KeySpace:
				ps.need(k.Target == "", p+".target", "must be empty for a space key")
			case KeyShortcut:
				c.number(p+".target", k.Target)
			case KeySupervision:
				if id, ok := UserTarget(k.Target); !ok {
					ps.add(p+".target", "must be user:<id>")
				} else {
					c.user(p+".target", id, "a user cannot supervise itself")
				}
			default:
				ps.add(p+".type", "must be one of shortcut, space, supervision")
			}
		}
	}
	c.media("audio.busy", s.Audio.Busy)
	c.media("audio.ringback", s.Audio.Ringback)
	c.media("audio.hold", s.Audio.Hold)

	pn := s.PresentedNumber
	switch pn.Mode {
	case PresentMain:
		ps.need(s.MainNumber != "", "presented_number.mode", "main requires a main_number")
	case PresentAssociated:
		ok := false
		for _, a := range s.AssociatedNumbers {
			ok = ok || (a.Number == pn.Number && a.Presentation)
		}
		if pn.Number == "" {
			ps.add("presented_number.number", "required when mode is associated")
		} else if !ok {
			ps.add("presented_number.number", "must be one of the user's associated numbers marked presentation")
		}
	case PresentSite:
		ps.need(c.site == nil || c.site.Number != "", "presented_number.mode", "the site has no number")
	case PresentAnonymous:
	default:
		ps.add("presented_number.mode", "must be one of main, associated, site, anonymous")
	}
	if pn.Mode != PresentAssociated && pn.Number != "" {
		ps.add("presented_number.number", "must be empty unless mode is associated")
	}

	a := s.Advanced
	ps.between("advanced.max_simultaneous_calls", a.MaxSimultaneousCalls, 1, MaxSimultaneousCalls)
	switch a.IncomingDisplay {
	case DisplayCaller, DisplayCalledNumber, DisplayContextName:
	default:
		ps.add("advanced.incoming_display", "must be one of caller, called_number, context_name")
	}
}

// target checks a forward's target. An enabled forward needs one; any target given must
// be reachable: voicemail (enabled), another existing user, or a number the site's
// outside-call policy allows.
func (c *sheetCheck) target(path, t string, enabled bool) {
	s, ps := c.s, &c.ps
	switch {
	case t == "":
		ps.need(!enabled, path, reasonRequiredEnabled)
	case t == TargetVoicemail:
		ps.need(!enabled || s.Voicemail.Enabled, path, "voicemail is disabled")
	case strings.HasPrefix(t, TargetUserPrefix):
		c.user(path, t[len(TargetUserPrefix):], "must not forward to the user itself")
	default:
		c.outside(path, t, reasonTarget)
	}
}

// outside checks a number a forward or a simultaneous ring reaches.
func (c *sheetCheck) outside(path, num, invalid string) {
	switch {
	case !validNumber(num):
		c.ps.add(path, invalid)
	case num == c.s.MainNumber:
		c.ps.add(path, "must not be the user's own main number")
	case c.site != nil:
		if ok, why := c.site.OutsideCalls.Allows(num, ClassifyNumber(num, c.site.Region)); !ok {
			c.ps.add(path, why)
		}
	}
}

func (c *sheetCheck) forwards() {
	f, ps := &c.s.Forwards, &c.ps
	c.target("forwards.unconditional.target", f.Unconditional.Target, f.Unconditional.Enabled)
	if ps.atMost("forwards.scheduled", len(f.Scheduled), MaxScheduledRules, "scheduled rules") {
		for i, r := range f.Scheduled {
			c.scheduled(idx("forwards.scheduled", i), &r)
		}
	}
	c.target("forwards.no_answer.target", f.NoAnswer.Target, f.NoAnswer.Enabled)
	ps.between("forwards.no_answer.timeout_s", f.NoAnswer.TimeoutS, MinNoAnswerTimeoutS, MaxNoAnswerTimeoutS)
	c.target("forwards.not_connected.target", f.NotConnected.Target, f.NotConnected.Enabled)
	c.target("forwards.busy.target", f.Busy.Target, f.Busy.Enabled)

	sr := f.SimultaneousRing
	const p = "forwards.simultaneous_ring.targets"
	if sr.Enabled && len(sr.Targets) == 0 {
		ps.add(p, "at least one target when enabled")
	}
	if ps.atMost(p, len(sr.Targets), MaxSimultaneousRing, "targets") {
		seen := map[string]int{}
		for i, t := range sr.Targets {
			tp := idx(p, i)
			if j, dup := seen[t]; dup {
				ps.addf(tp, "duplicate of targets[%d]", j)
				continue
			}
			seen[t] = i
			switch {
			case t == "":
				ps.add(tp, reasonRequired)
			case strings.HasPrefix(t, TargetUserPrefix):
				c.user(tp, t[len(TargetUserPrefix):], "must not ring the user itself")
			default:
				c.outside(tp, t, reasonRingTarget)
			}
		}
	}
}

func (c *sheetCheck) scheduled(p string, r *ScheduledRule) {
	ps := &c.ps
	c.target(p+".target", r.Target, r.Enabled)
	var from, until time.Time
	var err error
	if r.From != "" {
		if from, err = time.Parse(time.DateOnly, r.From); err != nil {
			ps.add(p+".from", "must be a date YYYY-MM-DD")
		}
	}
	if r.Until != "" {
		if until, err = time.Parse(time.DateOnly, r.Until); err != nil {
			ps.add(p+".until", "must be a date YYYY-MM-DD")
		}
	}
	if !from.IsZero() && !until.IsZero() && until.Before(from) {
		ps.add(p+".until", "must not be before from")
	}
	seen := map[string]int{}
	for j, d := range r.Days {
		dp := idx(p+".days", j)
		if !slices.Contains(weekdays, d) {
			ps.add(dp, "must be one of mon, tue, wed, thu, fri, sat, sun")
		} else if k, dup := seen[d]; dup {
			ps.addf(dp, "duplicate of days[%d]", k)
		} else {
			seen[d] = j
		}
	}
	ps.need(hhmmRE.MatchString(r.Start), p+".start", "must be a time HH:MM (00:00 to 23:59)")
	ps.need(hhmmRE.MatchString(r.End), p+".end", "must be a time HH:MM (00:00 to 23:59)")
	if r.Timezone != "" {
		ps.zone(p+".timezone", r.Timezone)
	}
}

func (c *sheetCheck) voicemail() {
	v, ps := &c.s.Voicemail, &c.ps
	c.media("voicemail.greeting", v.Greeting)
	ps.between("voicemail.retention_days", v.RetentionDays, 0, MaxRetentionDays)
	ps.between("voicemail.max_messages", v.MaxMessages, 1, MaxMailboxMessages)
	e := v.Email
	switch {
	case e.Address == "":
		ps.need(!e.Enabled, "voicemail.email.address", "required when email is enabled")
	case !validEmail(e.Address):
		ps.add("voicemail.email.address", "not a valid email address")
	}
	ps.need(!e.DeleteAfterEmail || e.Enabled, "voicemail.email.delete_after_email", "requires email to be enabled")
	const p = "voicemail.remote_access.allowed_numbers"
	if ps.atMost(p, len(v.RemoteAccess.AllowedNumbers), MaxRemoteNumbers, "numbers") {
		seen := map[string]int{}
		for i, n := range v.RemoteAccess.AllowedNumbers {
			np := idx(p, i)
			if !c.number(np, n) {
				continue
			}
			if j, dup := seen[n]; dup {
				ps.addf(np, "duplicate of allowed_numbers[%d]", j)
			}
			seen[n] = i
		}
	}
}

// validEmail accepts a bare address (alice@example.com), not a display name form.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// Validate checks a normalized site and returns a *ValidationError listing every
// problem, or nil.
func (s *Site) Validate() error {
	var ps problems
	ps.id("id", s.ID)
	if s.Version < 0 {
		ps.add("version", "must not be negative")
	}
	if s.Name == "" {
		ps.add("name", reasonRequired)
	} else {
		ps.text("name", s.Name, maxNameLen)
	}
	if !phonenumbers.GetSupportedRegions()[s.Region] {
		ps.addf("region", "unknown region %q: an ISO 3166 code like FR", s.Region)
	}
	ps.zone("timezone", s.Timezone)
	if s.Number != "" && !validNumber(s.Number) {
		ps.add("number", reasonNumber)
	}
	for i, pre := range s.OutsideCalls.Allow {
		ps.need(prefixRE.MatchString(pre), idx("outside_calls.allow", i), "must be + followed by 1 to 15 digits")
	}
	for i, pre := range s.OutsideCalls.Block {
		ps.need(prefixRE.MatchString(pre), idx("outside_calls.block", i), "must be + followed by 1 to 15 digits")
	}
	ps.between("max_forward_hops", s.MaxForwardHops, MinForwardHops, MaxForwardHopsLimit)
	return ps.err()
}
