package store

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/goshawk/goshawk/internal/jsonw"
)

// The cef and cef_types columns are encoded once per artifact on the ingest
// path, where reflection-based json.Marshal of a map costs as much as both
// inserts. encodeCEF and encodeCEFTypes produce the same bytes as
// json.Marshal (HTML escaping included, through appendString): the CEF map
// is walked by jsonw.AppendValue, and a value it does not write sends the
// whole map to json.Marshal.

func encodeCEF(m map[string]any) (string, error) {
	b, err := jsonw.AppendValue(make([]byte, 0, 32*len(m)+2), m, appendString)
	if errors.Is(err, jsonw.ErrUnsupported) {
		b, err = json.Marshal(m)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func encodeCEFTypes(m map[string][]string) (string, error) {
	keys := slices.Sorted(maps.Keys(m))
	b := make([]byte, 0, 32*len(m)+2)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if m[k] == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, s := range m[k] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	return string(append(b, '}')), nil
}

// appendString writes plain printable ASCII directly and leaves escaping,
// including json.Marshal's escaping of <, > and &, to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always encodes
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
