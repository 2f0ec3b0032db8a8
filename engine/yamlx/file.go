package yamlx

import (
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds the files goshawk reads as configuration:
// goshawk.yaml, playbooks, their Lua scripts and test files. The largest
// real ones are a few KiB; the bound keeps a stray or hostile file from
// costing the host memory and parse time.
const MaxFileSize = 4 << 20

// ReadFile reads the file at path, refusing one larger than MaxFileSize
// without reading it all. what names the file in the error ("playbook",
// "script").
func ReadFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, TooLarge(what)
	}
	return data, nil
}

// TooLarge is the error for a file over MaxFileSize.
func TooLarge(what string) error {
	return fmt.Errorf("the %s is larger than %d MiB, the most goshawk reads; split it or remove what it doesn't need", what, MaxFileSize>>20)
}
