package dialplan

import (
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// scheduled is DESIGN §2.3's second half: the first enabled scheduled rule active now, in
// its zone (the rule's, else the user's), whose target may still be used, forwards the
// call. A rule whose target may not is skipped as if unset, and the next one is tried.
func scheduled(b *builder) bool {
	rules := b.s.Forwards.Scheduled
	// Most rules share the user's zone: read the wall clock once per zone.
	var w wall
	var wloc *time.Location
	for i := range rules {
		r := &rules[i]
		if !r.Enabled {
			continue
		}
		if loc := b.c.RuleLocation(i); loc != wloc || wloc == nil {
			w, wloc = wallClock(b.in.Now.In(loc)), loc
		}
		active, ok := w.covered(r)
		if !ok {
			b.skip(RuleScheduled, r.Target, whyBadSchedule)
			continue
		}
		if !active || !b.usable(RuleScheduled, r.Target) {
			continue
		}
		b.forward(RuleScheduled, r.Target, ReasonScheduled, GreetingUnavailable, ActUnavailable)
		return true
	}
	return false
}

// Active reports whether scheduled rule r covers the wall-clock time t (t already in the
// rule's zone), ignoring r.Enabled; ok is false when the rule cannot be read (a bad time,
// date or day name: validation refuses those, the engine never matches them).
//
// The semantics (DESIGN §2.3): start ≤ time < end on a day that is one of r.Days (all
// days when empty) and within the inclusive From/Until dates. A range whose end is before
// its start crosses midnight and belongs to the day it starts, for the days and the dates
// alike: Friday 18:00–08:00 covers Saturday 07:30, and a range starting on Until covers
// the next morning. start = end means the whole day. Times are wall-clock times: on DST
// days a range lasts what the clock says, and a start the clock skips begins when the
// clock passes it. "24:00" is accepted as an end (midnight at the end of the day).
func Active(r *config.ScheduledRule, t time.Time) (active, ok bool) {
	w := wallClock(t)
	return w.covered(r)
}

// wall is a wall-clock time broken down once for all the rules read in its zone.
type wall struct {
	y    int
	m    time.Month
	d    int
	wd   time.Weekday
	mins int // minutes after midnight
}

func wallClock(t time.Time) wall {
	y, m, d := t.Date()
	hh, mm, _ := t.Clock()
	return wall{y: y, m: m, d: d, wd: t.Weekday(), mins: hh*60 + mm}
}

func (w *wall) covered(r *config.ScheduledRule) (active, ok bool) {
	start, ok1 := parseClock(r.Start, false)
	end, ok2 := parseClock(r.End, true)
	from, ok3 := parseDate(r.From, 0)
	until, ok4 := parseDate(r.Until, 99999999)
	days, ok5 := parseDays(r.Days)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return false, false
	}
	on := func(key int, wd time.Weekday) bool {
		return days&(1<<wd) != 0 && key >= from && key <= until
	}
	today := dateKey(w.y, w.m, w.d)
	switch {
	case start == end:
		return on(today, w.wd), true
	case start < end:
		return start <= w.mins && w.mins < end && on(today, w.wd), true
	case w.mins >= start:
		return on(today, w.wd), true
	case w.mins < end:
		// The early-morning part of a range that started the day before.
		py, pm, pd := w.y, w.m, w.d-1
		if pd == 0 {
			if pm--; pm == 0 {
				pm, py = time.December, py-1
			}
			pd = daysIn(py, pm)
		}
		return on(dateKey(py, pm, pd), (w.wd+6)%7), true
	}
	return false, true
}

// parseClock reads "HH:MM" as minutes after midnight; "24:00" only when end is true.
func parseClock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, false
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case m > 59:
		return 0, false
	case h < 24:
		return h*60 + m, true
	case h == 24 && m == 0 && end:
		return 24 * 60, true
	}
	return 0, false
}

// parseDate reads "YYYY-MM-DD" as the comparable key YYYYMMDD; "" gives def.
func parseDate(s string, def int) (int, bool) {
	if s == "" {
		return def, true
	}
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return 0, false
	}
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	m := int(s[5]-'0')*10 + int(s[6]-'0')
	d := int(s[8]-'0')*10 + int(s[9]-'0')
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, time.Month(m)) {
		return 0, false
	}
	return dateKey(y, time.Month(m), d), true
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func dateKey(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDays reads the sheet's weekday names as a bit set indexed by time.Weekday; none
// means every day.
func parseDays(days []string) (uint8, bool) {
	if len(days) == 0 {
		return 0x7f, true
	}
	var set uint8
	for _, d := range days {
		var wd time.Weekday
		switch d {
		case "sun":
			wd = time.Sunday
		case "mon":
			wd = time.Monday
		case "tue":
			wd = time.Tuesday
		case "wed":
			wd = time.Wednesday
		case "thu":
			wd = time.Thursday
		case "fri":
			wd = time.Friday
		case "sat":
			wd = time.Saturday
		default:
			return 0, false
		}
		set |= 1 << wd
	}
	return set, true
}
