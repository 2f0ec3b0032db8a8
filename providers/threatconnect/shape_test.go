package threatconnect

import (
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/providertest"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestResultShapes pins the shape of each action's result against the
// emulator: every data path a playbook reads, and SOAR's totals on every
// one.
func TestResultShapes(t *testing.T) {
	providertest.CheckShapes(t, Provider(), "testdata/shapes", updateGoldenFiles(),
		func(t *testing.T, action string, params map[string]any) *providers.Result {
			f := newFixture(t, tcfake.Options{}, nil)
			return f.invokeEnv(t, action, params, f.env(newMemSink(), time.Now()))
		})

	// A hunt that leaves matches out adds summary.truncated and
	// summary.available.
	t.Run("hunt_ip truncated", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{Empty: true}, nil)
		plantHuntMatches(f.srv)
		r := f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": 5})
		if !r.OK() || r.Summary["available"] != 111 {
			t.Fatalf("got %s %q %v", r.Status, r.Message, r.Summary)
		}
		providertest.Golden(t, "testdata/shapes/hunt_ip_truncated.golden", providertest.ResultShape(t, r), updateGoldenFiles())
	})
}
