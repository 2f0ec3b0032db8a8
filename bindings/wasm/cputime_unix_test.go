//go:build unix

package wasm

import "syscall"

// processCPU returns the user and system CPU time the process has used, in
// nanoseconds. The benchmarks report it per operation next to wall time,
// because on a busy machine wall time mostly measures the neighbours.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
