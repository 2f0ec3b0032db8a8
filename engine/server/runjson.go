package server

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/goshawk/goshawk/engine/store"
)

// writeRun answers a run record as writeJSON would, byte for byte, but
// written by hand into a pooled buffer and sent with its Content-Length.
// encoding/json re-validates every json.RawMessage of the record (a step's
// parameters and result, a log line's fields: most of its bytes), and the
// runner wrote those itself, so they are copied as they are (the
// store.Step and store.LogLine contracts: compact JSON). A value the
// encoder does not know, or one JSON cannot hold (a NaN result), takes
// writeJSON's path, with its errors.
func writeRun(w http.ResponseWriter, status int, rec *store.Run) {
	bp := runBufs.Get().(*[]byte)
	b, ok := appendRun((*bp)[:0], rec)
	if !ok {
		runBufs.Put(bp)
		writeJSON(w, status, rec)
		return
	}
	b = append(b, '\n') // as json.Encoder ends a value
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	if cap(b) <= 1<<20 { // a huge record's buffer is left to the GC
		*bp = b
		runBufs.Put(bp)
	}
}

var runBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// appendRun appends rec as encoding/json encodes a store.Run without HTML
// escaping; ok is false when a value needs encoding/json itself.
func appendRun(b []byte, r *store.Run) (_ []byte, ok bool) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"playbook":`...)
	b = appendString(b, r.Playbook)
	b = append(b, `,"version":`...)
	b = appendString(b, r.Version)
	b = append(b, `,"trigger":`...)
	b = appendString(b, r.Trigger)
	b = append(b, `,"status":`...)
	b = appendString(b, r.Status)
	b = append(b, `,"inputs":`...)
	if r.Inputs == nil {
		b = append(b, "null"...)
	} else if b, ok = appendMap(b, r.Inputs); !ok {
		return b, false
	}
	b = append(b, `,"result":`...)
	if b, ok = appendAny(b, r.Result); !ok {
		return b, false
	}
	b = append(b, `,"error":`...)
	b = appendString(b, r.Error)
	b = append(b, `,"steps":`...)
	if r.Steps == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendStep(b, &r.Steps[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"started":`...)
	if b, ok = appendTime(b, r.Started); !ok {
		return b, false
	}
	b = append(b, `,"finished":`...)
	if r.Finished == nil {
		b = append(b, "null"...)
	} else if b, ok = appendTime(b, *r.Finished); !ok {
		return b, false
	}
	if r.ContainerID != 0 {
		b = append(b, `,"container_id":`...)
		b = strconv.AppendInt(b, r.ContainerID, 10)
	}
	if r.Node != "" {
		b = append(b, `,"node":`...)
		b = appendString(b, r.Node)
	}
	if len(r.Log) > 0 {
		b = append(b, `,"log":[`...)
		for i := range r.Log {
			if i > 0 {
				b = append(b, ',')
			}
			l := &r.Log[i]
			b = append(b, `{"time":`...)
			if b, ok = appendTime(b, l.Time); !ok {
				return b, false
			}
			b = append(b, `,"level":`...)
			b = appendString(b, l.Level)
			b = append(b, `,"message":`...)
			b = appendString(b, l.Message)
			if len(l.Fields) > 0 {
				b = append(b, `,"fields":`...)
				b = append(b, l.Fields...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

func appendStep(b []byte, st *store.Step) (_ []byte, ok bool) {
	b = append(b, `{"asset":`...)
	b = appendString(b, st.Asset)
	b = append(b, `,"action":`...)
	b = appendString(b, st.Action)
	b = append(b, `,"status":`...)
	b = appendString(b, st.Status)
	b = append(b, `,"message":`...)
	b = appendString(b, st.Message)
	b = append(b, `,"duration_ms":`...)
	if b, ok = appendFloat(b, st.DurationMS); !ok {
		return b, false
	}
	if !st.Started.IsZero() {
		b = append(b, `,"started":`...)
		if b, ok = appendTime(b, st.Started); !ok {
			return b, false
		}
	}
	if len(st.Params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, st.Params...)
	}
	if res := st.Result; res != nil {
		b = append(b, `,"result":{"status":`...)
		b = appendString(b, res.Status)
		b = append(b, `,"message":`...)
		b = appendString(b, res.Message)
		b = append(b, `,"summary":`...)
		b = appendRaw(b, res.Summary)
		b = append(b, `,"data":`...)
		b = appendRaw(b, res.Data)
		b = append(b, '}')
	}
	if t := st.Truncated; t != nil {
		b = append(b, `,"truncated":{"bytes":`...)
		b = strconv.AppendInt(b, int64(t.Bytes), 10)
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, int64(t.Limit), 10)
		b = append(b, `,"omitted":`...)
		if t.Omitted == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, o := range t.Omitted {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, o)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendTime writes t as time.Time's MarshalJSON does; years it refuses
// are left to encoding/json.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendAny writes the values a decoded body or a script's result holds.
func appendAny(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case map[string]any:
		return appendMap(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendAny(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case json.Number:
		// encoding/json checks the literal; a bad one fails the same way.
		nb, err := json.Marshal(x)
		if err != nil {
			return b, false
		}
		return append(b, nb...), true
	default:
		// Anything rarer takes encoding/json's path.
		return b, false
	}
}

// appendMap writes m with its keys sorted, as encoding/json does.
func appendMap(b []byte, m map[string]any) ([]byte, bool) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendAny(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendFloat writes x as encoding/json writes a float64; NaN and the
// infinities, which JSON has no form for, are refused.
func appendFloat(b []byte, x float64) ([]byte, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, false
	}
	abs := math.Abs(x)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, x, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does without
// HTML escaping: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
