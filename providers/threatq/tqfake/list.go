package tqfake

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultLimit is the page size of a list request without limit.
const DefaultLimit = 25

// accessor maps a field name to a getter returning int64, string or
// time.Time, for sorting and filtering lists. Every accessor has "id".
type accessor[T any] map[string]func(T) any

// listParams are the paging, sorting and embedding parameters every list
// route shares.
type listParams struct {
	limit, offset int
	sort          []sortKey
	with          withSpec
}

type sortKey struct {
	field string
	desc  bool
}

func parseListParams[T any](q url.Values, fields accessor[T], errs validationErrors) listParams {
	p := listParams{limit: DefaultLimit, with: parseWith(q.Get("with"))}
	p.limit = intParam(q, "limit", DefaultLimit, errs)
	p.offset = intParam(q, "offset", 0, errs)
	p.sort = parseSort(q.Get("sort"), fields, errs)
	return p
}

func intParam(q url.Values, name string, def int, errs validationErrors) int {
	raw := strings.TrimSpace(q.Get(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		errs.add(name, "The "+name+" must be an integer of at least 0.")
		return def
	}
	return n
}

// parseSort reads "field", "-field" (descending) and comma lists of them.
func parseSort[T any](raw string, fields accessor[T], errs validationErrors) []sortKey {
	var keys []sortKey
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key := sortKey{field: strings.ToLower(part)}
		if rest, ok := strings.CutPrefix(key.field, "-"); ok {
			key.field, key.desc = rest, true
		} else {
			key.field = strings.TrimPrefix(key.field, "+")
		}
		if _, ok := fields[key.field]; !ok {
			errs.add("sort", "The sort field '"+key.field+"' is not sortable.")
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// sortItems orders items by keys, breaking ties by ascending id so that
// pages never overlap or skip.
func sortItems[T any](items []T, keys []sortKey, fields accessor[T]) {
	if len(keys) == 0 {
		// Stored order is id order already.
		return
	}
	id := fields["id"]
	slices.SortStableFunc(items, func(a, b T) int {
		for _, k := range keys {
			get := fields[k.field]
			c := compareValues(get(a), get(b))
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return compareValues(id(a), id(b))
	})
}

// compareValues orders two values of the same field. Strings compare
// case-insensitively as MySQL's default collation does; null (zero) times
// sort first.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		y, _ := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		y, _ := b.(string)
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	}
	return 0
}

func formatValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(DateLayout)
	}
	return ""
}

// likePattern is a SQL LIKE pattern with `%` as the only wildcard, matched
// case-insensitively. `_` is taken literally because ThreatQ values (file
// names, registry keys) are full of underscores.
type likePattern struct {
	parts      []string // lower-cased literal runs between wildcards
	leadingPct bool
	trailPct   bool
}

func compileLike(pattern string) likePattern {
	lower := strings.ToLower(pattern)
	return likePattern{
		parts:      strings.Split(lower, "%"),
		leadingPct: strings.HasPrefix(lower, "%"),
		trailPct:   strings.HasSuffix(lower, "%"),
	}
}

// match reports whether the lower-cased s matches.
func (p likePattern) match(s string) bool {
	if len(p.parts) == 1 {
		return s == p.parts[0]
	}
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, mid := range p.parts[1 : len(p.parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

// filterItems keeps the items whose fields match every filter given in the
// query string: `%` wildcards as in SQL LIKE, otherwise an exact,
// case-insensitive comparison.
func filterItems[T any](items []T, q url.Values, filterable []string, fields accessor[T]) []T {
	type filter struct {
		get  func(T) any
		like likePattern
	}
	var filters []filter
	for _, name := range filterable {
		if !q.Has(name) {
			continue
		}
		filters = append(filters, filter{get: fields[name], like: compileLike(q.Get(name))})
	}
	out := make([]T, 0, len(items))
next:
	for _, it := range items {
		for _, f := range filters {
			if !f.like.match(strings.ToLower(formatValue(f.get(it)))) {
				continue next
			}
		}
		out = append(out, it)
	}
	return out
}

func pageOf[T any](items []T, limit, offset int) []T {
	if offset >= len(items) {
		return nil
	}
	end := len(items)
	if limit < end-offset {
		end = offset + limit
	}
	return items[offset:end]
}

func envelope(total int, data []any, limit, offset int) map[string]any {
	return map[string]any{"total": total, "data": data, "limit": limit, "offset": offset}
}

// serveList answers a list route: filter, sort, page, render. The caller
// holds the read lock for render's sake.
func serveList[T any](w http.ResponseWriter, r *http.Request, items []T, fields accessor[T], filterable []string, render func(T, withSpec) map[string]any) {
	q := r.URL.Query()
	errs := validationErrors{}
	p := parseListParams(q, fields, errs)
	if len(errs) > 0 {
		errs.write(w)
		return
	}
	matched := filterItems(items, q, filterable, fields)
	sortItems(matched, p.sort, fields)
	data := []any{}
	for _, it := range pageOf(matched, p.limit, p.offset) {
		data = append(data, render(it, p.with))
	}
	writeJSON(w, http.StatusOK, envelope(len(matched), data, p.limit, p.offset))
}

var indicatorFields = accessor[*indicator]{
	"id":           func(i *indicator) any { return i.ID },
	"type_id":      func(i *indicator) any { return int64(i.TypeID) },
	"status_id":    func(i *indicator) any { return int64(i.StatusID) },
	"class":        func(i *indicator) any { return i.Class },
	"value":        func(i *indicator) any { return i.Value },
	"hash":         func(i *indicator) any { return i.Hash },
	"score":        func(i *indicator) any { return int64(i.Score) },
	"created_at":   func(i *indicator) any { return i.CreatedAt },
	"updated_at":   func(i *indicator) any { return i.UpdatedAt },
	"touched_at":   func(i *indicator) any { return i.TouchedAt },
	"published_at": func(i *indicator) any { return i.PublishedAt },
	"expires_at":   func(i *indicator) any { return i.ExpiresAt },
	"expired_at":   func(i *indicator) any { return i.ExpiredAt },
}

var indicatorFilters = []string{"id", "value", "type_id", "status_id", "class", "score", "hash"}

var eventFields = accessor[*Event]{
	"id":          func(e *Event) any { return e.ID },
	"type_id":     func(e *Event) any { return int64(e.TypeID) },
	"title":       func(e *Event) any { return e.Title },
	"hash":        func(e *Event) any { return e.Hash },
	"happened_at": func(e *Event) any { return e.HappenedAt },
	"created_at":  func(e *Event) any { return e.CreatedAt },
	"updated_at":  func(e *Event) any { return e.UpdatedAt },
	"touched_at":  func(e *Event) any { return e.TouchedAt },
}

var eventFilters = []string{"id", "title", "type_id", "hash"}

var stagedIndicatorFields = accessor[*StagedIndicator]{
	"id":          func(s *StagedIndicator) any { return s.ID },
	"value":       func(s *StagedIndicator) any { return s.Value },
	"type_id":     func(s *StagedIndicator) any { return int64(s.TypeID) },
	"status_id":   func(s *StagedIndicator) any { return int64(s.StatusID) },
	"source":      func(s *StagedIndicator) any { return s.Source },
	"whitelisted": func(s *StagedIndicator) any { return yn(s.Whitelisted) },
	"duplicate":   func(s *StagedIndicator) any { return yn(s.Duplicate) },
}

var stagedIndicatorFilters = []string{"id", "value", "type_id", "status_id", "whitelisted", "duplicate"}

var stagedEventFields = accessor[*StagedEvent]{
	"id":          func(s *StagedEvent) any { return s.ID },
	"title":       func(s *StagedEvent) any { return s.Title },
	"type_id":     func(s *StagedEvent) any { return int64(s.TypeID) },
	"happened_at": func(s *StagedEvent) any { return s.HappenedAt },
	"source":      func(s *StagedEvent) any { return s.Source },
	"whitelisted": func(s *StagedEvent) any { return yn(s.Whitelisted) },
	"duplicate":   func(s *StagedEvent) any { return yn(s.Duplicate) },
}

var stagedEventFilters = []string{"id", "title", "type_id", "whitelisted", "duplicate"}

var indicatorTypeFields = accessor[IndicatorType]{
	"id":    func(t IndicatorType) any { return int64(t.ID) },
	"name":  func(t IndicatorType) any { return t.Name },
	"class": func(t IndicatorType) any { return t.Class },
}

var statusFields = accessor[Status]{
	"id":   func(s Status) any { return int64(s.ID) },
	"name": func(s Status) any { return s.Name },
}

var eventTypeFields = accessor[EventType]{
	"id":   func(t EventType) any { return int64(t.ID) },
	"name": func(t EventType) any { return t.Name },
}
