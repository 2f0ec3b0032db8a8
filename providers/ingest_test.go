package providers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

func ingestProvider(in *providers.IngestSpec) *providers.Provider {
	p := testProvider()
	p.Config = append(p.Config, providers.Param{Name: "poll", Type: providers.Duration})
	p.Actions = append(p.Actions, providers.Spec{
		Name: "on_poll", Kind: providers.Ingest,
		Params: []providers.Param{
			{Name: "poll_now", Type: providers.Bool},
			{Name: "container_count", Type: providers.Integer},
		},
		Run: func(context.Context, *providers.Call) *providers.Result { return providers.Succeeded("", nil, nil) },
	})
	p.Ingest = in
	return p
}

func TestRegisterChecksIngestSpec(t *testing.T) {
	good := providers.IngestSpec{Action: "on_poll", NowParam: "poll_now", CountParam: "container_count", ScheduleKey: "poll"}
	if _, err := providers.NewRegistry(ingestProvider(&good)); err != nil {
		t.Fatalf("a correct ingest spec was refused: %v", err)
	}
	if _, err := providers.NewRegistry(ingestProvider(nil)); err != nil {
		t.Fatalf("a provider that does not ingest was refused: %v", err)
	}
	cases := map[string]struct {
		edit func(*providers.IngestSpec)
		want string
	}{
		"missing action":      {func(s *providers.IngestSpec) { s.Action = "poll_it" }, `action "poll_it" is not declared`},
		"action not ingest":   {func(s *providers.IngestSpec) { s.Action = "noop" }, `action "noop" has kind "generic"; it must be "ingest"`},
		"missing now param":   {func(s *providers.IngestSpec) { s.NowParam = "now" }, `NowParam "now" is not a parameter of on_poll`},
		"now param not bool":  {func(s *providers.IngestSpec) { s.NowParam = "container_count" }, `NowParam "container_count" has type integer; it must be bool`},
		"missing count param": {func(s *providers.IngestSpec) { s.CountParam = "" }, `CountParam "" is not a parameter of on_poll`},
		"count param not int": {func(s *providers.IngestSpec) { s.CountParam = "poll_now" }, `CountParam "poll_now" has type bool; it must be integer`},
		"missing schedule":    {func(s *providers.IngestSpec) { s.ScheduleKey = "every" }, `ScheduleKey "every" is not a parameter of the asset config`},
		"schedule not dur":    {func(s *providers.IngestSpec) { s.ScheduleKey = "token" }, `ScheduleKey "token" has type string; it must be duration`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := good
			c.edit(&in)
			_, err := providers.NewRegistry(ingestProvider(&in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
