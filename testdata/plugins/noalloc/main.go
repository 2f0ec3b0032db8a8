// Command noalloc is a test plugin that lacks goshawk_alloc, written
// without the kit.
package main

import "unsafe"

var manifest = []byte(`{"name":"noalloc","version":"1","functions":[]}`)

//go:wasmexport goshawk_free
func free(ptr, size uint32) {}

//go:wasmexport goshawk_manifest
func goshawkManifest() uint64 {
	return uint64(uintptr(unsafe.Pointer(&manifest[0])))<<32 | uint64(len(manifest))
}

func main() {}
