package config

import (
	"fmt"
	"strings"
	"time"
)

// Compiled is a sheet made ready for the call path, once per change (never per call):
// its time zone loaded, and every number it may ring or forward to classified, so that
// the engine checks the outside-call policy without parsing a number.
type Compiled struct {
	Sheet *Sheet
	Site  *Site
	Loc   *time.Location // the user's zone (sheet's, else site's)
	// ruleLocs holds, per scheduled rule, its own zone (nil: Loc).
	ruleLocs []*time.Location
	classes  map[string]NumberClass
}

// Compile prepares s, a valid sheet of site, for the call path.
func Compile(s *Sheet, site *Site) (*Compiled, error) {
	c := &Compiled{Sheet: s, Site: site, classes: map[string]NumberClass{}}
	zone := s.Timezone
	if zone == "" {
		zone = site.Timezone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("compile sheet %q: timezone %q: %w", s.ID, zone, err)
	}
	c.Loc = loc
	c.ruleLocs = make([]*time.Location, len(s.Forwards.Scheduled))
	for i, r := range s.Forwards.Scheduled {
		if r.Timezone != "" {
			if c.ruleLocs[i], err = time.LoadLocation(r.Timezone); err != nil {
				return nil, fmt.Errorf("compile sheet %q: forwards.scheduled[%d].timezone %q: %w", s.ID, i, r.Timezone, err)
			}
		}
		c.classify(r.Target)
	}
	f := &s.Forwards
	for _, t := range []string{f.Unconditional.Target, f.NoAnswer.Target, f.NotConnected.Target, f.Busy.Target} {
		c.classify(t)
	}
	for _, t := range f.SimultaneousRing.Targets {
		c.classify(t)
	}
	for _, sn := range s.ShortNumbers {
		c.classify(sn.Number)
	}
	return c, nil
}

func (c *Compiled) classify(target string) {
	if target == "" || target == TargetVoicemail || strings.HasPrefix(target, TargetUserPrefix) {
		return
	}
	if _, ok := c.classes[target]; !ok {
		c.classes[target] = ClassifyNumber(target, c.Site.Region)
	}
}

// RuleLocation returns the zone scheduled rule i is read in.
func (c *Compiled) RuleLocation(i int) *time.Location {
	if i < len(c.ruleLocs) && c.ruleLocs[i] != nil {
		return c.ruleLocs[i]
	}
	return c.Loc
}

// Class returns the class of a number the sheet names (ClassUnknown for any other; a
// number dialed on an outbound call is classified by the caller with ClassifyNumber).
func (c *Compiled) Class(num string) NumberClass {
	if cl, ok := c.classes[num]; ok {
		return cl
	}
	if IsExtension(num) {
		return ClassInternal
	}
	return ClassUnknown
}

// UserTarget returns the user id of a "user:<id>" target.
func UserTarget(target string) (id string, ok bool) {
	if !strings.HasPrefix(target, TargetUserPrefix) {
		return "", false
	}
	return target[len(TargetUserPrefix):], true
}
