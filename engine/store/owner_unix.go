//go:build unix && !linux

package store

import (
	"errors"
	"syscall"
)

// startNonce has no portable source of process start times here, so the
// caller falls back to a random nonce.
func startNonce(int) (string, bool) { return "", false }

// processAlive reports whether pid is running. Without start times a reused
// pid looks alive, which errs on the side of leaving a run open.
func processAlive(pid int, _ string) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
