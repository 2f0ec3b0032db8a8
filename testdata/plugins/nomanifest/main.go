// Command nomanifest is a test plugin that exports the allocator but no
// goshawk_manifest, written without the kit.
package main

import "unsafe"

var pinned = map[uint32][]byte{}

//go:wasmexport goshawk_alloc
func alloc(size uint32) uint32 {
	b := make([]byte, size+1)
	ptr := uint32(uintptr(unsafe.Pointer(&b[0])))
	pinned[ptr] = b
	return ptr
}

//go:wasmexport goshawk_free
func free(ptr, size uint32) { delete(pinned, ptr) }

func main() {}
