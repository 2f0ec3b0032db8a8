package store

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// The cef and cef_types columns are encoded once per artifact on the ingest
// path, where reflection-based json.Marshal of a map costs as much as both
// inserts. appendCEF and appendCEFTypes produce the same bytes as
// json.Marshal for the flat values providers put there, and defer to it for
// anything else.

func encodeCEF(m map[string]any) (string, error) {
	return encodeObject(m, appendScalar)
}

func encodeCEFTypes(m map[string][]string) (string, error) {
	return encodeObject(m, func(b []byte, v []string) ([]byte, error) {
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']'), nil
	})
}

func encodeObject[V any](m map[string]V, appendValue func([]byte, V) ([]byte, error)) (string, error) {
	if m == nil {
		return "{}", nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 32*len(m)+2)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return "", err
		}
	}
	return string(append(b, '}')), nil
}

func appendScalar(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), nil
	case float64:
		if abs := math.Abs(v); abs == 0 || abs >= 1e-6 && abs < 1e21 {
			return strconv.AppendFloat(b, v, 'f', -1, 64), nil
		}
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case nil:
		return append(b, "null"...), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
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
