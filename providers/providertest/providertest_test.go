package providertest_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/providertest"
)

func TestProblems(t *testing.T) {
	run := func(context.Context, *providers.Call) *providers.Result { return providers.Succeeded("", nil, nil) }
	p := &providers.Provider{
		Name:   "bad",
		Open:   func(string, providers.Values) (providers.Conn, error) { return nil, nil },
		Config: []providers.Param{{Name: "url", Type: providers.String}},
		Actions: []providers.Spec{
			{Name: "undocumented", Kind: providers.Generic, Run: run,
				Params: []providers.Param{{Name: "n", Type: providers.Integer, Min: providers.Bound(1)}}},
			{Name: "bad_example", Kind: providers.Generic, Run: run, Summary: "s", Doc: "d",
				Params:   []providers.Param{{Name: "n", Type: providers.Integer, Min: providers.Bound(1), Doc: "n"}},
				Examples: []providers.Example{{Summary: "zero", Params: map[string]any{"n": 0}}}},
		},
	}
	got := providertest.Problems(p)
	want := []string{
		"provider bad has no Summary",
		"config variable url has no Doc",
		"undocumented: no Summary",
		"undocumented: no Doc",
		"undocumented: parameter n has no Doc",
		"undocumented: no Examples",
		"bad_example: example 0 (zero) does not bind: Parameter 'n' must be a positive integer",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestShape(t *testing.T) {
	got := providertest.Shape(map[string]any{"a": []any{map[string]any{"b": 1.0, "c": nil}}, "d": []any{}, "e": true, "f": "x"})
	want := map[string]any{"a": []any{map[string]any{"b": "number", "c": "null"}}, "d": []any{}, "e": "bool", "f": "string"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}
