package threatq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// maxDetail bounds how much of an unparsed error body reaches a message.
const maxDetail = 1024

// serverDetails extracts the reason from a non-2xx body: the field map of data.errors as "field: msg1, msg2" with fields
// sorted, a flattened errors list, or message; otherwise the raw body, cut
// at 1 KiB. Parts are joined with "; ".
func serverDetails(body []byte) string {
	raw := strings.TrimSpace(string(body))
	if raw == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return truncate(raw, maxDetail)
	}
	var parts []string
	switch x := v.(type) {
	case map[string]any:
		if data, ok := x["data"].(map[string]any); ok {
			parts = append(parts, errorParts(data["errors"])...)
		}
		parts = append(parts, errorParts(x["errors"])...)
		if len(parts) == 0 {
			for _, k := range []string{"message", "error_description", "error"} {
				if s, ok := x[k].(string); ok && strings.TrimSpace(s) != "" {
					parts = append(parts, strings.TrimSpace(s))
					break
				}
			}
		}
	case []any:
		parts = flatten(x, nil)
	}
	if len(parts) == 0 {
		return truncate(raw, maxDetail)
	}
	return truncate(strings.Join(parts, "; "), maxDetail)
}

// errorParts renders an errors value: a map of field to messages, or a
// list of messages that may nest.
func errorParts(v any) []string {
	switch x := v.(type) {
	case map[string]any:
		fields := make([]string, 0, len(x))
		for k := range x {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		parts := make([]string, 0, len(fields))
		for _, f := range fields {
			parts = append(parts, f+": "+strings.Join(flatten(x[f], nil), ", "))
		}
		return parts
	case []any:
		return flatten(x, nil)
	case string:
		if x != "" {
			return []string{x}
		}
	}
	return nil
}

// flatten appends the messages of v, descending into nested lists.
func flatten(v any, out []string) []string {
	switch x := v.(type) {
	case nil:
	case string:
		if s := strings.TrimSpace(x); s != "" {
			out = append(out, s)
		}
	case []any:
		for _, e := range x {
			out = flatten(e, out)
		}
	case float64:
		out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		out = append(out, strconv.FormatBool(x))
	default:
		b, _ := json.Marshal(x)
		out = append(out, string(b))
	}
	return out
}

// itemErrors lists the items of a 2xx create response that carry an
// error, as "item <i> (<value>): <error>".
func itemErrors(jsonBody any) []string {
	m, _ := jsonBody.(map[string]any)
	items, _ := m["data"].([]any)
	var out []string
	for i, it := range items {
		obj, _ := it.(map[string]any)
		e, ok := obj["error"]
		if !ok || e == nil || e == "" {
			continue
		}
		msg := strings.Join(flatten(e, nil), ", ")
		out = append(out, fmt.Sprintf("item %d (%s): %s", i, scalarText(obj["value"]), msg))
	}
	return out
}

// scalarText renders a JSON scalar for a message.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "no value"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// decodeBody decodes a JSON body for json_body: nil when empty, the raw
// text when it is not JSON.
func decodeBody(body []byte) any {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	return v
}
