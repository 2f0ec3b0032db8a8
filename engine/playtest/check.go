package playtest

import (
	"encoding/json"
	"fmt"
	"math/big"
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
// *big.Rat, so 3.5, "3.5" as a JSON number and 7/2 compare equal while an
// id above 2^53 stays exact.
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
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return number{r}
		}
		return string(x)
	case float64:
		if r := new(big.Rat).SetFloat64(x); r != nil {
			return number{r}
		}
		return x
	case float32:
		return normalize(float64(x))
	case int:
		return number{new(big.Rat).SetInt64(int64(x))}
	case int64:
		return number{new(big.Rat).SetInt64(x)}
	case int32:
		return number{new(big.Rat).SetInt64(int64(x))}
	case uint64:
		return number{new(big.Rat).SetUint64(x)}
	case number:
		return x
	default:
		return v
	}
}

// number is an exact number; it marshals as JSON's shortest form.
type number struct{ r *big.Rat }

func (n number) MarshalJSON() ([]byte, error) { return []byte(n.String()), nil }

func (n number) String() string {
	if n.r.IsInt() {
		return n.r.Num().String()
	}
	if f, exact := n.r.Float64(); exact {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return n.r.FloatString(20)
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
		case number:
			if g, ok := got.(number); !ok || g.r.Cmp(w.r) != 0 {
				out = append(out, fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got)))
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
