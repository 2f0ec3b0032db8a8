package threatq

import (
	"testing"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/providertest"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// TestResultShapes pins the shape of each action's result against the
// emulator, the Swimlane entry in data[1] included, and SOAR's totals.
func TestResultShapes(t *testing.T) {
	providertest.CheckShapes(t, Provider(), "testdata/shapes", *update,
		func(t *testing.T, action string, params map[string]any) *providers.Result {
			return newFixture(t, tqfake.Options{}, nil).invoke(t, action, params)
		})
}
