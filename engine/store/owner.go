package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// owner identifies the process that started a run, so that a later Open can
// tell a run in flight in a live process from one orphaned by a crash. The
// nonce tells a process from a later one that reuses its pid: where the
// operating system exposes process start times, it is the start time, which
// another process can check; elsewhere it is random and only the pid is
// checked.
type owner struct {
	host  string
	pid   int
	nonce string
}

func (o owner) String() string { return o.host + "|" + strconv.Itoa(o.pid) + "|" + o.nonce }

// parseOwner reads an owner column; host names never contain '|', but a
// garbled value must not be mistaken for a live process.
func parseOwner(s string) (owner, bool) {
	host, rest, ok := strings.Cut(s, "|")
	if !ok {
		return owner{}, false
	}
	pidText, nonce, ok := strings.Cut(rest, "|")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return owner{}, false
	}
	return owner{host: host, pid: pid, nonce: nonce}, true
}

// self is this process's owner identity.
var self = sync.OnceValue(func() owner {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	host = strings.ReplaceAll(host, "|", "_")
	pid := os.Getpid()
	nonce, ok := startNonce(pid)
	if !ok {
		var b [8]byte
		rand.Read(b[:])
		nonce = "r" + hex.EncodeToString(b[:])
	}
	return owner{host: host, pid: pid, nonce: nonce}
})

// ownerGone reports whether the process recorded as owner has certainly
// exited. Processes on other hosts cannot be checked, so their runs are left
// alone.
func ownerGone(recorded string, me owner) bool {
	o, ok := parseOwner(recorded)
	if !ok {
		return true
	}
	if o.host != me.host {
		return false
	}
	if o.pid == me.pid {
		return o.nonce != me.nonce
	}
	return !processAlive(o.pid, o.nonce)
}

func (o owner) describe() string { return fmt.Sprintf("pid %d on %s", o.pid, o.host) }
