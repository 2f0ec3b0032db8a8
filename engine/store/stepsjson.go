package store

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// encodeSteps returns the JSON array of steps exactly as encoding/json
// writes it without HTML escaping, or NULL for no steps. It is written by
// hand because encoding/json re-validates every json.RawMessage, and a
// step's data is most of a run record's bytes: the parameters and results
// are JSON already (the Step contract) and are copied as they are.
func encodeSteps(steps []Step) any {
	if len(steps) == 0 {
		return nil
	}
	n := 2
	for i := range steps {
		st := &steps[i]
		n += 160 + len(st.Asset) + len(st.Action) + 2*len(st.Message) + len(st.Params)
		if st.Result != nil {
			n += len(st.Result.Summary) + len(st.Result.Data)
		}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i := range steps {
		if i > 0 {
			b.WriteByte(',')
		}
		writeStep(&b, &steps[i])
	}
	b.WriteByte(']')
	return b.String()
}

func writeStep(b *strings.Builder, st *Step) {
	b.WriteString(`{"asset":`)
	writeString(b, st.Asset)
	b.WriteString(`,"action":`)
	writeString(b, st.Action)
	b.WriteString(`,"status":`)
	writeString(b, st.Status)
	b.WriteString(`,"message":`)
	writeString(b, st.Message)
	b.WriteString(`,"duration_ms":`)
	writeFloat(b, st.DurationMS)
	if !st.Started.IsZero() {
		b.WriteString(`,"started":"`)
		b.WriteString(st.Started.Format(time.RFC3339Nano))
		b.WriteByte('"')
	}
	if len(st.Params) > 0 {
		b.WriteString(`,"params":`)
		b.Write(st.Params)
	}
	if r := st.Result; r != nil {
		b.WriteString(`,"result":{"status":`)
		writeString(b, r.Status)
		b.WriteString(`,"message":`)
		writeString(b, r.Message)
		b.WriteString(`,"summary":`)
		writeRaw(b, r.Summary)
		b.WriteString(`,"data":`)
		writeRaw(b, r.Data)
		b.WriteByte('}')
	}
	if t := st.Truncated; t != nil {
		b.WriteString(`,"truncated":{"bytes":`)
		b.WriteString(strconv.Itoa(t.Bytes))
		b.WriteString(`,"limit":`)
		b.WriteString(strconv.Itoa(t.Limit))
		b.WriteString(`,"omitted":`)
		if t.Omitted == nil {
			b.WriteString("null")
		} else {
			b.WriteByte('[')
			for i, o := range t.Omitted {
				if i > 0 {
					b.WriteByte(',')
				}
				writeString(b, o)
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
}

func writeRaw(b *strings.Builder, raw json.RawMessage) {
	if len(raw) == 0 {
		b.WriteString("null")
		return
	}
	b.Write(raw)
}

// writeFloat writes x as encoding/json does (x is finite: a duration).
func writeFloat(b *strings.Builder, x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	abs := math.Abs(x)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	s := strconv.FormatFloat(x, format, -1, 64)
	if format == 'e' {
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	b.WriteString(s)
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string as encoding/json does without HTML
// escaping: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
