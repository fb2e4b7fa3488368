package dialplan

import (
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// typicalInput: the design's example sheet at a time its scheduled rule is not active:
// one scheduled rule, simultaneous ring on a mobile, no-answer to voicemail, busy to a
// colleague; the call rings.
func typicalInput(b testing.TB) *Input {
	paris := mustZone(b, "Europe/Paris")
	return input(b, all(evenings("voicemail"), noAnswerFwd("voicemail"), busyFwd("user:bob"),
		notConnFwd(aliceMobile), simRing(true, aliceMobile)), time.Date(2026, 12, 7, 10, 0, 0, 0, paris))
}

// heavyInput: 10 scheduled rules (none active, so all are read), 5 simultaneous targets,
// every forward on, a forwarded call with redirect info.
func heavyInput(b testing.TB) *Input {
	paris := mustZone(b, "Europe/Paris")
	in := input(b, func(s *config.Sheet) {
		for i := range 10 {
			s.Forwards.Scheduled = append(s.Forwards.Scheduled, config.ScheduledRule{
				Enabled: true, Target: "user:bob", From: "2026-12-01", Until: "2026-12-31",
				Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "18:00", End: "08:00"})
			if i%2 == 1 {
				s.Forwards.Scheduled[i].Timezone = "America/New_York"
				s.Forwards.Scheduled[i].Days = []string{"sat"}
			}
		}
		simRing(true, aliceMobile, "+33612345679", "+33612345680", "user:bob", "+33612345681")(s)
		noAnswerFwd("+33612345682")(s)
		busyFwd("user:carol")(s)
		notConnFwd("+33612345683")(s)
		s.Advanced.RedirectInfo = true
		s.Advanced.IncomingDisplay = config.DisplayContextName
	}, time.Date(2026, 12, 7, 10, 0, 0, 0, paris))
	in.Call.To = aliceDirect
	in.Call.History = []Diversion{{User: "bob", Number: "+33478000002", Name: "Bob", Reason: ReasonNoAnswer}}
	return in
}

func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   func(testing.TB) *Input
	}{{"typical", typicalInput}, {"heavy", heavyInput}} {
		in := bc.in(b)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decide(in)
			}
		})
		b.Run(bc.name+"/into", func(b *testing.B) {
			b.ReportAllocs()
			var p Plan
			for b.Loop() {
				DecideInto(in, &p)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					Decide(in)
				}
			})
		})
	}
}

func BenchmarkDecideOutbound(b *testing.B) {
	c := compile(b, aliceSheet(), lyon())
	for _, dialed := range []string{"12", "1002", "*3220612345678"} {
		b.Run(dialed, func(b *testing.B) {
			in := &OutboundInput{User: c, Dialed: dialed}
			b.ReportAllocs()
			for b.Loop() {
				DecideOutbound(in)
			}
		})
	}
}
