package server

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/jsonw"
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
	b = jsonw.AppendString(b, r.Playbook)
	b = append(b, `,"version":`...)
	b = jsonw.AppendString(b, r.Version)
	b = append(b, `,"trigger":`...)
	b = jsonw.AppendString(b, r.Trigger)
	b = append(b, `,"status":`...)
	b = jsonw.AppendString(b, r.Status)
	b = append(b, `,"inputs":`...)
	if r.Inputs == nil {
		b = append(b, "null"...)
	} else if b, ok = appendAny(b, r.Inputs); !ok {
		return b, false
	}
	b = append(b, `,"result":`...)
	if b, ok = appendAny(b, r.Result); !ok {
		return b, false
	}
	b = append(b, `,"error":`...)
	b = jsonw.AppendString(b, r.Error)
	b = append(b, `,"steps":`...)
	if r.Steps == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = store.AppendStepJSON(b, &r.Steps[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"started":`...)
	if b, ok = jsonw.AppendTime(b, r.Started); !ok {
		return b, false
	}
	b = append(b, `,"finished":`...)
	if r.Finished == nil {
		b = append(b, "null"...)
	} else if b, ok = jsonw.AppendTime(b, *r.Finished); !ok {
		return b, false
	}
	if r.ContainerID != 0 {
		b = append(b, `,"container_id":`...)
		b = strconv.AppendInt(b, r.ContainerID, 10)
	}
	if r.Node != "" {
		b = append(b, `,"node":`...)
		b = jsonw.AppendString(b, r.Node)
	}
	if len(r.Log) > 0 {
		b = append(b, `,"log":[`...)
		for i := range r.Log {
			if i > 0 {
				b = append(b, ',')
			}
			l := &r.Log[i]
			b = append(b, `{"time":`...)
			if b, ok = jsonw.AppendTime(b, l.Time); !ok {
				return b, false
			}
			b = append(b, `,"level":`...)
			b = jsonw.AppendString(b, l.Level)
			b = append(b, `,"message":`...)
			b = jsonw.AppendString(b, l.Message)
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

// appendAny writes the values a decoded body or a script's result holds;
// anything else, or a value JSON cannot hold, is encoding/json's to write
// (or refuse).
func appendAny(b []byte, v any) ([]byte, bool) {
	b, err := jsonw.AppendValue(b, v, jsonw.AppendString)
	return b, err == nil
}
