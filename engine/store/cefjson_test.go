package store

import (
	"encoding/json"
	"math"
	"testing"
)

// TestEncodeCEFMatchesJSON holds the fast encoders to the bytes of
// json.Marshal, which readers and the stored data rely on.
func TestEncodeCEFMatchesJSON(t *testing.T) {
	cefs := []map[string]any{
		nil,
		{},
		{"deviceAddress": "1.2.3.4", "rating": 3.0, "confidence": 23.0, "threatAssessRating": 2.5},
		{"requestURL": "http://x.example/a?b=1&c=<2>", "cn1": "héllo \"quoted\" \\ \n\t\u2028", "bad": "\xff\xfe"},
		{"tiny": 1e-7, "huge": 1e21, "neg": -0.000001, "big": 123456789012345678.0, "zero": 0.0, "negzero": math.Copysign(0, -1)},
		{"int": 7, "int64": int64(-9), "bool": true, "nil": nil, "nested": map[string]any{"a": []any{1.5, "x"}}},
		{"キー": "値", "": ""},
		{"ints": []int{1, 2}, "typed": struct{ A string }{"<b>"}, "s": "a&b"},
	}
	for _, m := range cefs {
		got, err := encodeCEF(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(nonNilMap(m))
		if got != string(want) {
			t.Errorf("encodeCEF(%v)\n got %s\nwant %s", m, got, want)
		}
	}
	types := []map[string][]string{nil, {}, {"deviceAddress": {"ip"}, "fileHash": {"md5", "hash"}, "x": nil, "y": {}}}
	for _, m := range types {
		got, err := encodeCEFTypes(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(nonNilMap(m))
		if got != string(want) {
			t.Errorf("encodeCEFTypes(%v)\n got %s\nwant %s", m, got, want)
		}
	}
	if _, err := encodeCEF(map[string]any{"nan": math.NaN()}); err == nil {
		t.Error("NaN encoded")
	}
}
