package playbook

import (
	"os"
	"testing"
	"time"
)

func FuzzHang(f *testing.F) {
	f.Add([]byte(fullPlaybook))
	f.Add([]byte("lua: |\n  return tc.hunt_ip{ip = input.ip}\n"))
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile("/tmp/hang.txt", data, 0o644)
				panic("hang")
			}
		}()
		Parse("fuzz.yaml", data, env)
		close(done)
	})
}
