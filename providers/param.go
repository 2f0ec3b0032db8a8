package providers

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/internal/hint"
)

// Type is the declared type of a parameter or config variable.
type Type string

// The parameter types. Integer and Duration refine SOAR's "numeric" for
// values that must be whole numbers or time spans.
const (
	String   Type = "string"
	Number   Type = "number"
	Integer  Type = "integer"
	Bool     Type = "bool"
	Object   Type = "object"
	Array    Type = "array"
	Duration Type = "duration"
)

// TypeInfo is everything goshawk knows about one parameter type. The table
// of them, types, is the only place the types are listed: Register, Coerce,
// the playbook decoder (input types) and the Lua stub generator all read it.
type TypeInfo struct {
	Type Type
	// Want completes "must be ..." when a value has the wrong type.
	Want string
	// Lua is the type's Lua language-server annotation, for editor stubs.
	Lua string
	// coerce converts a value to the type's Go type, or reports false.
	coerce func(v any) (any, bool)
}

var types = []TypeInfo{
	{String, "a string", "string", coerceString},
	{Number, "a number", "number", coerceNumber},
	{Integer, "an integer", "number", coerceInteger},
	{Bool, "true or false", "boolean", coerceBool},
	{Object, "an object (a table with named keys, or JSON like {\"k\":1})", "table<string, any>", coerceObject},
	{Array, "an array (a list, or JSON like [1,2])", "any[]", coerceArray},
	{Duration, "a duration such as 30s or 15m", "string", coerceDuration},
}

// Types returns the parameter types in their documented order.
func Types() []TypeInfo { return append([]TypeInfo(nil), types...) }

// TypeNames returns the names of the parameter types, in documented order.
func TypeNames() []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t.Type)
	}
	return names
}

// Info returns what the table says about t, and false for an unknown type.
func (t Type) Info() (TypeInfo, bool) {
	for _, ti := range types {
		if ti.Type == t {
			return ti, true
		}
	}
	return TypeInfo{}, false
}

// Known reports whether t is one of the parameter types.
func (t Type) Known() bool { _, ok := t.Info(); return ok }

// LuaType returns the Lua language-server annotation of t ("any" for an
// unknown type).
func (t Type) LuaType() string {
	if ti, ok := t.Info(); ok {
		return ti.Lua
	}
	return "any"
}

// Param declares one action parameter or one asset config variable.
type Param struct {
	Name     string
	Type     Type
	Required bool
	// Default is applied when the parameter is absent. It must already have
	// the Go type that Coerce produces for Type.
	Default any
	Doc     string
	// Contains lists the SOAR contains types (ip, ipv6, md5, sha1, sha256,
	// hash, email, domain, url). A string value must match at least one.
	Contains []string
	// Secret marks a config variable that must never be printed.
	Secret bool
	// Min and Max bound a number or integer, inclusive.
	Min, Max *float64
	// Enum lists the allowed string values, compared case-insensitively.
	Enum []string
	// Check, when set, validates the coerced value and replaces the
	// Contains check. Its error text is shown to the user as is.
	Check func(v any) error
}

// Bound returns a pointer to f, for Param.Min and Param.Max.
func Bound(f float64) *float64 { return &f }

// ParamError reports a parameter that was rejected before any request.
type ParamError struct {
	Param string
	Msg   string
	// Usage is true when the call itself is malformed: an unknown name, a
	// value of the wrong type or a missing required parameter. The CLI exits
	// 2 and Lua raises. Otherwise the value is well-formed but invalid, and
	// the action returns a failed result with Msg as its message.
	Usage bool
}

func (e *ParamError) Error() string { return e.Msg }

func usageErr(name, format string, args ...any) *ParamError {
	return &ParamError{Param: name, Msg: fmt.Sprintf(format, args...), Usage: true}
}

func valueErr(name, format string, args ...any) *ParamError {
	return &ParamError{Param: name, Msg: fmt.Sprintf(format, args...)}
}

// Bind checks raw against params and returns the typed values with defaults
// applied. The error is a *ParamError.
func Bind(params []Param, raw map[string]any) (Values, error) {
	out := make(Values, len(params))
	for name := range raw {
		if findParam(params, name) < 0 {
			return nil, unknownParam(params, name)
		}
	}
	for i := range params {
		p := &params[i]
		v, ok := raw[p.Name]
		if !ok || v == nil {
			if p.Required {
				return nil, usageErr(p.Name, "parameter %q is required", p.Name)
			}
			if p.Default != nil {
				out[p.Name] = p.Default
			}
			continue
		}
		cv, err := p.Coerce(v)
		if err != nil {
			return nil, err
		}
		if err := p.CheckValue(cv); err != nil {
			return nil, err
		}
		out[p.Name] = cv
	}
	return out, nil
}

func findParam(params []Param, name string) int {
	for i := range params {
		if params[i].Name == name {
			return i
		}
	}
	return -1
}

func unknownParam(params []Param, name string) *ParamError {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	msg := fmt.Sprintf("unknown parameter %q", name)
	if len(names) > 0 {
		msg += hint.OrSorted(name, names, "valid parameters:")
	} else {
		msg += "; this action takes no parameters"
	}
	return usageErr(name, "%s", msg)
}

// Coerce converts v to the Go type of p.Type: string, float64, int64, bool,
// map[string]any, []any or time.Duration. Strings convert to every type, as
// the CLI passes name=value pairs; numbers convert to strings.
func (p *Param) Coerce(v any) (any, error) {
	if n, ok := v.(json.Number); ok {
		v = string(n)
		if p.Type != String {
			if f, err := n.Float64(); err == nil {
				v = f
			}
		}
	}
	if ti, ok := p.Type.Info(); ok {
		if cv, ok := ti.coerce(v); ok {
			return cv, nil
		}
	}
	return nil, p.typeErr(v)
}

func coerceString(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	}
	return nil, false
}

func coerceNumber(v any) (any, bool) {
	f, ok := toFloat(v)
	if !ok {
		return nil, false
	}
	return f, true
}

func coerceInteger(v any) (any, bool) {
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return nil, false
	}
	return int64(f), true
}

func coerceBool(v any) (any, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "y", "1", "on":
			return true, true
		case "false", "no", "n", "0", "off":
			return false, true
		}
	}
	return nil, false
}

func coerceObject(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case []any:
		if len(x) == 0 { // an empty Lua table is both
			return map[string]any{}, true
		}
	case string:
		var m map[string]any
		if err := decodeJSON(x, &m); err == nil && m != nil {
			return m, true
		}
	}
	return nil, false
}

func coerceArray(v any) (any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		if len(x) == 0 {
			return []any{}, true
		}
	case string:
		var a []any
		if err := decodeJSON(x, &a); err == nil && a != nil {
			return a, true
		}
	}
	return nil, false
}

func coerceDuration(v any) (any, bool) {
	switch x := v.(type) {
	case time.Duration:
		return x, true
	case string:
		if d, err := time.ParseDuration(strings.TrimSpace(x)); err == nil {
			return d, true
		}
	}
	return nil, false
}

func (p *Param) typeErr(v any) *ParamError {
	ti, _ := p.Type.Info()
	return usageErr(p.Name, "parameter %q must be %s, got %s", p.Name, ti.Want, describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprintf("%T", v)
	}
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func decodeJSON(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return d.Decode(v)
}

// CheckValue validates a coerced value against the range, enum, contains
// types and Check function of p. Its error is a *ParamError that is not a
// usage error.
func (p *Param) CheckValue(v any) error {
	if p.Min != nil || p.Max != nil {
		f, _ := toFloat(v)
		if (p.Min != nil && f < *p.Min) || (p.Max != nil && f > *p.Max) {
			return valueErr(p.Name, "Parameter '%s' must be %s", p.Name, p.rangeText())
		}
	}
	if len(p.Enum) > 0 {
		s, _ := v.(string)
		ok := false
		for _, e := range p.Enum {
			if strings.EqualFold(e, s) {
				ok = true
				break
			}
		}
		if !ok {
			return valueErr(p.Name, "Parameter '%s' must be one of %s", p.Name, strings.Join(p.Enum, ", "))
		}
	}
	if p.Check != nil {
		if err := p.Check(v); err != nil {
			return valueErr(p.Name, "%s", err.Error())
		}
		return nil
	}
	if s, ok := v.(string); ok && len(p.Contains) > 0 && !MatchesAny(p.Contains, s) {
		return valueErr(p.Name, "Parameter '%s' failed validation", p.Name)
	}
	return nil
}

func (p *Param) rangeText() string {
	num := func(f *float64) string { return strconv.FormatFloat(*f, 'f', -1, 64) }
	kind := ""
	if p.Type == Integer {
		kind = "an integer "
	}
	switch {
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf("%sbetween %s and %s", kind, num(p.Min), num(p.Max))
	case p.Min != nil:
		if p.Type == Integer && *p.Min == 1 {
			return "a positive integer"
		}
		return fmt.Sprintf("%sat least %s", kind, num(p.Min))
	default:
		return fmt.Sprintf("%sat most %s", kind, num(p.Max))
	}
}

// Values holds validated, typed parameter or config values.
type Values map[string]any

// Has reports whether name has a value, given or defaulted.
func (v Values) Has(name string) bool { _, ok := v[name]; return ok }

// String returns the string value of name, or "".
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Int returns the integer value of name, or 0.
func (v Values) Int(name string) int64 {
	switch x := v[name].(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

// Float returns the numeric value of name, or 0.
func (v Values) Float(name string) float64 { f, _ := toFloat(v[name]); return f }

// Bool returns the boolean value of name, or false.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// Duration returns the duration value of name, or 0.
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }

// Object returns the object value of name, or nil.
func (v Values) Object(name string) map[string]any { m, _ := v[name].(map[string]any); return m }

// Array returns the array value of name, or nil.
func (v Values) Array(name string) []any { a, _ := v[name].([]any); return a }
