package callflow_test

import (
	"testing"

	"github.com/sophia-pbx/sophia/internal/scenario"
)

// TestScenarios runs the scenario table (every path of DESIGN §2 and outbound calls) on
// the simulation driver: the same table the Asterisk and FreeSWITCH adapters run on
// their fakes.
func TestScenarios(t *testing.T) {
	scenario.RunAll(t, scenario.Sim{})
}
