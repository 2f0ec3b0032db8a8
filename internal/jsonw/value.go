package jsonw

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrUnsupported is AppendValue's answer for a type it does not write
// (structs, typed maps): its caller takes encoding/json's road.
var ErrUnsupported = errors.New("jsonw: type not written by hand")

// AppendValue appends v as encoding/json writes it without HTML escaping,
// for the values decoded JSON and scripts produce: nil, strings, bools,
// int, int64, float64, json.Number, map[string]any (keys sorted),
// []any, []map[string]any and []string. Every string, object keys
// included, goes through str, which appends it as a JSON string (the run
// records redact there). A float with no JSON form or a malformed
// json.Number is an error; any other type is ErrUnsupported, and what was
// appended is then to be dropped.
func AppendValue(b []byte, v any, str func(b []byte, s string) []byte) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return str(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		b, ok := AppendFloat(b, x)
		if !ok {
			return b, fmt.Errorf("%v has no JSON form", x)
		}
		return b, nil
	case json.Number:
		if !isNumber(string(x)) {
			return b, fmt.Errorf("invalid number %q", x)
		}
		return append(b, x...), nil
	case map[string]any:
		// Pairs, not keys, so that writing needs no map lookups.
		var small [16]pair
		pairs := small[:0]
		for k, v := range x {
			pairs = append(pairs, pair{k, v})
		}
		slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.key, b.key) })
		b = append(b, '{')
		for i, p := range pairs {
			if i > 0 {
				b = append(b, ',')
			}
			b = str(b, p.key)
			b = append(b, ':')
			var err error
			if b, err = AppendValue(b, p.val, str); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		return appendArray(b, x, str)
	case []map[string]any:
		return appendArray(b, x, str)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = str(b, s)
		}
		return append(b, ']'), nil
	}
	return b, ErrUnsupported
}

type pair struct {
	key string
	val any
}

func appendArray[T any](b []byte, items []T, str func([]byte, string) []byte) ([]byte, error) {
	b = append(b, '[')
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = AppendValue(b, item, str); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// isNumber reports whether s is a number as JSON writes them: an optional
// minus, an integer part without leading zeros, then an optional fraction
// and exponent.
func isNumber(s string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}
