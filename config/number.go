package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// extensionRE matches an internal extension: 2 to 6 digits, not starting with 0
// (0 is the usual outside-line and national prefix).
var extensionRE = regexp.MustCompile(`^[1-9][0-9]{1,5}$`)

// IsExtension reports whether s is an internal extension rather than a phone number.
func IsExtension(s string) bool { return extensionRE.MatchString(s) }

// ErrInvalidNumber is wrapped by NormalizeNumber when its input is no phone number.
var ErrInvalidNumber = errors.New("not a valid phone number")

// NormalizeNumber returns raw as E.164 ("+33478000001"), parsed in region when it is
// written nationally ("04 78 00 00 01"), or as is when it is an internal extension.
//
// Results are remembered (memo): the call path normalizes each dialed number, often the
// same ones, and phonenumbers costs tens of microseconds and a hundred allocations.
func NormalizeNumber(raw, region string) (string, error) {
	if IsExtension(raw) {
		return raw, nil
	}
	r := normalMemo.get(region+" "+raw, func() normalized {
		n, err := normalizeNumberUncached(raw, region)
		return normalized{n, err}
	})
	return r.num, r.err
}

type normalized struct {
	num string
	err error
}

func normalizeNumberUncached(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if IsExtension(s) {
		return s, nil
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidNumber)
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrInvalidNumber, raw)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: %q", ErrInvalidNumber, raw)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// NumberClass is what kind of destination a number is, as far as the outside-call
// policy cares. It is computed once per sheet change (Compile), never per call.
type NumberClass uint8

// Number classes.
const (
	ClassUnknown       NumberClass = iota // not parseable: never reachable outside
	ClassInternal                         // an internal extension
	ClassNational                         // fixed, mobile, toll-free… in the site's region
	ClassPremium                          // premium rate or shared cost, any region
	ClassInternational                    // outside the site's region
)

var classNames = [...]string{"unknown", "internal", "national", "premium", "international"}

func (c NumberClass) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// ClassifyNumber classifies a normalized number (E.164 or extension) for a site whose
// numbers are in region. Results are remembered, as NormalizeNumber's.
func ClassifyNumber(num, region string) NumberClass {
	if IsExtension(num) {
		return ClassInternal
	}
	return classMemo.get(region+" "+num, func() NumberClass { return classifyNumberUncached(num, region) })
}

func classifyNumberUncached(num, region string) NumberClass {
	n, err := phonenumbers.Parse(num, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return ClassUnknown
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return ClassPremium
	}
	if !strings.EqualFold(phonenumbers.GetRegionCodeForNumber(n), region) {
		return ClassInternational
	}
	return ClassNational
}

// Allows reports whether the policy lets a forward or an outbound call reach num, of
// class c; when it does not, reason says why in words an admin reads in a trace.
func (p *OutsidePolicy) Allows(num string, c NumberClass) (ok bool, reason string) {
	if c == ClassInternal {
		return true, ""
	}
	allow, block := longestPrefix(p.Allow, num), longestPrefix(p.Block, num)
	switch {
	case block > 0 && block >= allow:
		return false, "destination blocked by the site's outside-call policy"
	case allow > 0:
		return true, ""
	}
	switch c {
	case ClassUnknown:
		return false, "not a valid phone number"
	case ClassPremium:
		if !p.Premium {
			return false, "premium-rate destinations are not allowed by the site's outside-call policy"
		}
	case ClassInternational:
		if !p.International {
			return false, "international destinations are not allowed by the site's outside-call policy"
		}
	}
	return true, ""
}

// longestPrefix returns the length of the longest prefix in list that num starts with.
func longestPrefix(list []string, num string) int {
	best := 0
	for _, p := range list {
		if len(p) > best && strings.HasPrefix(num, p) {
			best = len(p)
		}
	}
	return best
}
