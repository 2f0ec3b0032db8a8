package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets a test run the real CLI in a child process: with
// GOSHAWK_TEST_MAIN set, the test binary is goshawk, signal handling
// included. Crash and signal tests use it to kill or interrupt a real
// process.
func TestMain(m *testing.M) {
	if os.Getenv("GOSHAWK_TEST_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
