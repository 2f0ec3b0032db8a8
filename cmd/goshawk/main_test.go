package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets a test run the real CLI in a child process: with
// GOSHAWK_TEST_MAIN set, the test binary is goshawk. Crash and signal tests
// use it to kill or interrupt a real process.
func TestMain(m *testing.M) {
	if os.Getenv("GOSHAWK_TEST_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
	}
	os.Exit(m.Run())
}
