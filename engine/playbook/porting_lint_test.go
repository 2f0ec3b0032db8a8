package playbook

import (
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatq"
)

// Swimlane's grouped inputs lint as parameters of the actions that accept
// them, and only of those; their members are checked at run time.
func TestLintAcceptsGroupedInputs(t *testing.T) {
	tq := threatq.Provider()
	if _, err := providers.NewRegistry(tq); err != nil {
		t.Fatal(err)
	}
	env := &Env{Assets: map[string]*providers.Provider{"tq": tq}}
	src := `name: p
assets: [tq]
lua: |
  local a = tq.get_indicator_by_id{path_parameters = {id = "1"}, parameters = {with = "sources"}}
  local b = tq.create_event{json_body = {title = "x", type = "Malware"}}
  local c = tq.get_event_list{json_body = {}}
  return {a, b, c}
`
	_, diags := Parse("pb.yaml", []byte(src), env)
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	if len(got) != 1 || !strings.Contains(got[0], `pb.yaml:6:31: unknown parameter "json_body" for tq.get_event_list`) {
		t.Fatalf("diagnostics = %q, want only get_event_list's json_body", got)
	}
}
