//go:build unix

// Package cputime reads the CPU time of this process, so that benchmarks
// can report what an operation costs even when other work shares the
// machine.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time this process has used, user and system; ok is
// false where it cannot be read.
func Process() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
