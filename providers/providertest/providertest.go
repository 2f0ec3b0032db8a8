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

// Check fails t with every conformance problem of p.
func Check(t *testing.T, p *providers.Provider) {
	t.Helper()
	for _, msg := range Problems(p) {
		t.Error(msg)
	}
}

// Problems lists what keeps p from conforming: it must register; it, its
// config variables, its actions and their parameters must be documented;
// and every action needs examples that bind.
func Problems(p *providers.Provider) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if _, err := providers.NewRegistry(p); err != nil {
		add("%v", err)
	}
	if strings.TrimSpace(p.Summary) == "" {
		add("provider %s has no Summary", p.Name)
	}
	for _, c := range p.Config {
		if strings.TrimSpace(c.Doc) == "" {
			add("config variable %s has no Doc", c.Name)
		}
	}
	for i := range p.Actions {
		s := &p.Actions[i]
		if strings.TrimSpace(s.Summary) == "" {
			add("%s: no Summary", s.Name)
		}
		if strings.TrimSpace(s.Doc) == "" {
			add("%s: no Doc", s.Name)
		}
		for _, prm := range s.Params {
			if strings.TrimSpace(prm.Doc) == "" {
				add("%s: parameter %s has no Doc", s.Name, prm.Name)
			}
		}
		if len(s.Examples) == 0 {
			add("%s: no Examples", s.Name)
		}
		for j, ex := range s.Examples {
			if strings.TrimSpace(ex.Summary) == "" {
				add("%s: example %d has no Summary", s.Name, j)
			}
			if _, err := s.Bind(ex.Params); err != nil {
				add("%s: example %d (%s) does not bind: %v", s.Name, j, ex.Summary, err)
			}
		}
	}
	return out
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

// CheckShapes runs each action of p with its first example through invoke
// (against the provider's emulator) and compares the shape of its result
// with dir/<action>.golden, rewriting the files when update is true. Every
// result must carry SOAR's totals, consistent with its status.
func CheckShapes(t *testing.T, p *providers.Provider, dir string, update bool, invoke func(t *testing.T, action string, params map[string]any) *providers.Result) {
	t.Helper()
	for i := range p.Actions {
		s := &p.Actions[i]
		t.Run(s.Name, func(t *testing.T) {
			if len(s.Examples) == 0 {
				t.Fatal("no example to run")
			}
			r := invoke(t, s.Name, s.Examples[0].Params)
			t.Logf("%s: %s %s", s.Name, r.Status, r.Message)
			if r.Totals == nil || r.Totals.TotalObjects != 1 || (r.Totals.TotalObjectsSuccessful == 1) != r.OK() {
				t.Fatalf("totals = %+v for a %s result", r.Totals, r.Status)
			}
			Golden(t, filepath.Join(dir, s.Name+".golden"), ResultShape(t, r), update)
		})
	}
}
