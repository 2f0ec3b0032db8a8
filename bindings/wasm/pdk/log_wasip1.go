//go:build wasip1

package pdk

//go:wasmimport goshawk log
//go:noescape
func hostLog(level uint32, ptr *byte, size uint32)
