//go:build !unix

package store

import "os"

// startNonce has no portable source of process start times here, so the
// caller falls back to a random nonce.
func startNonce(int) (string, bool) { return "", false }

// processAlive reports whether pid is running: on Windows FindProcess opens
// the process and fails when there is none.
func processAlive(pid int, _ string) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
