// Package providertest is the conformance test every goshawk provider
// passes: it registers, every action has a summary, a doc and examples
// that bind, and every config variable is documented. A provider's own
// test calls it once:
//
//	func TestConformance(t *testing.T) { providertest.Check(t, Provider()) }
package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

// Check runs the conformance checks on p, each as a subtest.
func Check(t *testing.T, p *providers.Provider) {
	t.Helper()
	t.Run("registers", func(t *testing.T) {
		if _, err := providers.NewRegistry(p); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("summary", func(t *testing.T) {
		if strings.TrimSpace(p.Summary) == "" {
			t.Errorf("provider %s has no Summary", p.Name)
		}
	})
	t.Run("config", func(t *testing.T) {
		for _, c := range p.Config {
			if strings.TrimSpace(c.Doc) == "" {
				t.Errorf("config variable %s has no Doc", c.Name)
			}
		}
	})
	for i := range p.Actions {
		s := &p.Actions[i]
		t.Run(s.Name, func(t *testing.T) { checkAction(t, s) })
	}
}

func checkAction(t *testing.T, s *providers.Spec) {
	if strings.TrimSpace(s.Summary) == "" {
		t.Errorf("no Summary")
	}
	if strings.TrimSpace(s.Doc) == "" {
		t.Errorf("no Doc")
	}
	for _, p := range s.Params {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("parameter %s has no Doc", p.Name)
		}
	}
	if len(s.Examples) == 0 {
		t.Errorf("no Examples")
	}
	for i, ex := range s.Examples {
		if strings.TrimSpace(ex.Summary) == "" {
			t.Errorf("example %d has no Summary", i)
		}
		if _, err := s.Bind(ex.Params); err != nil {
			t.Errorf("example %d (%s) does not bind: %v", i, ex.Summary, err)
		}
	}
}

// Shape reduces a decoded JSON value to its shape: objects keep their keys,
// a list keeps the shape of its first element, and every scalar becomes
// its JSON type name. Golden files of shapes pin the data paths a playbook
// reads without pinning the values.
func Shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Shape(e)
		}
		return out
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{Shape(x[0])}
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// ResultShape marshals r and returns its shape as indented JSON.
func ResultShape(t testing.TB, r *providers.Result) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(Shape(v), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// Golden compares got with the file at path, rewriting it first when
// update is true.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
