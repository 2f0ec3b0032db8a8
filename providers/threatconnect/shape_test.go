package threatconnect

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/providertest"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestResultShapes pins the shape of each action's result, run with its
// first documented example against the emulator: every data path a
// playbook reads, and SOAR's totals.total_objects and
// totals.total_objects_successful on every one.
func TestResultShapes(t *testing.T) {
	for _, s := range Provider().Actions {
		t.Run(s.Name, func(t *testing.T) {
			f := newFixture(t, tcfake.Options{}, nil)
			r := f.invokeEnv(t, s.Name, s.Examples[0].Params, f.env(newMemSink(), time.Now()))
			if r.Totals == nil || r.Totals.TotalObjects != 1 || (r.Totals.TotalObjectsSuccessful == 1) != r.OK() {
				t.Fatalf("totals = %+v for a %s result", r.Totals, r.Status)
			}
			providertest.Golden(t, filepath.Join("testdata", "shapes", s.Name+".golden"), providertest.ResultShape(t, r), updateGoldenFiles())
		})
	}
}
