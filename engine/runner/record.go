package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/jsonw"
)

// Defaults of the run record's limits (Options.LogLines, LogBytes,
// StepBytes and ErrorBytes).
const (
	// DefaultLogLines is how many log lines a run keeps and writes.
	DefaultLogLines = 1000
	// DefaultLogBytes bounds the bytes of messages and fields a run logs.
	DefaultLogBytes = 256 << 10
	// DefaultStepBytes bounds one step's parameters and result in the
	// record.
	DefaultStepBytes = 64 << 10
	// DefaultErrorBytes bounds a run's error text and a step's message.
	DefaultErrorBytes = 8 << 10
)

// maxLineBytes bounds one log line's message; a longer one is cut, marked.
const maxLineBytes = 16 << 10

// minStepBytes is the smallest per-step cap: status, a cut message and the
// truncation note must still fit.
const minStepBytes = 1 << 10

// cutText returns s cut to at most limit bytes (at a UTF-8 boundary) with
// a marker saying how much was cut, or s when it fits. The marker counts
// toward the limit.
func cutText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	marker := func(n int) string { return fmt.Sprintf(" … [cut: %d more bytes]", n) }
	keep := max(0, limit-len(marker(len(s))))
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker(len(s)-keep)
}

// stepRecord turns an action call into its record: every string redacted,
// the message cut at the error limit, and the parameters and result kept
// whole while they fit the per-step cap. Over the cap, the message, the
// parameters, the summary and the data items are kept in that order while
// they fit, and Truncated lists what was left out.
func (r *Runner) stepRecord(s lua.Step) store.Step {
	st := store.Step{
		Asset: s.Asset, Action: s.Action, Status: s.Status,
		Message:    cutText(r.o.Redact.String(s.Message), r.o.ErrorBytes),
		DurationMS: float64(s.Duration.Microseconds()) / 1000,
	}
	if !s.Started.IsZero() {
		st.Started = s.Started.UTC()
	}
	enc := getEncoder(r.o.Redact)
	defer putEncoder(enc)
	var summary, data []byte
	var items []int // end offsets of the data items within data
	var parts [][]byte
	if s.Result != nil {
		parts, items = enc.encode(s.Params, s.Result.Summary, s.Result.Data)
		summary, data = parts[1], parts[2]
	} else {
		parts, _ = enc.encode(s.Params)
	}
	params := parts[0]
	limit := r.o.StepBytes
	total := len(st.Message) + len(params) + len(summary) + len(data)
	if total > limit {
		tr := &store.Truncation{Bytes: total, Limit: limit, Omitted: []string{}}
		if len(st.Message) > limit/2 {
			st.Message = cutText(st.Message, limit/2)
			tr.Omitted = append(tr.Omitted, "message")
		}
		room := limit - len(st.Message)
		keep := func(name string, b []byte) []byte {
			if len(b) <= room {
				room -= len(b)
				return b
			}
			tr.Omitted = append(tr.Omitted, name)
			return nil
		}
		params = keep("params", params)
		if s.Result != nil {
			summary = keep("summary", summary)
			if len(data) > room {
				// data is "[item,item,...]": n items take items[n-1]+1 bytes.
				n := 0
				for n < len(items) && items[n]+1 <= room {
					n++
				}
				tr.Omitted = append(tr.Omitted, fmt.Sprintf("data[%d:]", n))
				if n == 0 {
					data = []byte("[]")
				} else {
					data = append(slices.Clip(data[:items[n-1]]), ']')
				}
			}
		}
		st.Truncated = tr
	}
	st.Params = params
	if s.Result != nil {
		st.Result = &store.StepResult{Status: st.Status, Message: st.Message, Summary: summary, Data: data}
	}
	return st
}

// recordEncoder writes the values of action calls and log fields as
// compact JSON with every string redacted and object keys sorted, straight
// from the values that Lua conversion and the connectors produce. Other
// types go through encoding/json first.
//
// Redacting string by string is what a record needs, but the redactor
// costs an allocation and a scan per call, for hundreds of strings a step.
// So encode writes plain strings as they are, redacting only those that
// JSON escapes (a secret may hide behind an escape there), and then asks
// the redactor about the whole text once: only when it finds a secret are
// the values written again, every string redacted. Redacting the text
// itself would be wrong: a secret can match across JSON syntax, or inside
// a number, and leave a broken document.
type recordEncoder struct {
	redact *logx.Redactor
	buf    bytes.Buffer
	str    func([]byte, string) []byte // appendText, for jsonw.AppendValue
	full   bool                        // redact every string, not only escaped ones
	found  bool                        // a string redacted on the way had a secret
	items  []int                       // end offsets of the items of the last list value
}

// encode returns each value as JSON (a value that has no JSON form becomes
// a JSON string saying why), and for the last value, when it is a []any,
// the end offset of each of its items.
func (e *recordEncoder) encode(vals ...any) ([][]byte, []int) {
	ends := make([]int, len(vals))
	for _, full := range []bool{false, true} {
		e.full = full
		e.buf.Reset()
		for i, v := range vals {
			start := e.buf.Len()
			e.items = e.items[:0]
			if list, ok := v.([]any); ok && i == len(vals)-1 {
				e.list(list, start)
			} else if err := e.value(v); err != nil {
				e.buf.Truncate(start)
				e.string("(not recordable: " + err.Error() + ")")
			}
			ends[i] = e.buf.Len()
		}
		if !full && e.hasSecret() {
			continue // a secret: write again, every string redacted
		}
		break
	}
	all := bytes.Clone(e.buf.Bytes())
	out := make([][]byte, len(vals))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end:end]
		start = end
	}
	return out, e.items
}

// hasSecret reports whether the redactor finds a secret in the text
// written so far. The text is lent to the redactor without a copy: the
// redactor returns it or a new string, and neither outlives this call.
func (e *recordEncoder) hasSecret() bool {
	b := e.buf.Bytes()
	if len(b) == 0 {
		return false
	}
	txt := unsafe.String(&b[0], len(b))
	return e.redact.String(txt) != txt
}

// list writes a list, recording where each item ends relative to base;
// an item with no JSON form becomes a string saying why.
func (e *recordEncoder) list(list []any, base int) {
	e.buf.WriteByte('[')
	for i, item := range list {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		mark := e.buf.Len()
		if err := e.value(item); err != nil {
			e.buf.Truncate(mark)
			e.string("(not recordable: " + err.Error() + ")")
		}
		e.items = append(e.items, e.buf.Len()-base)
	}
	e.buf.WriteByte(']')
}

// appendText appends a string of the values, redacted when the mode asks
// for it.
func (e *recordEncoder) appendText(b []byte, s string) []byte {
	if !e.full && jsonw.Plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	red := e.redact.String(s)
	if red != s {
		e.found = true
	}
	return jsonw.AppendString(b, red)
}

// encoders are reused: a step's encoding would otherwise grow a fresh
// buffer to the size of its data every time.
var encoders = sync.Pool{New: func() any { return new(recordEncoder) }}

func getEncoder(redact *logx.Redactor) *recordEncoder {
	e := encoders.Get().(*recordEncoder)
	e.redact = redact
	return e
}

// putEncoder returns e to the pool, unless one large value grew its buffer
// beyond what is worth keeping.
func putEncoder(e *recordEncoder) {
	if e.buf.Cap() > 256<<10 {
		return
	}
	e.redact, e.items, e.full, e.found = nil, e.items[:0], false, false
	e.buf.Reset()
	encoders.Put(e)
}

func (e *recordEncoder) value(v any) error {
	if e.str == nil {
		e.str = e.appendText // bound once: a method value allocates
	}
	b, err := jsonw.AppendValue(e.buf.AvailableBuffer(), v, e.str)
	if errors.Is(err, jsonw.ErrUnsupported) {
		// Anything else (structs, typed maps) takes the general road: its
		// JSON is decoded and written again, so its strings are redacted
		// one by one too.
		var raw []byte
		if raw, err = json.Marshal(v); err != nil {
			return err
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var generic any
		if err := d.Decode(&generic); err != nil {
			return err
		}
		b, err = jsonw.AppendValue(e.buf.AvailableBuffer(), generic, e.str)
	}
	if err != nil {
		return err
	}
	e.buf.Write(b)
	return nil
}

// string writes s as a JSON string as encoding/json does without HTML
// escaping: <, > and & are left as they are.
func (e *recordEncoder) string(s string) {
	// Room for s unescaped, so that the append is made in the buffer
	// rather than in a new array that Write would then copy.
	e.buf.Grow(len(s) + 2)
	e.buf.Write(jsonw.AppendString(e.buf.AvailableBuffer(), s))
}
