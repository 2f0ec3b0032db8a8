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
}
