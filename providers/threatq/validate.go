package threatq

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The checks here run in the providers framework before an action's Run,
// so a bad value never costs a request. Their error text is shown as is.

// dateLayout is ThreatQ's date format: UTC without a zone.
const dateLayout = "2006-01-02 15:04:05"

func checkHappenedAt(v any) error {
	s, _ := v.(string)
	if _, err := time.Parse(dateLayout, strings.TrimSpace(s)); err != nil {
		return fmt.Errorf("Parameter 'happened_at' must be a UTC date and time as YYYY-MM-DD HH:MM:SS, such as 2017-03-20 01:43:05; got %q", truncate(s, 40))
	}
	return nil
}

func checkID(v any) error {
	if s, _ := v.(string); strings.TrimSpace(s) == "" {
		return fmt.Errorf("Parameter 'id' must not be empty; give the indicator id")
	}
	return nil
}

// queryOperators are the operators of ThreatQ's indicator query language.
// +equals is the old form some servers still need; newer ones answer it
// with 500, which the server reports.
var queryOperators = map[string]bool{
	"+and": true, "+or": true,
	"+contains": true, "+gt": true, "+gte": true, "+lt": true, "+lte": true, "+equals": true,
}

// maxQueryDepth bounds the walk so that a self-referencing table from a
// script cannot exhaust the stack.
const maxQueryDepth = 64

// checkQuery returns the Check of a criteria or filters parameter: the
// value must be an object whose "+" keys are known operators and whose
// +and/+or values are lists of objects. Keys without "+" are fields and
// pass through, as do structured field values such as attribute {name,value}.
func checkQuery(name string) func(any) error {
	return func(v any) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("Parameter '%s' must be an object such as {\"value\": {\"+contains\": \"example.com\"}}", name)
		}
		return walkQuery(name, m, 0)
	}
}

func walkQuery(path string, m map[string]any, depth int) error {
	if depth > maxQueryDepth {
		return fmt.Errorf("Query at %s is nested more than %d levels deep", path, maxQueryDepth)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted, so that a query with two mistakes always reports the same one.
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if !strings.HasPrefix(k, "+") {
			if obj, ok := v.(map[string]any); ok {
				if err := walkQuery(path+"."+k, obj, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if !queryOperators[k] {
			return fmt.Errorf("Unknown query operator '%s' at %s; use one of +and, +or, +contains, +gt, +gte, +lt, +lte", k, path)
		}
		if k != "+and" && k != "+or" {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("Query operator '%s' at %s must be a list of objects, such as [{\"type_name\": \"FQDN\"}]", k, path)
		}
		for i, e := range list {
			at := fmt.Sprintf("%s.%s[%d]", path, k, i)
			obj, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("Query expression at %s must be an object", at)
			}
			if err := walkQuery(at, obj, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkIndicators checks the create_indicators items: a non-empty list of
// objects, each with a value and a type (a type name or type_id).
func checkIndicators(v any) error {
	list, _ := v.([]any)
	if len(list) == 0 {
		return fmt.Errorf("Parameter 'indicators' must be a non-empty list of indicator objects, such as [{\"value\": \"1.2.3.4\", \"type\": \"IP Address\"}]")
	}
	for i, it := range list {
		obj, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("Parameter 'indicators' item %d must be an object with value and type", i)
		}
		if s := scalarString(obj["value"]); strings.TrimSpace(s) == "" {
			return fmt.Errorf("Parameter 'indicators' item %d has no value; give each indicator a value", i)
		}
		if obj["type_id"] == nil && obj["type"] == nil {
			return fmt.Errorf("Parameter 'indicators' item %d has no type; give a type name (\"type\": \"IP Address\") or a type_id", i)
		}
	}
	return nil
}

// yesNo is ThreatQ's spelling of a boolean flag.
func yesNo(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// scalarString renders a string or number; anything else is "".
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case json.Number:
		return x.String()
	}
	return ""
}
