// Package providertest is the conformance test every goshawk provider
// passes: it registers, every action has a summary, a doc and examples
// that bind, and every config variable is documented. A provider's own
// test calls it once:
//
//	func TestConformance(t *testing.T) { providertest.Check(t, Provider()) }
package providertest

import (
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
