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
		out[i] = callflow.FromFreeSWITCH(c)
	}
	return out
}
