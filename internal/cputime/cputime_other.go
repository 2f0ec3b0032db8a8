//go:build !unix

// Package cputime reads the CPU time of this process, so that benchmarks
// can report what an operation costs even when other work shares the
// machine.
package cputime

import "time"

// Process is not measured on this platform: ok is false.
func Process() (d time.Duration, ok bool) { return 0, false }
