package playbook

import (
	"os"
	"testing"
	"time"
)

func FuzzHang(f *testing.F) {
	f.Add([]byte(fullPlaybook))
	f.Add([]byte("lua: |\n  return tc.hunt_ip{ip = input.ip}\n"))
	f.Add([]byte("trigger: {schedule: \"*/5 * * * *\", every: 1m}\ninputs: {x: {type: object, default: {a: 1}}}\nlua: return 1\n"))
	f.Add([]byte("x: &a [*a]\n"))
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
