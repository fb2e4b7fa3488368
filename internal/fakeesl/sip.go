package fakeesl

import (
	"fmt"
	"strings"
)

// The SIP self-loop of 11-sip-bridge-outcomes: a bridge to
// sofia/<profile>/<user>@127.0.0.1:15080 reaches the switch's own external profile, so
// the B leg (sofia/internal/…) has a far end inside the fake too: an incoming channel
// sofia/external/<caller>@127.0.0.1 whose public context sends sophia-<ext> to <ext> of
// the sophia dialplan (anything else is refused: 480). What the far end does reaches B
// as SIP would carry it (180, 183, 200, 486, 603, 480, BYE, CANCEL), with the sip_*
// variables FreeSWITCH sets on both.

// SelfSIPAddr is the address of the fake's own "external" SIP profile: sofia/…/<user>@
// SelfSIPAddr targets loop back into the fake's dialplan (11-sip-bridge-outcomes).
const SelfSIPAddr = "127.0.0.1:15080"

// sipPhrases are the reason phrases FreeSWITCH used in the traces.
var sipPhrases = map[int]string{180: "Ringing", 183: "Session Progress", 200: "OK", 480: "Temporarily Unavailable",
	486: "Busy Here", 487: "Request Terminated", 603: "Decline", 404: "Not Found", 488: "Not Acceptable Here"}

// causeSIP is the SIP status FreeSWITCH answers an INVITE with when the channel it
// created hangs up before answering with cause.
func causeSIP(cause string) int {
	switch cause {
	case "USER_BUSY":
		return 486
	case "CALL_REJECTED":
		return 603
	case "NO_ROUTE_DESTINATION", "UNALLOCATED_NUMBER":
		return 404
	case "INCOMPATIBLE_DESTINATION":
		return 488
	case "ORIGINATOR_CANCEL":
		return 487
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return 480
	}
	return 480
}

// startSofiaLoop creates B and its far end (11).
func (op *bridgeOp) startSofiaLoop(l *legState, target, user string) {
	s := op.s
	uuid, _ := l.vars.get("origination_uuid")
	b := s.newChannel(uuid, target, "outbound")
	op.setupB(l, b, user)
	b.fireCreated(renamedFrom(uuid))
	op.armLegTimeout(l)
	if b.hungup || l.done {
		return
	}
	far := s.newChannel("", "sofia/external/"+b.cidNum+"@127.0.0.1", "inbound")
	far.cidName, far.cidNum, far.dest, far.context, far.hitDialplan = b.cidName, b.cidNum, user, "public", true
	far.calleeName, far.calleeNum = "", ""
	for _, k := range b.vars.keys {
		if strings.HasPrefix(k, "sip_h_") {
			far.vars.set(k, b.vars.m[k]) // custom headers arrive as sent (04b)
		}
	}
	b.sipFar, far.sipNear = far, b
	far.vars.set("endpoint_disposition", "DELAYED NEGOTIATION") // an INVITE with SDP, as sofia says
	far.fireCreated("")
	ext, ok := strings.CutPrefix(user, "sophia-")
	if _, known := s.opts.Dialplan[ext]; !ok || !known {
		// public has no route for it: the INVITE is refused 480 (11: "nosuchext").
		far.sipRefuse = 480
		far.hangup("NORMAL_CLEARING")
		return
	}
	far.context = "sophia"
	far.runExtension(ext)
}

// sipProgress: the far end rang (180) or sent early media (183).
func (ch *Channel) sipProgress(media bool) {
	if b := ch.sipNear; b != nil && !b.hungup {
		b.markProgress(media)
	}
}

// sipAnswered: the far end answered (200 OK).
func (ch *Channel) sipAnswered() {
	if b := ch.sipNear; b != nil && !b.hungup {
		b.markAnswered()
	}
}

// sipHangupFar: the far end hung up with cause; B learns it as a final response (before
// answer) or a BYE (after).
func (ch *Channel) sipHangupFar(cause string) {
	b := ch.sipNear
	if b == nil || b.hungup {
		return
	}
	ch.sipNear, b.sipFar = nil, nil
	if ch.answer == "hangup" && !ch.answeredAt.IsZero() {
		ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_bye"})
		b.vars.set("sip_term_status", "200")
		b.vars.set("proto_specific_hangup_cause", "sip:200")
		b.vars.set("sip_term_cause", "16")
		b.postHangupVars = append(b.postHangupVars, Header{"sip_hangup_disposition", "recv_bye"})
		b.hangup("NORMAL_CLEARING")
		return
	}
	code := ch.sipRefuse
	if code == 0 {
		code = causeSIP(cause)
	}
	ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_refuse"})
	c := fmt.Sprint(code)
	b.vars.set("sip_term_status", c)
	b.vars.set("proto_specific_hangup_cause", "sip:"+c)
	b.vars.set("sip_term_cause", fmt.Sprint(q850[cause]))
	b.vars.set("sip_invite_failure_status", c)
	b.vars.set("sip_invite_failure_phrase", sipPhrases[code])
	b.vars.set("sip_hangup_disposition", "recv_refuse") // already on its CHANNEL_HANGUP
	b.hangup(sipCause(code))
}

// sipHangupNear: B hung up; its far end gets a BYE (answered) or a CANCEL.
func (ch *Channel) sipHangupNear() {
	far := ch.sipFar
	if far == nil || far.hungup {
		return
	}
	ch.sipFar, far.sipNear = nil, nil
	if far.answer == "answered" {
		ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_bye"})
		far.vars.set("sip_term_status", "200")
		far.vars.set("proto_specific_hangup_cause", "sip:200")
		far.vars.set("sip_term_cause", "16")
		far.postHangupVars = append(far.postHangupVars, Header{"sip_hangup_disposition", "recv_bye"})
		far.hangup("NORMAL_CLEARING")
		return
	}
	ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_cancel"})
	ch.vars.set("sip_invite_failure_status", "487")
	ch.vars.set("sip_invite_failure_phrase", "CANCEL")
	far.vars.set("sip_term_status", "487")
	far.vars.set("sip_hangup_disposition", "recv_cancel")
	far.vars.set("proto_specific_hangup_cause", "sip:487")
	far.vars.set("sip_invite_failure_status", "487")
	far.vars.set("sip_invite_failure_phrase", "CANCEL")
	far.hangup("ORIGINATOR_CANCEL")
}

// sipRemoteFail: a SIP endpoint refused the INVITE; cause is what FreeSWITCH makes of its
// final response (USER_BUSY 486, CALL_REJECTED 603, INCOMPATIBLE_DESTINATION 488…).
// Other legs (loopback, error/) just hang up.
func (ch *Channel) sipRemoteFail(cause string) {
	if ch.sipOut {
		code := causeSIP(cause)
		c := fmt.Sprint(code)
		ch.vars.set("sip_term_status", c)
		ch.vars.set("proto_specific_hangup_cause", "sip:"+c)
		ch.vars.set("sip_term_cause", fmt.Sprint(q850[cause]))
		ch.vars.set("sip_invite_failure_status", c)
		ch.vars.set("sip_invite_failure_phrase", sipPhrases[code])
		ch.vars.set("sip_hangup_disposition", "recv_refuse")
		ch.sipDone = true
	}
	ch.hangup(cause)
}

// sipRemoteBye: the answered endpoint hung up (BYE).
func (ch *Channel) sipRemoteBye() {
	if ch.sipOut {
		ch.vars.set("sip_term_status", "200")
		ch.vars.set("proto_specific_hangup_cause", "sip:200")
		ch.vars.set("sip_term_cause", "16")
		ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "recv_bye"})
		ch.sipDone = true
	}
	ch.hangup("NORMAL_CLEARING")
}

// sipLocalEnd: we hung up a SIP leg to an endpoint: BYE once answered, else CANCEL.
func (ch *Channel) sipLocalEnd() {
	if !ch.sipOut || ch.sipDone {
		return
	}
	ch.sipDone = true
	if !ch.answeredAt.IsZero() {
		ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_bye"})
		return
	}
	ch.postHangupVars = append(ch.postHangupVars, Header{"sip_hangup_disposition", "send_cancel"})
	ch.vars.set("sip_invite_failure_status", "487")
	ch.vars.set("sip_invite_failure_phrase", "CANCEL")
}
