package callflow_test

import (
	"net/url"
	"testing"

	"github.com/sophia-pbx/sophia/callflow"
)

func FuzzParseExplainQuery(f *testing.F) {
	for _, s := range []string{"", "at=2026-12-07T19:30:00%2B01:00", "respond=user:alice=offline&respond=+33612345678=answer",
		"active=3&from=+331&to=%2B33478000001", "respond==", "respond=a=b=c", "active=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := callflow.ParseExplainQuery(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.Active < 0 || p.Active > 1000 {
			t.Fatalf("active %d accepted", p.Active)
		}
		for target, b := range p.Respond {
			if target == "" || b > callflow.Offline {
				t.Fatalf("respond %q=%v accepted", target, b)
			}
		}
	})
}
