package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/store"
)

// runLog is the log of one run: the lines its script, plugins and actions
// log through the run's *slog.Logger. Each line goes to the run record and
// to the process log, until the run has logged maxLines lines or maxBytes
// bytes of messages and fields; from then on lines are only counted, and
// close adds one line saying how many were dropped. A log loop in a script
// or a plugin thus costs a count per line, not a write.
type runLog struct {
	base   slog.Handler // the process log, with the run's attributes
	redact *logx.Redactor

	maxLines, maxBytes int

	mu           sync.Mutex
	lines        []store.LogLine
	bytes        int
	droppedLines int
	droppedBytes int  // message bytes of the dropped lines
	closed       bool // the record is taken: lines go to the process log only
}

func newRunLog(base slog.Handler, redact *logx.Redactor, maxLines, maxBytes int) *runLog {
	return &runLog{base: base, redact: redact, maxLines: maxLines, maxBytes: maxBytes}
}

// logger returns a logger of the run whose lines the record keeps from
// level keep up, and below that only when the process log shows them.
// The script's logger keeps every level: a log.debug line is the script's
// author asking for it. The actions' logger keeps debug lines (a
// connector's every request) only when the process log shows them.
func (l *runLog) logger(keep slog.Level) *slog.Logger {
	return slog.New(&runHandler{log: l, base: l.base, keep: keep, frames: []frame{{}}})
}

// full reports whether a line of n more bytes is over the run's budget, and
// counts it as dropped, with its message of msg bytes, when it is.
func (l *runLog) full(n, msg int) bool {
	if len(l.lines) < l.maxLines && l.bytes+n <= l.maxBytes {
		return false
	}
	l.droppedLines++
	l.droppedBytes += msg
	return true
}

// close adds the line about the dropped lines, if any, and returns the
// run's log lines. The run must not log afterwards.
func (l *runLog) close(ctx context.Context) []store.LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.droppedLines > 0 {
		msg := fmt.Sprintf("log limit reached: %d more lines (%d bytes of messages) were dropped; a run keeps %d lines and %d bytes of log",
			l.droppedLines, l.droppedBytes, l.maxLines, l.maxBytes)
		now := time.Now()
		fields, _ := json.Marshal(map[string]int{"dropped_lines": l.droppedLines, "dropped_bytes": l.droppedBytes})
		l.lines = append(l.lines, store.LogLine{Time: now.UTC(), Level: slog.LevelWarn.String(), Message: msg, Fields: fields})
		rec := slog.NewRecord(now, slog.LevelWarn, msg, 0)
		rec.AddAttrs(slog.Int("dropped_lines", l.droppedLines), slog.Int("dropped_bytes", l.droppedBytes))
		if l.base.Enabled(ctx, slog.LevelWarn) {
			_ = l.base.Handle(ctx, rec)
		}
	}
	return l.lines
}

// frame is a group opened by WithGroup (the first has no name) with the
// attributes added inside it.
type frame struct {
	name  string
	attrs []slog.Attr
}

// runHandler is a handler of the run's logger. It keeps the attributes
// added with With so that the record holds them as fields of each line.
type runHandler struct {
	log    *runLog
	base   slog.Handler
	keep   slog.Level // the record keeps lines from this level up
	frames []frame
}

// Enabled reports whether the record keeps a line of level, or the process
// log shows it.
func (h *runHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.keep || h.base.Enabled(ctx, level)
}

func (h *runHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	frames := cloneFrames(h.frames)
	last := &frames[len(frames)-1]
	last.attrs = append(last.attrs, as...)
	return &runHandler{log: h.log, base: h.base.WithAttrs(as), keep: h.keep, frames: frames}
}

func (h *runHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &runHandler{log: h.log, base: h.base.WithGroup(name), keep: h.keep, frames: append(cloneFrames(h.frames), frame{name: name})}
}

func cloneFrames(fs []frame) []frame {
	out := make([]frame, len(fs))
	for i, f := range fs {
		out[i] = frame{name: f.name, attrs: f.attrs[:len(f.attrs):len(f.attrs)]}
	}
	return out
}

func (h *runHandler) Handle(ctx context.Context, rec slog.Record) error {
	l := h.log
	msg := rec.Message
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return h.forward(ctx, rec)
	}
	// A first check on the message alone (as it will be cut) drops a line
	// of a log loop before anything is formatted.
	if l.full(min(len(msg), maxLineBytes), len(msg)) {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()

	msg = cutText(l.redact.String(msg), maxLineBytes)
	fields := h.fields(rec)
	line := store.LogLine{Time: rec.Time.UTC(), Level: rec.Level.String(), Message: msg, Fields: fields}

	l.mu.Lock()
	// Counted again with the fields: another goroutine of the run (a
	// plugin call's) may have logged in between.
	if l.closed || l.full(len(msg)+len(fields), len(rec.Message)) {
		l.mu.Unlock()
		return nil
	}
	l.bytes += len(msg) + len(fields)
	l.lines = append(l.lines, line)
	l.mu.Unlock()

	if len(msg) != len(rec.Message) || msg != rec.Message {
		rec = rec.Clone()
		rec.Message = msg
	}
	return h.forward(ctx, rec)
}

// forward writes a line to the process log, when it shows that level.
func (h *runHandler) forward(ctx context.Context, rec slog.Record) error {
	if h.base.Enabled(ctx, rec.Level) {
		return h.base.Handle(ctx, rec)
	}
	return nil
}

// fields returns the line's attributes, those added with With included, as
// a redacted JSON object, or nil when it has none.
func (h *runHandler) fields(rec slog.Record) json.RawMessage {
	n := rec.NumAttrs()
	for _, f := range h.frames {
		n += len(f.attrs)
	}
	if n == 0 {
		return nil
	}
	// Fold the frames from the innermost out: the record's attributes
	// belong to the innermost group.
	inner := make([]slog.Attr, 0, rec.NumAttrs()+len(h.frames[len(h.frames)-1].attrs))
	inner = append(inner, h.frames[len(h.frames)-1].attrs...)
	rec.Attrs(func(a slog.Attr) bool { inner = append(inner, a); return true })
	for i := len(h.frames) - 1; i > 0; i-- {
		f := h.frames[i]
		inner = append(slices.Clone(h.frames[i-1].attrs), slog.GroupAttrs(f.name, inner...))
	}
	m := attrMap(inner)
	if len(m) == 0 {
		return nil
	}
	enc := getEncoder(h.log.redact)
	defer putEncoder(enc)
	parts, _ := enc.encode(m)
	return parts[0]
}

// attrMap converts attributes to the values of a JSON object: groups become
// objects, errors and other values their text or JSON form.
func attrMap(as []slog.Attr) map[string]any {
	m := make(map[string]any, len(as))
	for _, a := range as {
		v := a.Value.Resolve()
		if a.Key == "" && v.Kind() != slog.KindGroup {
			continue
		}
		switch v.Kind() {
		case slog.KindGroup:
			g := attrMap(v.Group())
			if len(g) == 0 {
				continue
			}
			if a.Key == "" { // an unnamed group is inlined
				for k, x := range g {
					m[k] = x
				}
				continue
			}
			m[a.Key] = g
		case slog.KindString:
			m[a.Key] = v.String()
		case slog.KindInt64:
			m[a.Key] = v.Int64()
		case slog.KindUint64:
			m[a.Key] = float64(v.Uint64())
		case slog.KindFloat64:
			m[a.Key] = v.Float64()
		case slog.KindBool:
			m[a.Key] = v.Bool()
		case slog.KindDuration:
			m[a.Key] = v.Duration().String()
		case slog.KindTime:
			m[a.Key] = v.Time().UTC().Format(time.RFC3339Nano)
		default:
			switch x := v.Any().(type) {
			case error:
				m[a.Key] = x.Error()
			case fmt.Stringer:
				m[a.Key] = x.String()
			default:
				m[a.Key] = x
			}
		}
	}
	return m
}
