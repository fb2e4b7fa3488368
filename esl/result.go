package esl

import (
	"strings"

	"github.com/sophia-pbx/sophia/callflow"
)

// legCauses turns the result variables of a failed bridge (its CHANNEL_EXECUTE_COMPLETE)
// into one cause per leg, legs named by the origination_uuid sophia gave them.
//
// originate_causes lists every leg FreeSWITCH created a channel for, "<uuid>;<CAUSE>",
// several joined as "ARRAY::a;X|:b;Y" (traces README, "Other variables"). A leg with no
// channel (user/X not registered, error/…, an unknown endpoint) is not listed: it takes
// the attempt's overall cause, originate_failed_cause, else originate_disposition.
func legCauses(uuids []string, originateCauses, failed, disposition string) []callflow.Cause {
	overall := failed
	if overall == "" || overall == "_undef_" {
		overall = disposition
	}
	byUUID := map[string]string{}
	list := strings.TrimPrefix(originateCauses, "ARRAY::")
	if list != "" {
		for _, item := range strings.Split(list, "|:") {
			u, c, ok := strings.Cut(item, ";")
			if ok && u != "" {
				byUUID[u] = c
			}
		}
	}
	out := make([]callflow.Cause, len(uuids))
	for i, u := range uuids {
		c, ok := byUUID[u]
		if !ok || c == "" || c == "NONE" {
			c = overall
		}
		out[i] = causeOf(c)
	}
	return out
}

// causeOf maps a FreeSWITCH cause name to callflow's, with the causes sophia itself
// provokes read as "nobody answered": LOSE_RACE (another leg won), ORIGINATOR_CANCEL
// (the caller or sophia stopped the ring), and an empty or FAILURE result.
func causeOf(name string) callflow.Cause {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "", "FAILURE", "LOSE_RACE", "ORIGINATOR_CANCEL", "_UNDEF_":
		return callflow.CauseNoAnswer
	}
	return callflow.FromFreeSWITCH(name)
}
