package pdk

import (
	"fmt"
	"sync"
	"unsafe"
)

// Level is the severity of a log line sent to the host.
type Level uint32

// The log levels of the goshawk.log import.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// pinned keeps every buffer handed to the host reachable until the host
// frees it. Go's collector doesn't move objects, so a live slice keeps its
// address; without this map the collector could reuse memory the host is
// still writing into or reading from.
var (
	pinnedMu sync.Mutex
	pinned   = map[uint32][]byte{}
)

// pin records b as handed to the host and returns its address.
func pin(b []byte) uint32 {
	if len(b) == 0 {
		// Every buffer needs a distinct, non-zero address, including an
		// empty one.
		b = make([]byte, 1)[:0:1]
	}
	ptr := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	pinnedMu.Lock()
	pinned[ptr] = b
	lastPtr, lastBuf = ptr, b
	pinnedMu.Unlock()
	return ptr
}

// last is the buffer pinned last: the host allocates one input buffer and
// passes it to call after call, so lookup finds it without the map.
var (
	lastPtr uint32
	lastBuf []byte
)

// lookup returns the first size bytes of the pinned buffer at ptr.
func lookup(ptr, size uint32) ([]byte, bool) {
	if ptr == lastPtr && ptr != 0 && uint64(size) <= uint64(cap(lastBuf)) {
		return lastBuf[:size], true
	}
	pinnedMu.Lock()
	b, ok := pinned[ptr]
	pinnedMu.Unlock()
	if !ok || uint64(size) > uint64(cap(b)) {
		return nil, false
	}
	return b[:size], true
}

// release forgets the buffer at ptr so the collector may reclaim it.
func release(ptr uint32) {
	pinnedMu.Lock()
	delete(pinned, ptr)
	if ptr == lastPtr {
		lastPtr, lastBuf = 0, nil
	}
	pinnedMu.Unlock()
}

// pack returns the ABI's u64 form of a buffer: its address in the high 32
// bits and its length in the low 32 bits. The buffer stays pinned until the
// host calls goshawk_free on it.
func pack(b []byte) uint64 {
	return uint64(pin(b))<<32 | uint64(len(b))
}

//go:wasmexport goshawk_alloc
func goshawkAlloc(size uint32) uint32 {
	return pin(make([]byte, size))
}

// result is the address of the envelope last returned to the host. It
// lives in the kit's reused output buffer rather than among the pinned
// buffers, so freeing it only forgets it.
var result uint32

//go:wasmexport goshawk_free
func goshawkFree(ptr, size uint32) {
	if ptr == result {
		result = 0
		return
	}
	release(ptr)
}

//go:wasmexport goshawk_manifest
func goshawkManifest() uint64 {
	return pack(manifestJSON())
}

// Call runs the registered function name on the JSON input the host placed
// at ptr and returns the packed result envelope. It is meant to be the whole
// body of a plugin's exported function:
//
//	//go:wasmexport score
//	func scoreExport(ptr, size uint32) uint64 { return pdk.Call("score", ptr, size) }
func Call(name string, ptr, size uint32) uint64 {
	var out []byte
	if input, ok := lookup(ptr, size); ok {
		out = invoke(name, input)
	} else {
		out = errorEnvelope(fmt.Sprintf("pdk: %s: input buffer %#x+%d was not allocated with goshawk_alloc", name, ptr, size))
	}
	// An envelope is never empty, so its address is a real one, and the
	// output buffer stays reachable from the kit until the host frees it.
	result = uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out))))
	return uint64(result)<<32 | uint64(len(out))
}

// Log writes msg to the log of the run that called the plugin, at the given
// level. Keep lines short; the host truncates very long ones.
func Log(level Level, msg string) {
	if msg == "" {
		return
	}
	hostLog(uint32(level), unsafe.StringData(msg), uint32(len(msg)))
}
