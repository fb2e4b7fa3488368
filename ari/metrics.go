package ari

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics of the link itself (the call metrics are switchboard's, with the link state
// sophia_pbx_link_up{pbx="asterisk"}).
type metrics struct {
	events     prometheus.Counter
	dropped    *prometheus.CounterVec
	reconnects prometheus.Counter
	calls      prometheus.Counter
	resynced   prometheus.Counter
	restErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		events: f.NewCounter(prometheus.CounterOpts{Name: "sophia_ari_events_total",
			Help: "ARI events received on the WebSocket."}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_ari_events_dropped_total",
			Help: "ARI events not acted on because they could not be decoded (undecodable) or the device queue was full (device_backlog). Call events are never dropped."},
			[]string{"reason"}),
		reconnects: f.NewCounter(prometheus.CounterOpts{Name: "sophia_ari_reconnects_total",
			Help: "Times the link to Asterisk was lost (or could not be made) and is being made again."}),
		calls: f.NewCounter(prometheus.CounterOpts{Name: "sophia_ari_calls_total",
			Help: "Calls that entered the Stasis application."}),
		resynced: f.NewCounter(prometheus.CounterOpts{Name: "sophia_ari_vanished_channels_total",
			Help: "Channels found gone at a resync after the WebSocket came back (their end event was lost)."}),
		restErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "sophia_ari_rest_errors_total",
			Help: "ARI REST requests that failed, by operation."},
			[]string{"op"}),
	}
	for _, r := range []string{"undecodable", "device_backlog"} {
		m.dropped.WithLabelValues(r)
	}
	return m
}
