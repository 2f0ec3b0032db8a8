package store

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/goshawk/goshawk/internal/jsonw"
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
	// The estimate covers a step's fixed text at its longest (every key, a
	// started time with nanoseconds and a zone offset, a long duration and
	// result status), so that the one allocation usually holds it all.
	n := 2
	for i := range steps {
		st := &steps[i]
		n += 224 + len(st.Asset) + len(st.Action) + 2*len(st.Message) + len(st.Params)
		if st.Result != nil {
			n += len(st.Result.Summary) + len(st.Result.Data)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i := range steps {
		if i > 0 {
			b = append(b, ',')
		}
		mark := len(b)
		var ok bool
		if b, ok = appendStepJSON(b, &steps[i]); !ok {
			// What encoding/json would refuse is not stored: a duration
			// that is not finite is written 0, a start outside years 0 to
			// 9999 (which could not be read back) is left out.
			st := steps[i]
			if math.IsNaN(st.DurationMS) || math.IsInf(st.DurationMS, 0) {
				st.DurationMS = 0
			}
			if y := st.Started.Year(); y < 0 || y > 9999 {
				st.Started = time.Time{}
			}
			b, _ = appendStepJSON(b[:mark], &st)
		}
	}
	b = append(b, ']')
	// b is not written again: the string shares its bytes, as
	// strings.Builder's String does, instead of copying them.
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendStepJSON appends st as encoding/json encodes a Step without HTML
// escaping. ok is false when encoding/json would refuse the step (a
// duration that is not finite, a start outside years 0 to 9999); what was
// appended is then to be dropped.
func appendStepJSON(b []byte, st *Step) (_ []byte, ok bool) {
	b = append(b, `{"asset":`...)
	b = jsonw.AppendString(b, st.Asset)
	b = append(b, `,"action":`...)
	b = jsonw.AppendString(b, st.Action)
	b = append(b, `,"status":`...)
	b = jsonw.AppendString(b, st.Status)
	b = append(b, `,"message":`...)
	b = jsonw.AppendString(b, st.Message)
	b = append(b, `,"duration_ms":`...)
	if b, ok = jsonw.AppendFloat(b, st.DurationMS); !ok {
		return b, false
	}
	if !st.Started.IsZero() {
		b = append(b, `,"started":`...)
		if b, ok = jsonw.AppendTime(b, st.Started); !ok {
			return b, false
		}
	}
	if len(st.Params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, st.Params...)
	}
	if r := st.Result; r != nil {
		b = append(b, `,"result":{"status":`...)
		b = jsonw.AppendString(b, r.Status)
		b = append(b, `,"message":`...)
		b = jsonw.AppendString(b, r.Message)
		b = append(b, `,"summary":`...)
		b = appendRaw(b, r.Summary)
		b = append(b, `,"data":`...)
		b = appendRaw(b, r.Data)
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
				b = jsonw.AppendString(b, o)
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
