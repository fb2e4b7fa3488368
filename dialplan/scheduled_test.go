package dialplan

import (
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

func TestActive(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	at := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, paris)
	}
	evenings := config.ScheduledRule{From: "2026-12-01", Until: "2026-12-31", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "18:00", End: "08:00"}
	weekend := config.ScheduledRule{Days: []string{"sat", "sun"}, Start: "00:00", End: "00:00"}
	mornings := config.ScheduledRule{Until: "2026-12-31", Start: "09:00", End: "12:00"}
	toMidnight := config.ScheduledRule{Start: "18:00", End: "24:00"}
	fridayNights := config.ScheduledRule{Days: []string{"fri"}, Start: "22:00", End: "06:00"}
	tests := []struct {
		name string
		rule config.ScheduledRule
		t    time.Time
		want bool
	}{
		{"evening starts at 18:00 sharp", evenings, at(2026, 12, 4, 18, 0, 0), true},
		{"one second before the start", evenings, at(2026, 12, 4, 17, 59, 59), false},
		{"friday's range covers saturday 07:30", evenings, at(2026, 12, 5, 7, 30, 0), true},
		{"one second before the end", evenings, at(2026, 12, 5, 7, 59, 59), true},
		{"the end is exclusive", evenings, at(2026, 12, 5, 8, 0, 0), false},
		{"saturday evening is not listed", evenings, at(2026, 12, 5, 18, 30, 0), false},
		{"saturday's range does not exist on sunday morning", evenings, at(2026, 12, 6, 7, 30, 0), false},
		{"sunday's range does not exist on monday morning", evenings, at(2026, 12, 7, 7, 30, 0), false},
		{"monday evening", evenings, at(2026, 12, 7, 19, 0, 0), true},
		{"midnight belongs to the evening before", evenings, at(2026, 12, 8, 0, 0, 0), true},
		{"monday midday", evenings, at(2026, 12, 7, 12, 0, 0), false},
		{"the day before from", evenings, at(2026, 11, 30, 19, 0, 0), false},
		{"the morning of from belongs to the day before", evenings, at(2026, 12, 1, 0, 30, 0), false},
		{"the evening of from", evenings, at(2026, 12, 1, 18, 0, 0), true},
		{"the last day of the range", evenings, at(2026, 12, 31, 23, 0, 0), true},
		{"a range starting on until covers the next morning", evenings, at(2027, 1, 1, 7, 59, 0), true},
		{"the evening after until", evenings, at(2027, 1, 1, 18, 0, 0), false},
		{"all day saturday from midnight", weekend, at(2026, 12, 5, 0, 0, 0), true},
		{"all day sunday until 23:59", weekend, at(2026, 12, 6, 23, 59, 59), true},
		{"all day does not spill into monday", weekend, at(2026, 12, 7, 0, 0, 0), false},
		{"all day not on friday", weekend, at(2026, 12, 4, 23, 59, 59), false},
		{"morning range start", mornings, at(2026, 12, 31, 9, 0, 0), true},
		{"morning range on the last day", mornings, at(2026, 12, 31, 11, 59, 59), true},
		{"morning range end", mornings, at(2026, 12, 31, 12, 0, 0), false},
		{"morning range after until", mornings, at(2027, 1, 1, 10, 0, 0), false},
		{"24:00 end covers 23:59", toMidnight, at(2026, 12, 31, 23, 59, 59), true},
		{"24:00 end stops at midnight", toMidnight, at(2027, 1, 1, 0, 0, 0), false},
		{"friday night spills into saturday", fridayNights, at(2026, 12, 5, 5, 0, 0), true},
		{"friday night does not start on thursday", fridayNights, at(2026, 12, 4, 5, 0, 0), false},
		// DST (Europe/Paris): 2026-03-29 02:00 → 03:00, 2026-10-25 03:00 → 02:00.
		{"spring: the overnight range still ends at 06:00 by the clock", fridayNights, at(2026, 3, 28, 5, 59, 0), true},
		{"spring: a range across the skipped hour, after it", config.ScheduledRule{Start: "01:00", End: "04:00"}, at(2026, 3, 29, 3, 0, 0), true},
		{"spring: a range inside the skipped hour never happens", config.ScheduledRule{Start: "02:00", End: "02:30"}, at(2026, 3, 29, 3, 0, 0), false},
		{"spring: a start the clock skips begins when the clock passes it", config.ScheduledRule{Start: "02:30", End: "05:00"}, at(2026, 3, 29, 3, 0, 0), true},
		{"autumn: the repeated hour, first time", config.ScheduledRule{Start: "02:00", End: "03:00"}, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), true},
		{"autumn: the repeated hour, second time", config.ScheduledRule{Start: "02:00", End: "03:00"}, time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC).In(paris), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Active(&tt.rule, tt.t.In(paris))
			if !ok {
				t.Fatalf("Active(%+v) says the rule cannot be read", tt.rule)
			}
			if got != tt.want {
				t.Errorf("Active(%s–%s %v %s..%s, %s) = %v, want %v", tt.rule.Start, tt.rule.End, tt.rule.Days, tt.rule.From, tt.rule.Until, tt.t.Format(time.RFC3339), got, tt.want)
			}
		})
	}
}

// TestActiveLastsWhatTheClockSays counts, minute by real minute, how long a range is
// active across the two DST nights of 2026 in Paris.
func TestActiveLastsWhatTheClockSays(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	tests := []struct {
		name  string
		rule  config.ScheduledRule
		night time.Time // 12:00 the day the range starts; counted until 12:00 the next day
		want  time.Duration
	}{
		{"spring night 22:00–06:00", config.ScheduledRule{Start: "22:00", End: "06:00"}, time.Date(2026, 3, 28, 12, 0, 0, 0, paris), 7 * time.Hour},
		{"autumn night 22:00–06:00", config.ScheduledRule{Start: "22:00", End: "06:00"}, time.Date(2026, 10, 24, 12, 0, 0, 0, paris), 9 * time.Hour},
		{"ordinary night 22:00–06:00", config.ScheduledRule{Start: "22:00", End: "06:00"}, time.Date(2026, 12, 5, 12, 0, 0, 0, paris), 8 * time.Hour},
		{"spring all day sunday", config.ScheduledRule{Days: []string{"sun"}, Start: "08:00", End: "08:00"}, time.Date(2026, 3, 28, 12, 0, 0, 0, paris), 23 * time.Hour},
		{"autumn all day sunday", config.ScheduledRule{Days: []string{"sun"}, Start: "08:00", End: "08:00"}, time.Date(2026, 10, 24, 12, 0, 0, 0, paris), 25 * time.Hour},
		{"autumn 02:00–03:00 happens twice", config.ScheduledRule{Start: "02:00", End: "03:00"}, time.Date(2026, 10, 24, 12, 0, 0, 0, paris), 2 * time.Hour},
		{"spring 02:00–03:00 never happens", config.ScheduledRule{Start: "02:00", End: "03:00"}, time.Date(2026, 3, 28, 12, 0, 0, 0, paris), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got time.Duration
			days := 1
			if len(tt.rule.Days) > 0 {
				days = 2 // saturday noon to monday noon
			}
			for m := tt.night; m.Before(tt.night.AddDate(0, 0, days)); m = m.Add(time.Minute) {
				if a, _ := Active(&tt.rule, m.In(paris)); a {
					got += time.Minute
				}
			}
			if got != tt.want {
				t.Errorf("active for %v, want %v", got, tt.want)
			}
		})
	}
}

func TestActiveUnreadable(t *testing.T) {
	for _, r := range []config.ScheduledRule{
		{Start: "8:00", End: "09:00"},
		{Start: "24:00", End: "09:00"},
		{Start: "08:60", End: "09:00"},
		{Start: "08:00", End: "24:01"},
		{Start: "08:00", End: "09:00", Days: []string{"Mon"}},
		{Start: "08:00", End: "09:00", From: "2026-02-30"},
		{Start: "08:00", End: "09:00", Until: "2026-13-01"},
		{Start: "08:00", End: "09:00", Until: "26-12-01"},
		{Start: "aa:bb", End: "09:00"},
	} {
		if _, ok := Active(&r, time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC)); ok {
			t.Errorf("Active(%+v) read a bad rule", r)
		}
	}
}

func TestScheduledZones(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	nyRule := func(s *config.Sheet) {
		s.Forwards.Scheduled = []config.ScheduledRule{{Enabled: true, Target: "user:bob", Start: "09:00", End: "17:00", Timezone: "America/New_York"}}
	}
	tests := []struct {
		name string
		edit func(*config.Sheet)
		now  time.Time
		want string
	}{
		{"the rule's own zone: 15:00 in Paris is 09:00 in New York", nyRule, time.Date(2026, 12, 7, 15, 0, 0, 0, paris), "scheduled: forward user:bob"},
		{"the rule's own zone: 14:59 in Paris is before", nyRule, time.Date(2026, 12, 7, 14, 59, 0, 0, paris), "ring: ring user:alice"},
		{"the user's zone, whatever Now's zone", evenings("user:bob"), time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC), "scheduled: forward user:bob"},
		{"a bad rule is skipped", func(s *config.Sheet) {
			s.Forwards.Scheduled = []config.ScheduledRule{{Enabled: true, Target: "user:bob", Start: "9", End: "17:00"}}
		}, time.Date(2026, 12, 7, 10, 0, 0, 0, paris), "ring: ring user:alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(input(t, tt.edit, tt.now))
			if got := p.String(); got != tt.want {
				t.Errorf("Decide() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDaysIn(t *testing.T) {
	for y := 1999; y <= 2101; y++ {
		for m := time.January; m <= time.December; m++ {
			if got, want := daysIn(y, m), time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%d, %v) = %d, want %d", y, m, got, want)
			}
		}
	}
}
