package scenario

import (
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/dialplan"
)

// Shorthands of the table.

func in(from dialplan.Party, to string) Call { return Call{Direction: Inbound, From: from, To: to} }
func out(user, dialed string) Call           { return Call{Direction: Outbound, User: user, Dialed: dialed} }

func answers(afterS int) callflow.Script {
	return callflow.Script{Behavior: callflow.Answer, AfterS: afterS}
}

var (
	busy        = callflow.Script{Behavior: callflow.Busy}
	offline     = callflow.Script{Behavior: callflow.Offline}
	congestion  = callflow.Script{Behavior: callflow.Congestion}
	rejects     = callflow.Script{Behavior: callflow.Reject}
	neverAnswer = callflow.Script{Behavior: callflow.NoAnswer}
)

func voicemailAnswer(afterS int) callflow.Script {
	return callflow.Script{Behavior: callflow.AnswerNoConfirm, AfterS: afterS}
}

// desk is a leg to uid's device, showing the caller's number and name.
func desk(uid string, from dialplan.Party) Leg {
	return Leg{Target: config.TargetUserPrefix + uid, Number: from.Number, Name: from.Name}
}

func dial(timeoutS int, legs ...Leg) Dial { return Dial{TimeoutS: timeoutS, Legs: legs} }

func answered(by string) callflow.Outcome {
	return callflow.Outcome{Kind: callflow.OutcomeAnswered, By: by}
}
func voicemail(of string) callflow.Outcome {
	return callflow.Outcome{Kind: callflow.OutcomeVoicemail, By: of}
}
func ended(kind callflow.OutcomeKind, by, reason string) callflow.Outcome {
	return callflow.Outcome{Kind: kind, By: by, Reason: reason}
}

func edit(uid string, f func(s *config.Sheet)) func(map[string]*config.Sheet) {
	return func(u map[string]*config.Sheet) { f(u[uid]) }
}

func edits(fs ...func(map[string]*config.Sheet)) func(map[string]*config.Sheet) {
	return func(u map[string]*config.Sheet) {
		for _, f := range fs {
			f(u)
		}
	}
}

func noAnswerTo(uid, target string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) { s.Forwards.NoAnswer.Enabled, s.Forwards.NoAnswer.Target = true, target })
}
func busyTo(uid, target string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) { s.Forwards.Busy = config.Forward{Enabled: true, Target: target} })
}
func notConnectedTo(uid, target string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) { s.Forwards.NotConnected = config.Forward{Enabled: true, Target: target} })
}
func unconditionalTo(uid, target string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) { s.Forwards.Unconditional = config.Forward{Enabled: true, Target: target} })
}
func simultaneous(uid string, confirm bool, targets ...string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) {
		s.Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: targets, Confirm: confirm}
	})
}
func eveningsTo(uid, target string) func(map[string]*config.Sheet) {
	return edit(uid, func(s *config.Sheet) {
		s.Forwards.Scheduled = []config.ScheduledRule{{Enabled: true, Target: target, From: "2026-12-01", Until: "2026-12-31",
			Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "18:00", End: "08:00"}}
	})
}

var (
	aliceNoVoicemail = edit("alice", func(s *config.Sheet) { s.Voicemail.Enabled = false })
	aliceDND         = edit("alice", func(s *config.Sheet) { s.DND = true })
	aliceNoDevice    = edit("alice", func(s *config.Sheet) { s.Device = nil })
)

// Outside legs the table expects, in the world's terms.
const (
	someMobile = "+33611223344" // an outside mobile no user has
	standard   = "+33478000099" // alice's short number 12
)

var aliceCaller = dialplan.Party{Number: AliceMain, Name: "Alice Martin"}

// Rows returns the table: every path of DESIGN §2, and outbound calls.
func Rows() []Row {
	deskA, deskB, deskC := desk("alice", Eve), desk("bob", Eve), desk("carol", Eve)
	mobileLeg := func(from dialplan.Party, redirect string) Leg {
		return Leg{Target: AliceMobile, Number: from.Number, Name: from.Name, Redirect: redirect}
	}
	return []Row{
		// §2.6: the desk rings, and answers.
		{Name: "desk answers", Call: in(Eve, AliceMain),
			Endpoints: map[string]callflow.Script{"user:alice": answers(3)},
			Want:      Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},

		// §2.7: no answer → no-answer forward, else voicemail, else missed.
		{Name: "no answer reaches voicemail", Call: in(Eve, AliceMain),
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon", "voicemail:alice/no_answer"},
				Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "no answer without voicemail is missed", Call: in(Eve, AliceMain), Edit: aliceNoVoicemail,
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"},
				Hangup: "no_answer", Outcome: ended(callflow.OutcomeMissed, "alice", "no_answer")}},
		{Name: "no answer on a PBX without voicemail is missed", Call: in(Eve, AliceMain), NoVoicemail: true,
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"},
				Hangup: "no_answer", Outcome: ended(callflow.OutcomeMissed, "alice", "no_answer")}},
		{Name: "no answer forwards to bob, who answers", Call: in(Eve, AliceMain), Edit: noAnswerTo("alice", "user:bob"),
			Endpoints: map[string]callflow.Script{"user:bob": answers(2)},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(20, deskB)}, Heard: []string{"ringback:ring-lyon", "ringback:"},
				Outcome: answered("user:bob")}},
		{Name: "no answer forwards to the mobile", Call: in(Eve, AliceMain), Edit: noAnswerTo("alice", AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: answers(5)},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(120, mobileLeg(Eve, AliceMain+";no-answer;1"))},
				Heard: []string{"ringback:ring-lyon", "ringback:ring-lyon"}, Outcome: answered(AliceMobile)}},
		{Name: "the mobile a call is forwarded to is busy", Call: in(Eve, AliceMain), Edit: noAnswerTo("alice", AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: busy},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(120, mobileLeg(Eve, AliceMain+";no-answer;1"))},
				Heard: []string{"ringback:ring-lyon", "ringback:ring-lyon", "busy:busy-fr"}, Hangup: "busy",
				Outcome: ended(callflow.OutcomeBusy, "alice", "no_answer")}},

		// §2.7 → §2.5: the desk answers busy, or declines.
		{Name: "busy desk takes the busy forward", Call: in(Eve, AliceMain), Edit: busyTo("alice", "user:bob"),
			Endpoints: map[string]callflow.Script{"user:alice": busy, "user:bob": answers(1)},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(20, deskB)}, Heard: []string{"ringback:ring-lyon", "ringback:"},
				Outcome: answered("user:bob")}},
		{Name: "busy desk reaches voicemail with the busy greeting", Call: in(Eve, AliceMain),
			Endpoints: map[string]callflow.Script{"user:alice": busy},
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon", "voicemail:alice/busy"},
				Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "busy desk without voicemail plays the busy sound", Call: in(Eve, AliceMain), Edit: aliceNoVoicemail,
			Endpoints: map[string]callflow.Script{"user:alice": busy},
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon", "busy:busy-fr"},
				Hangup: "busy", Outcome: ended(callflow.OutcomeBusy, "alice", "busy")}},
		{Name: "declined call takes the busy path", Call: in(Eve, AliceMain), Edit: aliceNoVoicemail,
			Endpoints: map[string]callflow.Script{"user:alice": rejects},
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon", "busy:busy-fr"},
				Hangup: "busy", Outcome: ended(callflow.OutcomeBusy, "alice", "busy")}},

		// §2.7 → §2.4: the desk turns out unreachable.
		{Name: "unreachable desk takes the not-connected forward", Call: in(Eve, AliceMain), Edit: notConnectedTo("alice", AliceMobile),
			Endpoints: map[string]callflow.Script{"user:alice": congestion, AliceMobile: answers(4)},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(120, mobileLeg(Eve, AliceMain+";unavailable;1"))},
				Heard: []string{"ringback:ring-lyon", "ringback:ring-lyon"}, Outcome: answered(AliceMobile)}},

		// §2.4: not connected.
		{Name: "unregistered desk reaches voicemail", Call: in(Eve, AliceMain),
			Endpoints: map[string]callflow.Script{"user:alice": offline},
			Want:      Want{Heard: []string{"voicemail:alice/unavailable"}, Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "unregistered desk without voicemail hears the announcement", Call: in(Eve, AliceMain), Edit: aliceNoVoicemail,
			Endpoints: map[string]callflow.Script{"user:alice": offline},
			Want: Want{Heard: []string{"unavailable:"}, Hangup: "unreachable",
				Outcome: ended(callflow.OutcomeUnavailable, "alice", "not_connected")}},
		{Name: "no device forwards to bob", Call: in(Eve, AliceMain), Edit: edits(aliceNoDevice, notConnectedTo("alice", "user:bob")),
			Endpoints: map[string]callflow.Script{"user:bob": answers(2)},
			Want:      Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},

		// §2.2: do not disturb takes the busy path.
		{Name: "dnd takes the busy forward", Call: in(Eve, AliceMain), Edit: edits(aliceDND, busyTo("alice", "user:bob")),
			Want: Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:", "voicemail:bob/no_answer"},
				Hangup: "normal", Outcome: voicemail("bob")}},
		{Name: "dnd reaches voicemail with the busy greeting", Call: in(Eve, AliceMain), Edit: aliceDND,
			Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want:      Want{Heard: []string{"voicemail:alice/busy"}, Hangup: "normal", Outcome: voicemail("alice")}},

		// §2.3: unconditional, then scheduled.
		{Name: "unconditional forward to bob", Call: in(Eve, AliceMain), Edit: unconditionalTo("alice", "user:bob"),
			Endpoints: map[string]callflow.Script{"user:alice": answers(1), "user:bob": answers(1)},
			Want:      Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},
		{Name: "unconditional forward to the mobile", Call: in(Eve, AliceMain), Edit: unconditionalTo("alice", AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: answers(6)},
			Want: Want{Dials: []Dial{dial(120, mobileLeg(Eve, AliceMain+";unconditional;1"))}, Heard: []string{"ringback:ring-lyon"},
				Outcome: answered(AliceMobile)}},
		{Name: "a call on the direct line is forwarded from the direct line", Call: in(Eve, AliceDirect), Edit: unconditionalTo("alice", AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: answers(6)},
			Want: Want{Dials: []Dial{dial(120, mobileLeg(Eve, AliceDirect+";unconditional;1"))}, Heard: []string{"ringback:ring-lyon"},
				Outcome: answered(AliceMobile)}},
		{Name: "an anonymous caller forwarded outside presents alice's number", Call: in(dialplan.Party{}, AliceMain),
			Edit: unconditionalTo("alice", AliceMobile), Endpoints: map[string]callflow.Script{AliceMobile: answers(1)},
			Want: Want{Dials: []Dial{dial(120, mobileLeg(dialplan.Party{Number: AliceMain}, AliceMain+";unconditional;1"))},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered(AliceMobile)}},
		{Name: "unconditional forward the site no longer allows rings the desk", Call: in(Eve, AliceMain),
			Edit: unconditionalTo("alice", UKNumber), EditSite: func(s *config.Site) { s.OutsideCalls.International = false },
			Endpoints: map[string]callflow.Script{"user:alice": answers(2), UKNumber: answers(1)},
			Want:      Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},
		{Name: "scheduled evening rule sends calls to voicemail", Call: in(Eve, AliceMain), Edit: eveningsTo("alice", "voicemail"),
			At: time.Date(2026, 12, 7, 19, 30, 0, 0, Paris), Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want: Want{Heard: []string{"voicemail:alice/unavailable"}, Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "friday's overnight rule covers saturday 07:30", Call: in(Eve, AliceMain), Edit: eveningsTo("alice", "user:bob"),
			At: time.Date(2026, 12, 12, 7, 30, 0, 0, Paris), Endpoints: map[string]callflow.Script{"user:bob": answers(1)},
			Want: Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},
		{Name: "saturday's overnight rule does not exist on sunday morning", Call: in(Eve, AliceMain), Edit: eveningsTo("alice", "user:bob"),
			At: time.Date(2026, 12, 13, 7, 30, 0, 0, Paris), Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},

		// §2.5: busy.
		{Name: "busy at max calls reaches voicemail", Call: in(Eve, AliceMain), Active: map[string]int{"alice": 2},
			Want: Want{Heard: []string{"voicemail:alice/busy"}, Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "call waiting off with one call takes the busy forward", Call: in(Eve, AliceMain), Active: map[string]int{"alice": 1},
			Edit:      edits(edit("alice", func(s *config.Sheet) { s.Advanced.CallWaiting = false }), busyTo("alice", "user:bob")),
			Endpoints: map[string]callflow.Script{"user:bob": answers(1)},
			Want:      Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},
		{Name: "one call with call waiting rings", Call: in(Eve, AliceMain), Active: map[string]int{"alice": 1},
			Endpoints: map[string]callflow.Script{"user:alice": answers(4)},
			Want:      Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},

		// §2.6: simultaneous ring, first answer wins.
		{Name: "simultaneous ring: the mobile answers first", Call: in(Eve, AliceMain), Edit: simultaneous("alice", true, AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: answers(5), "user:alice": answers(9)},
			Want: Want{Dials: []Dial{dial(20, deskA, withConfirm(mobileLeg(Eve, AliceMain+";follow-me;1")))},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered(AliceMobile)}},
		{Name: "simultaneous ring: the mobile's voicemail cannot take the call", Call: in(Eve, AliceMain), Edit: simultaneous("alice", true, AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: voicemailAnswer(2), "user:alice": answers(8)},
			Want: Want{Dials: []Dial{dial(20, deskA, withConfirm(mobileLeg(Eve, AliceMain+";follow-me;1")))},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},
		{Name: "simultaneous ring: nobody answers", Call: in(Eve, AliceMain), Edit: simultaneous("alice", false, AliceMobile),
			Endpoints: map[string]callflow.Script{AliceMobile: neverAnswer},
			Want: Want{Dials: []Dial{dial(20, deskA, mobileLeg(Eve, AliceMain+";follow-me;1"))},
				Heard: []string{"ringback:ring-lyon", "voicemail:alice/no_answer"}, Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "simultaneous ring with a colleague's desk", Call: in(Eve, AliceMain), Edit: simultaneous("alice", true, "user:bob"),
			Endpoints: map[string]callflow.Script{"user:bob": answers(3)},
			Want: Want{Dials: []Dial{dial(20, deskA, Leg{Target: "user:bob", Number: Outsider, Name: "Eve Durand", Redirect: AliceMain + ";follow-me;1"})},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:bob")}},
		{Name: "simultaneous ring: a busy desk does not stop the mobile", Call: in(Eve, AliceMain), Edit: simultaneous("alice", false, AliceMobile),
			Endpoints: map[string]callflow.Script{"user:alice": busy, AliceMobile: answers(6)},
			Want: Want{Dials: []Dial{dial(20, deskA, mobileLeg(Eve, AliceMain+";follow-me;1"))},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered(AliceMobile)}},

		// §2.1: the loop guard.
		{Name: "a no-answer loop ends at the loop guard", Call: in(Eve, AliceMain),
			Edit: edits(noAnswerTo("alice", "user:bob"), noAnswerTo("bob", "user:alice")),
			Want: Want{Dials: []Dial{dial(20, deskA), dial(20, deskB), dial(20, deskA)},
				Heard:  []string{"ringback:ring-lyon", "ringback:", "ringback:ring-lyon", "voicemail:alice/no_answer"},
				Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "an unconditional loop rings the device", Call: in(Eve, AliceMain),
			Edit:      edits(unconditionalTo("alice", "user:bob"), unconditionalTo("bob", "user:alice")),
			Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want:      Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},
		{Name: "a loop does not ring a phone in dnd", Call: in(Eve, AliceMain),
			Edit: edits(aliceDND, busyTo("alice", "user:bob"), noAnswerTo("bob", "user:alice")),
			Want: Want{Dials: []Dial{dial(20, deskB)}, Heard: []string{"ringback:", "voicemail:alice/busy"},
				Hangup: "normal", Outcome: voicemail("alice")}},
		{Name: "the hop limit stops a chain", Call: in(Eve, AliceMain), EditSite: func(s *config.Site) { s.MaxForwardHops = 2 },
			Edit:      edits(unconditionalTo("alice", "user:bob"), unconditionalTo("bob", "user:carol"), unconditionalTo("carol", CarolMobile)),
			Endpoints: map[string]callflow.Script{"user:carol": answers(2), CarolMobile: answers(1)},
			Want:      Want{Dials: []Dial{dial(20, deskC)}, Heard: []string{"ringback:"}, Outcome: answered("user:carol")}},

		// The caller leaves.
		{Name: "caller hangs up while the desk rings", Call: in(Eve, AliceMain), CallerHangupS: 7,
			Want: Want{Dials: []Dial{dial(20, deskA)}, Heard: []string{"ringback:ring-lyon"},
				Outcome: ended(callflow.OutcomeMissed, "alice", "caller_hangup")}},

		// What the phones show.
		{Name: "display of the number dialed", Call: in(Eve, AliceDirect),
			Edit:      edit("alice", func(s *config.Sheet) { s.Advanced.IncomingDisplay = config.DisplayCalledNumber }),
			Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want: Want{Dials: []Dial{dial(20, Leg{Target: "user:alice", Number: Outsider, Name: AliceDirect})},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},
		{Name: "display of the context name", Call: in(Eve, AliceDirect),
			Edit:      edit("alice", func(s *config.Sheet) { s.Advanced.IncomingDisplay = config.DisplayContextName }),
			Endpoints: map[string]callflow.Script{"user:alice": answers(1)},
			Want: Want{Dials: []Dial{dial(20, Leg{Target: "user:alice", Number: Outsider, Name: "Support"})},
				Heard: []string{"ringback:ring-lyon"}, Outcome: answered("user:alice")}},
		{Name: "bob's phone shows who forwarded the call", Call: in(Eve, AliceMain),
			Edit:      edits(noAnswerTo("alice", "user:bob"), edit("bob", func(s *config.Sheet) { s.Advanced.RedirectInfo = true })),
			Endpoints: map[string]callflow.Script{"user:bob": answers(2)},
			Want: Want{Dials: []Dial{dial(20, deskA), dial(20, Leg{Target: "user:bob", Number: Outsider, Name: "Eve Durand", Redirect: AliceMain + ";no-answer;1"})},
				Heard: []string{"ringback:ring-lyon", "ringback:"}, Outcome: answered("user:bob")}},

		// Outbound.
		{Name: "outbound call presents the main number", Call: out("alice", "0611223344"),
			Endpoints: map[string]callflow.Script{someMobile: answers(4)},
			Want: Want{Dials: []Dial{dial(180, Leg{Target: someMobile, Number: AliceMain, Name: "Alice Martin"})},
				Heard: []string{"ringback:"}, Outcome: answered(someMobile)}},
		{Name: "*31 withholds the number for one call", Call: out("alice", "*310611223344"),
			Endpoints: map[string]callflow.Script{someMobile: answers(4)},
			Want: Want{Dials: []Dial{dial(180, Leg{Target: someMobile, Asserted: AliceMain})},
				Heard: []string{"ringback:"}, Outcome: answered(someMobile)}},
		{Name: "*322 presents the direct line", Call: out("alice", "*3220611223344"),
			Endpoints: map[string]callflow.Script{someMobile: answers(4)},
			Want: Want{Dials: []Dial{dial(180, Leg{Target: someMobile, Number: AliceDirect, Name: "Alice Martin"})},
				Heard: []string{"ringback:"}, Outcome: answered(someMobile)}},
		{Name: "*321 cannot present the personal mobile", Call: out("alice", "*3210611223344"),
			Want: Want{Heard: []string{"unavailable:"}, Hangup: "rejected", Outcome: ended(callflow.OutcomeUnavailable, "alice", "cli_prefix")}},
		{Name: "a short number is expanded", Call: out("alice", "12"),
			Endpoints: map[string]callflow.Script{standard: answers(1)},
			Want: Want{Dials: []Dial{dial(180, Leg{Target: standard, Number: AliceMain, Name: "Alice Martin"})},
				Heard: []string{"ringback:"}, Outcome: answered(standard)}},
		{Name: "an international call the site refuses", Call: out("alice", "00442071234567"),
			Want: Want{Heard: []string{"unavailable:"}, Hangup: "barred", Outcome: ended(callflow.OutcomeUnavailable, "alice", "outside_policy")}},
		{Name: "outbound at max simultaneous calls", Call: out("alice", "0611223344"), Active: map[string]int{"alice": 2},
			Want: Want{Heard: []string{"busy:busy-fr"}, Hangup: "busy", Outcome: ended(callflow.OutcomeBusy, "alice", "max_calls")}},
		{Name: "outbound to a busy number", Call: out("alice", "0611223344"), Endpoints: map[string]callflow.Script{someMobile: busy},
			Want: Want{Dials: []Dial{dial(180, Leg{Target: someMobile, Number: AliceMain, Name: "Alice Martin"})},
				Heard: []string{"ringback:"}, Hangup: "busy", Outcome: ended(callflow.OutcomeBusy, "alice", "busy")}},
		{Name: "a call to a colleague is the colleague's inbound call", Call: out("alice", "0478000002"),
			Endpoints: map[string]callflow.Script{"user:bob": answers(2)},
			Want:      Want{Dials: []Dial{dial(20, desk("bob", aliceCaller))}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},
		{Name: "a withheld call to a colleague", Call: out("alice", "*310478000002"),
			Endpoints: map[string]callflow.Script{"user:bob": answers(2)},
			Want:      Want{Dials: []Dial{dial(20, Leg{Target: "user:bob"})}, Heard: []string{"ringback:"}, Outcome: answered("user:bob")}},
	}
}

func withConfirm(l Leg) Leg {
	l.Confirm = true
	return l
}
