//go:build !unix

package wasm

// processCPU is not measured on this platform; the benchmarks then report
// zero CPU time.
func processCPU() int64 { return 0 }
