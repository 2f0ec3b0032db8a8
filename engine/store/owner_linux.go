package store

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// startNonce returns the start time of process pid, in clock ticks since
// boot (field 22 of /proc/<pid>/stat), which distinguishes it from any later
// process given the same pid.
func startNonce(pid int) (string, bool) {
	n, err := procStartTime(pid)
	return n, err == nil
}

func procStartTime(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses, so count fields from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return "", errors.New("malformed /proc stat")
	}
	return "t" + f[19], nil
}

// processAlive reports whether pid is running and is the process that
// recorded nonce.
func processAlive(pid int, nonce string) bool {
	n, err := procStartTime(pid)
	switch {
	case err == nil:
		// A random nonce (no /proc when that process started) cannot be
		// compared; the pid being alive has to do.
		return n == nonce || strings.HasPrefix(nonce, "r")
	case errors.Is(err, fs.ErrNotExist):
		return false
	}
	// /proc is unreadable: assume alive rather than interrupt a live run.
	return true
}
