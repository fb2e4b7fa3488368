package esl

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the adapter's own: the call metrics are switchboard's, the link state is
// switchboard's sophia_pbx_link_up{pbx="freeswitch"}.
type metrics struct {
	connected  prometheus.Gauge       // inbound Event Socket connected
	connects   *prometheus.CounterVec // result: ok, error
	sockets    prometheus.Gauge       // outbound sockets open
	calls      prometheus.Counter     // outbound sockets accepted
	dropped    *prometheus.CounterVec // reason
	commands   *prometheus.CounterVec // result: ok, error, timeout
	registered *prometheus.CounterVec // kind: register, unregister, expire
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		connected: f.NewGauge(prometheus.GaugeOpts{Name: "sophia_esl_inbound_connected",
			Help: "1 while the inbound Event Socket connection to FreeSWITCH is up (registrations, presence, API), 0 otherwise."}),
		connects: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_esl_inbound_connects_total",
			Help: "Attempts to connect to FreeSWITCH's Event Socket, by result (ok, error)."}, []string{"result"}),
		sockets: f.NewGauge(prometheus.GaugeOpts{Name: "sophia_esl_outbound_sockets",
			Help: "Outbound Event Socket connections (one per call) open now."}),
		calls: f.NewCounter(prometheus.CounterOpts{Name: "sophia_esl_outbound_sockets_total",
			Help: "Outbound Event Socket connections accepted (one per call)."}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_esl_events_dropped_total",
			Help: "FreeSWITCH events not applied, by reason (undecodable, queue_full, stale: older than one already applied for the same device)."},
			[]string{"reason"}),
		commands: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_esl_commands_total",
			Help: "Commands sent to FreeSWITCH, by result (ok, error: refused or link lost, timeout)."}, []string{"result"}),
		registered: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_esl_registration_events_total",
			Help: "Registration events applied to device states, by kind (register, unregister, expire, sync)."}, []string{"kind"}),
	}
}
