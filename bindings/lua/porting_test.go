package lua

import (
	"reflect"
	"testing"
)

// A ported playbook names an action as SOAR prints it, and reads SOAR's
// run-level totals beside the result's summary.
func TestSOARDisplayNameAndTotals(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	got := mustRun(t, rt, `
		local r = tc["hunt ip"]{ip = "1.2.3.4"}
		local f = tc["hunt ip"]{ip = "10.0.0.1"}
		return {status = r.status, total = r.totals.total_objects, ok = r.totals.total_objects_successful,
			failed_ok = f.totals.total_objects_successful}`, &RunSpec{Assets: testAssets(t)})
	want := map[string]any{"status": "success", "total": int64(1), "ok": int64(1), "failed_ok": int64(0)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}
