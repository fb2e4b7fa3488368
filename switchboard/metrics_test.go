package switchboard_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// counter returns the value of a counter or gauge with the given labels (0 if absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	for _, m := range gather(t, reg, name) {
		if matches(m, labels) {
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func histCount(t *testing.T, reg *prometheus.Registry, name, direction string) uint64 {
	t.Helper()
	for _, m := range gather(t, reg, name) {
		if matches(m, map[string]string{"direction": direction}) {
			return m.Histogram.GetSampleCount()
		}
	}
	return 0
}

// mustVec adapts counter() to testutil.ToFloat64's shape by gathering directly.
func mustVec(t *testing.T, reg *prometheus.Registry, name string, kv ...string) prometheus.Collector {
	t.Helper()
	labels := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		labels[kv[i]] = kv[i+1]
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "probe", Help: "probe"}, func() float64 { return counter(t, reg, name, labels) })
}
