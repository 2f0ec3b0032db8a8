package jsonw

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "-1.5e+10": true, "1E-7": true, "12345678901234567890": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "1e+": false, "NaN": false, "0x10": false, "1 ": false,
	} {
		if got := isNumber(s); got != want {
			t.Errorf("isNumber(%q) = %v", s, got)
		}
	}
}

// TestAppendValueMatchesEncodingJSON writes the values AppendValue takes,
// nested, and compares with encoding/json; the others are errors.
func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil, "a <b> & \"c\"\n\u2028", true, 7, int64(-1 << 62), 1.5, 1e21, json.Number("12345678901234567890"),
		map[string]any{"z": 1, "a": []any{"x", map[string]any{}, []any{}}, "m": map[string]any{"k": nil}},
		[]map[string]any{{"b": 2, "a": 1}}, []string{"x", "y"}, []any{},
	}
	for _, v := range values {
		got, err := AppendValue(nil, v, AppendString)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if want := encodingJSON(t, v); string(got) != string(want) {
			t.Errorf("%#v:\n got %s\nwant %s", v, got, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("01"), map[string]any{"a": []any{math.Inf(-1)}}} {
		if _, err := AppendValue(nil, v, AppendString); err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("%#v: err %v, want the reason it has no JSON form", v, err)
		}
	}
	for _, v := range []any{struct{ A int }{1}, map[string]int{"a": 1}, []any{struct{}{}}} {
		if _, err := AppendValue(nil, v, AppendString); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%#v: err %v, want ErrUnsupported", v, err)
		}
	}
}
