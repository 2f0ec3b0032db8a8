package playtest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/goshawk/goshawk/engine/store"
)

// maxDiffLines bounds the differences one expectation reports.
const maxDiffLines = 20

// check compares a case's run with its expectation.
func check(file string, c *Case, rec *store.Run) []Failure {
	var out []Failure
	fail := func(line int, format string, args ...any) {
		out = append(out, Failure{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	e := &c.Expect
	if e.Status != "" && e.Status != rec.Status {
		msg := fmt.Sprintf("status: want %s, got %s", e.Status, rec.Status)
		if rec.Error != "" {
			msg += " (error: " + rec.Error + ")"
		}
		fail(e.StatusLine, "%s", msg)
	}
	if e.Error != "" && !strings.Contains(rec.Error, e.Error) {
		if rec.Error == "" {
			fail(e.ErrorLine, "error: want one containing %q, got none (status %s)", e.Error, rec.Status)
		} else {
			fail(e.ErrorLine, "error: want one containing %q, got %q", e.Error, rec.Error)
		}
	}
	if e.HasSteps {
		got := make([]string, len(rec.Steps))
		for i, s := range rec.Steps {
			got[i] = s.Asset + "." + s.Action
		}
		if strings.Join(got, ",") != strings.Join(e.Steps, ",") {
			fail(e.StepsLine, "steps:\n    want %s\n    got  %s", stepList(e.Steps), stepList(got))
		}
	}
	result := normalize(rec.Result)
	if e.HasResult {
		if d := diff("result", normalize(e.Result), result); len(d) > 0 {
			fail(e.ResultLine, "result differs:\n%s", indentDiff(d))
		}
	}
	for _, p := range e.Paths {
		got, ok := lookup(result, p.Path)
		if !ok {
			fail(p.Line, "result.%s: want %s, got nothing at that path (result: %s)", p.Path, show(normalize(p.Value)), show(result))
			continue
		}
		if d := diff("result."+p.Path, normalize(p.Value), got); len(d) > 0 {
			fail(p.Line, "%s", strings.Join(d, "\n    "))
		}
	}
	return out
}

func stepList(s []string) string {
	if len(s) == 0 {
		return "(no calls)"
	}
	return strings.Join(s, " → ")
}

func indentDiff(lines []string) string {
	return "    " + strings.Join(lines, "\n    ")
}

// normalize turns a decoded value (from YAML, JSON or Lua) into one form:
// maps with string keys, slices, strings, bools, nil, and numbers as
// float64, except integers beyond 2^53, which stay exact int64 (a Lua
// number cannot hold them, so they reach scripts as strings anyway). So 3.5
// from YAML equals 3.5 computed in Lua, and 7 equals 7.0.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return intValue(i)
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return string(x)
	case float32:
		return float64(x)
	case int:
		return intValue(int64(x))
	case int64:
		return intValue(x)
	case int32:
		return intValue(int64(x))
	case uint64:
		if x <= 1<<53 {
			return float64(x)
		}
		return x
	default:
		return v
	}
}

func intValue(i int64) any {
	if i >= -(1<<53) && i <= 1<<53 {
		return float64(i)
	}
	return i
}

// plain turns the json.Numbers of a decoded JSON value into int64 or
// float64, so YAML writes them as numbers rather than quoted strings.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
		return x
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return plain(f)
		}
		return string(x)
	case float64:
		// A whole number is written as one (7, not 7.0 or 7e+00).
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
	}
	return v
}

// diff lists the differences between want and got under path, at most
// maxDiffLines of them.
func diff(path string, want, got any) []string {
	var out []string
	var walk func(path string, want, got any)
	walk = func(path string, want, got any) {
		if len(out) >= maxDiffLines {
			return
		}
		switch w := want.(type) {
		case map[string]any:
			g, ok := got.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got)))
				return
			}
			for _, k := range unionKeys(w, g) {
				wv, inW := w[k]
				gv, inG := g[k]
				switch {
				case !inG:
					out = append(out, fmt.Sprintf("%s.%s: want %s, got nothing", path, k, show(wv)))
				case !inW:
					out = append(out, fmt.Sprintf("%s.%s: want nothing, got %s", path, k, show(gv)))
				default:
					walk(path+"."+k, wv, gv)
				}
				if len(out) >= maxDiffLines {
					return
				}
			}
		case []any:
			g, ok := got.([]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got)))
				return
			}
			n := max(len(w), len(g))
			for i := 0; i < n; i++ {
				p := fmt.Sprintf("%s.%d", path, i+1) // Lua's indexes
				switch {
				case i >= len(g):
					out = append(out, fmt.Sprintf("%s: want %s, got nothing (%d elements, want %d)", p, show(w[i]), len(g), len(w)))
				case i >= len(w):
					out = append(out, fmt.Sprintf("%s: want nothing, got %s (%d elements, want %d)", p, show(g[i]), len(g), len(w)))
				default:
					walk(p, w[i], g[i])
				}
				if len(out) >= maxDiffLines {
					return
				}
			}
		default:
			if fmt.Sprintf("%T:%v", want, want) != fmt.Sprintf("%T:%v", got, got) {
				out = append(out, fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got)))
			}
		}
	}
	walk(path, want, got)
	// An empty table is both an empty object and an empty list in Lua.
	if len(out) == 1 && isEmpty(want) && isEmpty(got) {
		return nil
	}
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func unionKeys(a, b map[string]any) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var keys []string
	for k := range a {
		seen[k] = true
		keys = append(keys, k)
	}
	for k := range b {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// show renders a normalized value as compact JSON, cut at 200 characters.
func show(v any) string {
	if v == nil {
		return "nil"
	}
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// lookup finds a dotted path (a.b.1.c, with 1-based list indexes as in
// Lua) in a normalized value.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[part]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 1 || i > len(x) {
				return nil, false
			}
			v = x[i-1]
		default:
			return nil, false
		}
	}
	return v, true
}
