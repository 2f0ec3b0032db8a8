package main

import (
	"runtime/debug"
	"testing"
)

func TestServeGCTarget(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	env := func(set map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := set[k]; return v, ok }
	}
	cases := []struct {
		env  map[string]string
		want int
	}{
		{nil, serveGCPercent},
		{map[string]string{"GOGC": "50"}, 100}, // the operator's GOGC, applied by the runtime, stays
		{map[string]string{"GOMEMLIMIT": "1GiB"}, 100},
	}
	for _, c := range cases {
		debug.SetGCPercent(100)
		tuneGC(env(c.env))
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("env %v: GC percent %d, want %d", c.env, got, c.want)
		}
	}
}
