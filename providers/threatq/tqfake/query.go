package tqfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query is a compiled indicator query: the criteria and filters of a
// POST /api/indicators/query body, turned into closures once so that
// scanning many indicators costs no parsing or map lookups.
type Query struct {
	match pred
}

type pred func(*indicator) bool

func matchAll(*indicator) bool  { return true }
func matchNone(*indicator) bool { return false }

// QueryError is a malformed query. ThreatQ answers those with 500.
type QueryError struct {
	// Path is the object the problem is in, e.g. filters.+and[1].value for
	// {"filters":{"+and":[{...},{"value":{"+like":"x"}}]}}.
	Path string
	Msg  string
}

func (e *QueryError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Msg + " at " + e.Path
}

func queryErrorf(path, format string, args ...any) error {
	return &QueryError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// CompileQuery compiles criteria and filters, each a decoded JSON object (or
// nil), into a Query that holds when both hold. now resolves the relative
// date "NOW".
//
// Members of one object are AND-ed; "+and" and "+or" take arrays of objects;
// a field takes a scalar (equality), an array (any of), an object of
// operators (+equals, +contains, +gt, +gte, +lt, +lte, AND-ed) or, for
// attribute, {name, value}. Unknown fields match nothing; unknown operators
// are errors.
func CompileQuery(criteria, filters any, now time.Time) (*Query, error) {
	c := compiler{now: now}
	crit, err := c.expr(criteria, "criteria")
	if err != nil {
		return nil, err
	}
	filt, err := c.expr(filters, "filters")
	if err != nil {
		return nil, err
	}
	return &Query{match: allOf([]cond{crit, filt}).match}, nil
}

type compiler struct {
	now time.Time
}

// cond is a compiled condition with a rough cost, so that AND and OR can
// try cheap members (an integer compare) before dear ones (a substring
// search). Every condition is a pure function of the indicator, so the order
// changes nothing but speed.
type cond struct {
	match pred
	cost  int
}

var (
	always = cond{match: matchAll}
	never  = cond{match: matchNone}
)

func byCost(conds []cond) ([]pred, int) {
	sorted := slices.Clone(conds)
	slices.SortStableFunc(sorted, func(a, b cond) int { return a.cost - b.cost })
	preds := make([]pred, len(sorted))
	total := 0
	for i, c := range sorted {
		preds[i] = c.match
		total += c.cost
	}
	return preds, total
}

func allOf(conds []cond) cond {
	preds, cost := byCost(conds)
	switch len(preds) {
	case 0:
		return always
	case 1:
		return conds[0]
	case 2:
		a, b := preds[0], preds[1]
		return cond{func(i *indicator) bool { return a(i) && b(i) }, cost}
	}
	return cond{func(i *indicator) bool {
		for _, p := range preds {
			if !p(i) {
				return false
			}
		}
		return true
	}, cost}
}

func anyOf(conds []cond) cond {
	preds, cost := byCost(conds)
	switch len(preds) {
	case 0:
		return never
	case 1:
		return conds[0]
	case 2:
		a, b := preds[0], preds[1]
		return cond{func(i *indicator) bool { return a(i) || b(i) }, cost}
	}
	return cond{func(i *indicator) bool {
		for _, p := range preds {
			if p(i) {
				return true
			}
		}
		return false
	}, cost}
}

// expr compiles one expression object. PHP serialises an empty object as [],
// so an empty array means "no condition" too.
func (c *compiler) expr(v any, path string) (cond, error) {
	switch x := v.(type) {
	case nil:
		return always, nil
	case []any:
		if len(x) == 0 {
			return always, nil
		}
	case map[string]any:
		conds := make([]cond, 0, len(x))
		for _, key := range slices.Sorted(maps.Keys(x)) {
			p, err := c.member(key, x[key], path)
			if err != nil {
				return cond{}, err
			}
			conds = append(conds, p)
		}
		return allOf(conds), nil
	}
	return cond{}, queryErrorf(path, "expected an object")
}

func (c *compiler) member(key string, v any, path string) (cond, error) {
	here := path + "." + key
	switch key {
	case "+and", "+or":
		list, ok := v.([]any)
		if !ok {
			return cond{}, queryErrorf(here, "expected an array for %s", key)
		}
		conds := make([]cond, 0, len(list))
		for i, el := range list {
			p, err := c.expr(el, fmt.Sprintf("%s[%d]", here, i))
			if err != nil {
				return cond{}, err
			}
			conds = append(conds, p)
		}
		if key == "+and" {
			return allOf(conds), nil
		}
		return anyOf(conds), nil
	}
	if strings.HasPrefix(key, "+") {
		return cond{}, queryErrorf(path, "unknown query operator '%s'", key)
	}
	p, err := c.field(key, v, here)
	if err != nil {
		return cond{}, err
	}
	return cond{p, fieldCost[key]}, nil
}

// fieldCost ranks fields by what testing one costs: integer compares are
// cheap, substring searches over several strings dear. Unknown fields cost
// nothing, as they match nothing.
var fieldCost = map[string]int{
	"id": 1, "type_id": 1, "status_id": 1, "score": 1, "type_name": 1, "type": 1,
	"status_name": 1, "status": 1, "created_at": 2, "updated_at": 2, "touched_at": 2,
	"published_at": 2, "expires_at": 2, "expired_at": 2, "class": 3, "hash": 3,
	"value": 4, "source_name": 6, "attribute": 8, "mentions": 8,
}

// operators maps each accepted operator to its canonical form. "is" is the
// spelling one integration uses for equality.
var operators = map[string]string{
	"+equals":   "=",
	"is":        "=",
	"+contains": "+contains",
	"+gt":       "+gt",
	"+gte":      "+gte",
	"+lt":       "+lt",
	"+lte":      "+lte",
}

func isOperatorObject(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "+") || k == "is" {
			return true
		}
	}
	return false
}

// validateOperators rejects unknown operators anywhere inside v, so that a
// typo fails loudly even under a field that matches nothing.
func validateOperators(v any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if strings.HasPrefix(k, "+") && operators[k] == "" && k != "+and" && k != "+or" {
				return queryErrorf(path, "unknown query operator '%s'", k)
			}
			if err := validateOperators(x[k], path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for i, el := range x {
			if err := validateOperators(el, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// test is a compiled condition on one field value.
type test[V any] func(V) bool

// tester compiles one operator and operand into a test.
type tester[V any] func(op string, operand any, path string) (test[V], error)

// compileTests compiles a field's condition: a scalar (equality), an array
// (any of) or an operator object (all of).
func compileTests[V any](v any, path string, t tester[V]) (test[V], error) {
	switch x := v.(type) {
	case map[string]any:
		var tests []test[V]
		for _, k := range slices.Sorted(maps.Keys(x)) {
			op, ok := operators[k]
			if !ok {
				if strings.HasPrefix(k, "+") {
					return nil, queryErrorf(path, "unknown query operator '%s'", k)
				}
				return nil, queryErrorf(path, "unexpected key '%s' among operators", k)
			}
			tt, err := t(op, x[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			tests = append(tests, tt)
		}
		if len(tests) == 1 {
			return tests[0], nil
		}
		return func(v V) bool {
			for _, tt := range tests {
				if !tt(v) {
					return false
				}
			}
			return true
		}, nil
	case []any:
		var tests []test[V]
		for i, el := range x {
			tt, err := t("=", el, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			tests = append(tests, tt)
		}
		return func(v V) bool {
			for _, tt := range tests {
				if tt(v) {
					return true
				}
			}
			return false
		}, nil
	}
	return t("=", v, path)
}

// scalarString renders a JSON scalar operand as text.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// stringTest compares lower-cased values, case-insensitively as MySQL does.
func stringTest(op string, operand any, path string) (test[string], error) {
	if operand == nil && op == "=" {
		return func(v string) bool { return v == "" }, nil
	}
	s, ok := scalarString(operand)
	if !ok {
		return nil, queryErrorf(path, "expected a string or a number")
	}
	want := strings.ToLower(s)
	switch op {
	case "=":
		return func(v string) bool { return v == want }, nil
	case "+contains":
		return func(v string) bool { return strings.Contains(v, want) }, nil
	case "+gt":
		return func(v string) bool { return v > want }, nil
	case "+gte":
		return func(v string) bool { return v >= want }, nil
	case "+lt":
		return func(v string) bool { return v < want }, nil
	case "+lte":
		return func(v string) bool { return v <= want }, nil
	}
	return nil, queryErrorf(path, "unknown query operator '%s'", op)
}

func numberTest(op string, operand any, path string) (test[int64], error) {
	if op == "+contains" {
		s, ok := scalarString(operand)
		if !ok {
			return nil, queryErrorf(path, "expected a string or a number")
		}
		return func(v int64) bool { return strings.Contains(strconv.FormatInt(v, 10), s) }, nil
	}
	var want float64
	switch x := operand.(type) {
	case float64:
		want = x
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			if op == "=" {
				// A number column never equals a word.
				return func(int64) bool { return false }, nil
			}
			return nil, queryErrorf(path, "expected a number, got %q", x)
		}
		want = n
	default:
		return nil, queryErrorf(path, "expected a number")
	}
	switch op {
	case "=":
		return func(v int64) bool { return float64(v) == want }, nil
	case "+gt":
		return func(v int64) bool { return float64(v) > want }, nil
	case "+gte":
		return func(v int64) bool { return float64(v) >= want }, nil
	case "+lt":
		return func(v int64) bool { return float64(v) < want }, nil
	case "+lte":
		return func(v int64) bool { return float64(v) <= want }, nil
	}
	return nil, queryErrorf(path, "unknown query operator '%s'", op)
}

// parseQueryTime reads a date operand: "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD"
// (day reports true), RFC 3339, or NOW.
func (c *compiler) parseQueryTime(s string) (t time.Time, day bool, ok bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "now") {
		return c.now.UTC().Truncate(time.Second), false, true
	}
	if t, err := time.Parse(DateLayout, s); err == nil {
		return t, false, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, true
	}
	return time.Time{}, false, false
}

// timeTest compares dates; a null date satisfies nothing but `= null`.
func (c *compiler) timeTest(op string, operand any, path string) (test[time.Time], error) {
	if operand == nil && op == "=" {
		return func(v time.Time) bool { return v.IsZero() }, nil
	}
	s, ok := operand.(string)
	if !ok {
		return nil, queryErrorf(path, "expected a date like 2006-01-02 15:04:05")
	}
	if op == "+contains" {
		return func(v time.Time) bool { return !v.IsZero() && strings.Contains(v.Format(DateLayout), s) }, nil
	}
	want, day, ok := c.parseQueryTime(s)
	if !ok {
		return nil, queryErrorf(path, "expected a date like 2006-01-02 15:04:05, got %q", s)
	}
	switch op {
	case "=":
		if day {
			end := want.AddDate(0, 0, 1)
			return func(v time.Time) bool { return !v.IsZero() && !v.Before(want) && v.Before(end) }, nil
		}
		return func(v time.Time) bool { return !v.IsZero() && v.Equal(want) }, nil
	case "+gt":
		return func(v time.Time) bool { return !v.IsZero() && v.After(want) }, nil
	case "+gte":
		return func(v time.Time) bool { return !v.IsZero() && !v.Before(want) }, nil
	case "+lt":
		return func(v time.Time) bool { return !v.IsZero() && v.Before(want) }, nil
	case "+lte":
		return func(v time.Time) bool { return !v.IsZero() && !v.After(want) }, nil
	}
	return nil, queryErrorf(path, "unknown query operator '%s'", op)
}

// mentionsTest is a keyword search: equality and +contains both mean "occurs
// in the value or the description".
func mentionsTest(op string, operand any, path string) (test[string], error) {
	if op != "=" && op != "+contains" {
		return nil, queryErrorf(path, "operator '%s' is not supported for mentions", op)
	}
	return stringTest("+contains", operand, path)
}

func stringField(v any, path string, get func(*indicator) string) (pred, error) {
	t, err := compileTests(v, path, stringTest)
	if err != nil {
		return nil, err
	}
	return func(i *indicator) bool { return t(get(i)) }, nil
}

func numberField(v any, path string, get func(*indicator) int64) (pred, error) {
	t, err := compileTests(v, path, numberTest)
	if err != nil {
		return nil, err
	}
	return func(i *indicator) bool { return t(get(i)) }, nil
}

func (c *compiler) timeField(v any, path string, get func(*indicator) time.Time) (pred, error) {
	t, err := compileTests(v, path, c.timeTest)
	if err != nil {
		return nil, err
	}
	return func(i *indicator) bool { return t(get(i)) }, nil
}

// nameField resolves a condition on a type or status name to the set of
// matching ids at compile time, so the scan compares integers.
func nameField(v any, path string, names []string, get func(*indicator) int) (pred, error) {
	t, err := compileTests(v, path, stringTest)
	if err != nil {
		return nil, err
	}
	set := make([]bool, len(names)+1)
	for i, name := range names {
		set[i+1] = t(strings.ToLower(name))
	}
	return func(i *indicator) bool {
		id := get(i)
		return id > 0 && id < len(set) && set[id]
	}, nil
}

// typeNames and statusNames are indexed by id - 1, as nameField expects.
var (
	typeNames = func() []string {
		names := make([]string, len(indicatorTypes))
		for i, t := range indicatorTypes {
			names[i] = t.Name
		}
		return names
	}()
	statusNames = func() []string {
		names := make([]string, len(statuses))
		for i, st := range statuses {
			names[i] = st.Name
		}
		return names
	}()
)

func (c *compiler) field(name string, v any, path string) (pred, error) {
	if m, ok := v.(map[string]any); ok && !isOperatorObject(m) {
		if name == "attribute" {
			return c.attribute(m, path)
		}
		// A structured value (related, a nested object) on a field the
		// emulator does not model matches nothing.
		return matchNone, validateOperators(m, path)
	}
	switch name {
	case "value":
		return stringField(v, path, func(i *indicator) string { return i.lowerValue })
	case "class":
		return stringField(v, path, func(i *indicator) string { return i.Class })
	case "hash":
		return stringField(v, path, func(i *indicator) string { return i.Hash })
	case "id":
		return numberField(v, path, func(i *indicator) int64 { return i.ID })
	case "type_id":
		return numberField(v, path, func(i *indicator) int64 { return int64(i.TypeID) })
	case "status_id":
		return numberField(v, path, func(i *indicator) int64 { return int64(i.StatusID) })
	case "score":
		return numberField(v, path, func(i *indicator) int64 { return int64(i.Score) })
	case "type_name", "type":
		return nameField(v, path, typeNames, func(i *indicator) int { return i.TypeID })
	case "status_name", "status":
		return nameField(v, path, statusNames, func(i *indicator) int { return i.StatusID })
	case "created_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.CreatedAt })
	case "updated_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.UpdatedAt })
	case "touched_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.TouchedAt })
	case "published_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.PublishedAt })
	case "expires_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.ExpiresAt })
	case "expired_at":
		return c.timeField(v, path, func(i *indicator) time.Time { return i.ExpiredAt })
	case "mentions":
		t, err := compileTests(v, path, mentionsTest)
		if err != nil {
			return nil, err
		}
		return func(i *indicator) bool { return t(i.lowerValue) || t(i.lowerDesc) }, nil
	case "source_name":
		t, err := compileTests(v, path, stringTest)
		if err != nil {
			return nil, err
		}
		return func(i *indicator) bool { return slices.ContainsFunc(i.lowerSources, t) }, nil
	case "attribute":
		t, err := compileTests(v, path, stringTest)
		if err != nil {
			return nil, err
		}
		return func(i *indicator) bool {
			return slices.ContainsFunc(i.lowerAttrs, func(a [2]string) bool { return t(a[1]) })
		}, nil
	}
	return matchNone, validateOperators(v, path)
}

// attribute compiles {"name": ..., "value": ...}: some attribute of the
// indicator must satisfy both.
func (c *compiler) attribute(m map[string]any, path string) (pred, error) {
	nameTest, valueTest := test[string](nil), test[string](nil)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		var err error
		switch k {
		case "name":
			nameTest, err = compileTests(m[k], path+".name", stringTest)
		case "value":
			valueTest, err = compileTests(m[k], path+".value", stringTest)
		default:
			// Conditions on attribute parts the emulator does not keep
			// (sources, dates) cannot hold.
			return matchNone, validateOperators(m, path)
		}
		if err != nil {
			return nil, err
		}
	}
	return func(i *indicator) bool {
		for _, a := range i.lowerAttrs {
			if (nameTest == nil || nameTest(a[0])) && (valueTest == nil || valueTest(a[1])) {
				return true
			}
		}
		return false
	}, nil
}

// Match reports whether ind satisfies the query.
func (q *Query) Match(ind Indicator) bool {
	rec := &indicator{Indicator: ind}
	rec.refresh()
	return q.match(rec)
}

// scan returns the stored indicators the query matches, in id order.
func (d *dataset) scan(q *Query) []*indicator {
	out := make([]*indicator, 0, 64)
	for _, rec := range d.indicators {
		if q.match(rec) {
			out = append(out, rec)
		}
	}
	return out
}

// QueryCount compiles the query and counts the stored indicators it
// matches. It is the evaluator the query route uses, without the HTTP and
// JSON around it, for benchmarks and tests.
func (s *Server) QueryCount(criteria, filters any) (int, error) {
	q, err := CompileQuery(criteria, filters, s.now())
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.data.scan(q)), nil
}

// relationNames are the names that, in `fields`, ask for a relation rather
// than a column.
var relationNames = map[string]bool{"type": true, "status": true, "sources": true, "attributes": true, "events": true}

func isRelation(name string) bool { return relationNames[name] || unmodelledRelations[name] }

// queryRelations returns with plus the relations that fields name, so they
// are rendered before projection picks from them.
func queryRelations(with withSpec, fields []string) withSpec {
	merged := withSpec{}
	for k, v := range with {
		merged[k] = v
	}
	for _, f := range fields {
		rel, _, _ := strings.Cut(strings.ToLower(f), ".")
		if isRelation(rel) {
			if _, ok := merged[rel]; !ok {
				merged[rel] = withSpec{}
			}
		}
	}
	return merged
}

var baseIndicatorKeys = func() []string {
	return slices.Sorted(maps.Keys(indicatorBase(&Indicator{})))
}()

// project keeps the fields asked for: "*" is every column, "x" a column or
// a whole relation, "rel.x" one key of each related object. The id is always
// kept so results stay addressable; relations named in with are kept whole.
func project(full map[string]any, fields []string, with withSpec) map[string]any {
	out := map[string]any{"id": full["id"]}
	for _, f := range fields {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "*" {
			for _, k := range baseIndicatorKeys {
				out[k] = full[k]
			}
			continue
		}
		rel, sub, dotted := strings.Cut(f, ".")
		if !dotted {
			if v, ok := full[f]; ok {
				out[f] = v
			}
			continue
		}
		switch v := full[rel].(type) {
		case []any:
			dst, ok := out[rel].([]any)
			if !ok || len(dst) != len(v) {
				dst = make([]any, len(v))
				for i := range dst {
					dst[i] = map[string]any{}
				}
			}
			for i, el := range v {
				src, _ := el.(map[string]any)
				d, _ := dst[i].(map[string]any)
				if x, ok := src[sub]; ok && d != nil {
					d[sub] = x
				}
			}
			out[rel] = dst
		case map[string]any:
			d, ok := out[rel].(map[string]any)
			if !ok {
				d = map[string]any{}
			}
			if x, ok := v[sub]; ok {
				d[sub] = x
			}
			out[rel] = d
		}
	}
	for rel := range with {
		if v, ok := full[rel]; ok {
			out[rel] = v
		}
	}
	return out
}

// Cursor marks are opaque to clients; the emulator's encode the offset of the
// next page. When the last page has been served, nextCursorMark repeats the
// mark that was sent, which is how Solr-style cursors say "done".
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func decodeCursor(mark string) (int, bool) {
	if mark == "*" {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(mark)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
	if err != nil || n < 0 || !bytes.HasPrefix(raw, []byte("o:")) {
		return 0, false
	}
	return n, true
}

func (s *Server) handleQueryIndicators(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := validationErrors{}
	p := parseListParams(q, indicatorFields, errs)

	body, _ := io.ReadAll(r.Body)
	doc := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &doc); err != nil {
			writeErrors(w, http.StatusBadRequest, "The request body must be a JSON object.")
			return
		}
	}
	var fields []string
	switch raw := doc["fields"].(type) {
	case nil:
	case []any:
		for _, f := range raw {
			name, ok := f.(string)
			if !ok {
				errs.add("fields", "The fields must be an array of strings.")
				break
			}
			fields = append(fields, name)
		}
	default:
		errs.add("fields", "The fields must be an array of strings.")
	}
	if with, ok := doc["with"].(string); ok && !q.Has("with") {
		p.with = parseWith(with)
	}
	mark := q.Get("cursorMark")
	if mark != "" {
		offset, ok := decodeCursor(mark)
		if !ok {
			errs.add("cursorMark", "The cursorMark is not one this server issued; start again with *.")
		}
		p.offset = offset
	}
	if len(errs) > 0 {
		errs.write(w)
		return
	}

	query, err := CompileQuery(doc["criteria"], doc["filters"], s.now())
	if err != nil {
		writeErrors(w, http.StatusInternalServerError, upperFirst(err.Error())+".")
		return
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	matched := s.data.scan(query)
	sortItems(matched, p.sort, indicatorFields)
	page := pageOf(matched, p.limit, p.offset)
	render := p.with
	if len(fields) > 0 {
		render = queryRelations(p.with, fields)
	}
	data := make([]any, 0, len(page))
	for _, rec := range page {
		m := s.data.renderIndicator(&rec.Indicator, render)
		if len(fields) > 0 {
			m = project(m, fields, p.with)
		}
		data = append(data, m)
	}
	resp := envelope(len(matched), data, p.limit, p.offset)
	if mark != "" {
		next := mark
		if end := p.offset + len(page); end < len(matched) {
			next = encodeCursor(end)
		}
		resp["nextCursorMark"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}
