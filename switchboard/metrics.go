package switchboard

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/sophia-pbx/sophia/callflow"
)

// metrics are the call metrics dashboards start from. Every label comes from a bounded
// set: directions, outcome kinds, the engine's rule names (anything else is "other"),
// PBX kinds.
type metrics struct {
	calls     *prometheus.CounterVec   // direction, outcome
	missed    *prometheus.CounterVec   // reason
	forwards  *prometheus.CounterVec   // kind
	setup     *prometheus.HistogramVec // direction
	link      *prometheus.GaugeVec     // pbx
	unknown   *prometheus.CounterVec   // direction, action
	active    prometheus.Gauge
	errors    *prometheus.CounterVec // op
	published *prometheus.CounterVec // state
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		calls: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_calls_total",
			Help: "Calls handled, by direction (inbound, outbound) and outcome (answered, voicemail, busy, unavailable, missed, aborted)."},
			[]string{"direction", "outcome"}),
		missed: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_missed_calls_total",
			Help: "Calls that ended missed, by reason (no_answer, caller_hangup, loop_guard…)."},
			[]string{"reason"}),
		forwards: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_forwards_total",
			Help: "Forwards carried out, by kind (unconditional, scheduled, dnd, busy, no_answer, not_connected, loop_guard)."},
			[]string{"kind"}),
		setup: f.NewHistogramVec(prometheus.HistogramOpts{Name: "sophia_call_setup_seconds",
			Help:    "Time from a call's arrival at sophia to its first leg dialed, by direction.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2}},
			[]string{"direction"}),
		link: f.NewGaugeVec(prometheus.GaugeOpts{Name: "sophia_pbx_link_up",
			Help: "1 while the link to the PBX is up (events and commands flow), 0 otherwise."},
			[]string{"pbx"}),
		unknown: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_unknown_number_calls_total",
			Help: "Calls to a number no user owns (inbound) or from a device no user holds (outbound), by what was done (continue, reject)."},
			[]string{"direction", "action"}),
		active: f.NewGauge(prometheus.GaugeOpts{Name: "sophia_active_calls",
			Help: "Calls this daemon is handling now."}),
		errors: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_switchboard_errors_total",
			Help: "Failures on the call path, by operation (lookup, lease, renew, release, calllog, route, publish, device_state, presence_share, presence_read)."},
			[]string{"op"}),
		published: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_presence_published_total",
			Help: "Presence changes handed to the PBX adapters, by state."},
			[]string{"state"}),
	}
	for _, d := range []Direction{Inbound, Outbound} {
		for _, o := range []string{"answered", "voicemail", "busy", "unavailable", "missed", "aborted"} {
			m.calls.WithLabelValues(string(d), o)
		}
		m.setup.WithLabelValues(string(d))
	}
	return m
}

// missedReasons bounds the reason label: the engine's rules, the caller leaving, the
// outbound refusals.
var missedReasons = map[string]bool{
	"no_answer": true, "caller_hangup": true, "loop_guard": true, "busy": true, "dnd": true,
	"not_connected": true, "unconditional": true, "scheduled": true, "ring": true,
	"max_calls": true, "cli_prefix": true, "invalid_number": true, "outside_policy": true,
}

func boundedReason(r string) string {
	if missedReasons[r] {
		return r
	}
	return "other"
}

// outcomeLabel is the calls_total outcome of a result.
func outcomeLabel(k callflow.OutcomeKind) string {
	switch k {
	case callflow.OutcomeAnswered, callflow.OutcomeVoicemail, callflow.OutcomeBusy,
		callflow.OutcomeUnavailable, callflow.OutcomeMissed:
		return string(k)
	}
	return "aborted"
}
