package embedded

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics show the store's durability work: how much it writes, how long fsync takes
// (the floor of every API write's latency), and when it last snapshotted.
type metrics struct {
	records      prometheus.Counter
	journalBytes prometheus.Gauge
	syncSeconds  prometheus.Histogram
	snapshots    *prometheus.CounterVec
	lastSnapshot prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg) // nil: metrics kept but not exposed
	return &metrics{
		records: f.NewCounter(prometheus.CounterOpts{
			Name: "sophia_embedded_journal_records_total",
			Help: "Writes appended to the embedded store's journal.",
		}),
		journalBytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "sophia_embedded_journal_bytes",
			Help: "Size of the embedded store's journal since the last snapshot.",
		}),
		syncSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "sophia_embedded_journal_sync_seconds",
			Help:    "Time of one fsync of the embedded store's journal.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
		snapshots: f.NewCounterVec(prometheus.CounterOpts{
			Name: "sophia_embedded_snapshots_total",
			Help: "Snapshots of the embedded store, by result (ok, error).",
		}, []string{"result"}),
		lastSnapshot: f.NewGauge(prometheus.GaugeOpts{
			Name: "sophia_embedded_last_snapshot_timestamp_seconds",
			Help: "When the embedded store last wrote a snapshot (Unix time).",
		}),
	}
}
