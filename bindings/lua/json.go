package lua

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/goshawk/goshawk/internal/jsonw"
)

// errTooLarge is wrapped by every conversion that would exceed the string limit.
var errTooLarge = errors.New("exceeds the string size limit")

// decodeJSON decodes one JSON document, keeping numbers as json.Number so
// that ToLua can convert them exactly.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// encodeJSON writes v, a value produced by FromLua, as compact JSON with
// object keys sorted. It fails once the output would pass limit bytes.
// encodeLuaJSON writes a Lua value the same way without converting it
// first.
//
// Integral floats beyond 2^53 are written in exponent form ("1e+20"), so that
// decoding the output gives a number again rather than an integer literal
// that no Lua number holds exactly (which json.decode turns into a string).
func encodeJSON(v any, limit int) ([]byte, error) {
	e := jsonEncoder{limit: limit}
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type jsonEncoder struct {
	buf   []byte
	limit int
}

func (e *jsonEncoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case float64:
		var err error
		if e.buf, err = appendJSONFloat(e.buf, x); err != nil {
			return err
		}
	case string:
		e.buf = jsonw.AppendString(e.buf, x)
	case []any:
		e.buf = append(e.buf, '[')
		for i, item := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(item); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = jsonw.AppendString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return fmt.Errorf("cannot encode a Go %T", v)
	}
	if len(e.buf) > e.limit {
		return fmt.Errorf("json.encode: output %w of %d bytes", errTooLarge, e.limit)
	}
	return nil
}

// appendJSONFloat writes a number that is not an integer of magnitude at
// most 2^53 (those are written as integers).
func appendJSONFloat(b []byte, x float64) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, fmt.Errorf("cannot encode %v: JSON has no NaN or infinity", x)
	}
	format := byte('g')
	if x == math.Trunc(x) && math.Abs(x) <= maxExactInt {
		format = 'f'
	} else if x == math.Trunc(x) {
		format = 'e'
	}
	return strconv.AppendFloat(b, x, format, -1, 64), nil
}
