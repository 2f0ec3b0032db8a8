package playbook

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad measures a full load of a realistic playbook: YAML decoding,
// reading the script, Lua parsing, compiling and linting. Hot reload pays
// this once per saved file.
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	for name, content := range map[string]string{"hunt.yaml": fullPlaybook, "hunt.lua": huntLua} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	env := testEnv(b)
	path := filepath.Join(dir, "hunt.yaml")
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load(path, env); len(diags) > 0 {
			b.Fatal(diags)
		}
	}
}

// BenchmarkCheckInputs measures the input check every run starts with.
func BenchmarkCheckInputs(b *testing.B) {
	dir := b.TempDir()
	for name, content := range map[string]string{"hunt.yaml": fullPlaybook, "hunt.lua": huntLua} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	pb, diags := Load(filepath.Join(dir, "hunt.yaml"), testEnv(b))
	if len(diags) > 0 {
		b.Fatal(diags)
	}
	raw := map[string]any{"ip": "203.0.113.7", "days": "14"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pb.CheckInputs(raw); err != nil {
			b.Fatal(err)
		}
	}
}
