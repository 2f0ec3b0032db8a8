package tqfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pathID parses a numeric path segment; anything else names no object.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// readJSON decodes the request body into any JSON value.
func readJSON(r *http.Request) (any, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("the request body is empty")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("the request body is not valid JSON: %w", err)
	}
	return v, nil
}

// resolveRef resolves an id-or-name reference as ThreatQ bodies carry them:
// a number, a numeric string, a name, or an object with id or name.
func resolveRef(v any, byName func(string) (int, bool), valid func(int) bool) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || !valid(int(x)) {
			return 0, false
		}
		return int(x), true
	case string:
		x = strings.TrimSpace(x)
		if n, err := strconv.Atoi(x); err == nil {
			return n, valid(n)
		}
		return byName(x)
	case map[string]any:
		if id, ok := x["id"]; ok {
			return resolveRef(id, byName, valid)
		}
		if name, ok := x["name"].(string); ok {
			return byName(name)
		}
	}
	return 0, false
}

func validType(id int) bool      { _, ok := typeByID(id); return ok }
func validStatus(id int) bool    { _, ok := statusByID(id); return ok }
func validEventType(id int) bool { _, ok := eventTypeByID(id); return ok }

// describeRef renders a reference for an error message.
func describeRef(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		if name, ok := x["name"].(string); ok {
			return name
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

type sourceInput struct {
	name      string
	tlp       int
	published time.Time
}

// parseSources reads sources as bodies send them: names, or objects with
// name and optional tlp {name}, tlp name, tlp_id and published_at.
func parseSources(v any) ([]sourceInput, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the sources must be an array")
	}
	var out []sourceInput
	for i, el := range list {
		switch x := el.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return nil, fmt.Errorf("sources.%d: the name field is required", i)
			}
			out = append(out, sourceInput{name: strings.TrimSpace(x)})
		case map[string]any:
			name, _ := x["name"].(string)
			if strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("sources.%d: the name field is required", i)
			}
			in := sourceInput{name: strings.TrimSpace(name)}
			if tlp, ok := x["tlp"]; ok && tlp != nil {
				id, ok := resolveRef(tlp, tlpID, func(id int) bool { return tlpNames[id] != "" })
				if !ok {
					return nil, fmt.Errorf("sources.%d: the selected tlp %q is invalid; use RED, AMBER, GREEN or WHITE", i, describeRef(tlp))
				}
				in.tlp = id
			} else if tlp, ok := x["tlp_id"]; ok && tlp != nil {
				id, ok := resolveRef(tlp, tlpID, func(id int) bool { return tlpNames[id] != "" })
				if !ok {
					return nil, fmt.Errorf("sources.%d: the selected tlp_id is invalid; use 1 to 4", i)
				}
				in.tlp = id
			}
			if p, ok := x["published_at"].(string); ok && p != "" {
				t, err := time.Parse(DateLayout, p)
				if err != nil {
					return nil, fmt.Errorf("sources.%d: the published at does not match the format Y-m-d H:i:s", i)
				}
				in.published = t
			}
			out = append(out, in)
		default:
			return nil, fmt.Errorf("sources.%d must be an object or a name", i)
		}
	}
	return out, nil
}

type attributeInput struct{ name, value string }

func parseAttributes(v any) ([]attributeInput, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the attributes must be an array")
	}
	var out []attributeInput
	for i, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("attributes.%d must be an object", i)
		}
		name, _ := m["name"].(string)
		value, ok := scalarString(m["value"])
		if strings.TrimSpace(name) == "" || !ok {
			return nil, fmt.Errorf("attributes.%d: the name and value fields are required", i)
		}
		out = append(out, attributeInput{name: strings.TrimSpace(name), value: value})
	}
	return out, nil
}

func (s *Server) handleListIndicators(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	serveList(w, r, s.data.indicators, indicatorFields, indicatorFilters, s.data.indicatorRenderer())
}

func (d *dataset) indicatorRenderer() func(*indicator, withSpec) map[string]any {
	return func(rec *indicator, with withSpec) map[string]any { return d.renderIndicator(&rec.Indicator, with) }
}

// handleSearchIndicators serves GET /api/indicators/search. No public client
// documents it beyond the Swimlane connector's `%test%` example, so value is
// a substring search in which `%` is also a wildcard.
func (s *Server) handleSearchIndicators(w http.ResponseWriter, r *http.Request) {
	value := r.URL.Query().Get("value")
	if strings.TrimSpace(value) == "" {
		errs := validationErrors{}
		errs.add("value", "The value field is required.")
		errs.write(w)
		return
	}
	like := compileLike("%" + value + "%")
	s.mu.RLock()
	defer s.mu.RUnlock()
	var matched []*indicator
	for _, rec := range s.data.indicators {
		if like.match(rec.lowerValue) {
			matched = append(matched, rec)
		}
	}
	serveList(w, r, matched, indicatorFields, nil, s.data.indicatorRenderer())
}

func (s *Server) handleGetIndicator(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, found := s.data.indicatorByID[id]
	if !ok || !found {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.data.renderIndicator(&rec.Indicator, parseWith(r.URL.Query().Get("with")))})
}

func (s *Server) handleDeleteIndicator(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	s.mu.Lock()
	removed := ok && s.data.removeIndicator(id)
	s.mu.Unlock()
	if !removed {
		writeNotFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleCreateIndicators serves POST /api/indicators: one object or an
// array, upserted on (value, type). Items that cannot be stored come back as
// {"value", "error"} among the others, in a 201, as ThreatQ reports them.
func (s *Server) handleCreateIndicators(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "Send an indicator object or an array of them: "+err.Error()+".")
		return
	}
	var items []any
	switch x := body.(type) {
	case map[string]any:
		items = []any{x}
	case []any:
		items = x
	default:
		writeErrors(w, http.StatusBadRequest, "Send an indicator object or an array of them.")
		return
	}
	if len(items) == 0 {
		errs := validationErrors{}
		errs.add("indicators", "At least one indicator is required.")
		errs.write(w)
		return
	}
	with := parseWith(r.URL.Query().Get("with"))
	with["type"] = withSpec{}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Truncate(time.Second)
	data := make([]any, 0, len(items))
	for _, item := range items {
		data = append(data, s.upsertIndicator(item, with, now))
	}
	writeJSON(w, http.StatusCreated, map[string]any{"total": len(data), "data": data})
}

func itemError(value any, format string, args ...any) map[string]any {
	return map[string]any{"value": value, "error": fmt.Sprintf(format, args...)}
}

// upsertIndicator stores one create item and renders the result. The caller
// holds the write lock.
func (s *Server) upsertIndicator(item any, with withSpec, now time.Time) map[string]any {
	m, ok := item.(map[string]any)
	if !ok {
		return itemError(nil, "The indicator must be an object.")
	}
	value, _ := m["value"].(string)
	value = strings.TrimSpace(value)
	if value == "" {
		return itemError(m["value"], "The value field is required.")
	}

	typeRef, hasType := m["type_id"]
	if !hasType || typeRef == nil {
		typeRef, hasType = m["type"]
	}
	if !hasType || typeRef == nil {
		return itemError(value, "The type field is required; give type_id or type.")
	}
	typeID, ok := resolveRef(typeRef, IndicatorTypeID, validType)
	if !ok {
		return itemError(value, "The selected type '%s' is invalid.", describeRef(typeRef))
	}

	statusID := 0
	statusRef, hasStatus := m["status_id"]
	if !hasStatus || statusRef == nil {
		statusRef, hasStatus = m["status"]
	}
	if hasStatus && statusRef != nil {
		if statusID, ok = resolveRef(statusRef, StatusID, validStatus); !ok {
			return itemError(value, "The selected status '%s' is invalid.", describeRef(statusRef))
		}
	}

	class, _ := m["class"].(string)
	class = strings.ToLower(strings.TrimSpace(class))
	if class != "" && class != "network" && class != "host" {
		return itemError(value, "The class must be network or host.")
	}
	description, _ := m["description"].(string)
	sources, err := parseSources(m["sources"])
	if err != nil {
		return itemError(value, "%s.", upperFirst(err.Error()))
	}
	attrs, err := parseAttributes(m["attributes"])
	if err != nil {
		return itemError(value, "%s.", upperFirst(err.Error()))
	}

	d := s.data
	rec, existing := d.indicatorByKey[indicatorKey(value, typeID)]
	if existing {
		if statusID != 0 {
			rec.StatusID = statusID
		}
		if description != "" {
			rec.Description = description
		}
		for _, src := range sources {
			if !hasSource(rec.Sources, src.name) {
				rec.Sources = append(rec.Sources, d.sourceLink(src.name, "", src.tlp, src.published, now))
			}
		}
		for _, a := range attrs {
			if !hasAttribute(rec.Attributes, a) {
				rec.Attributes = append(rec.Attributes, d.attribute(a.name, a.value, now))
			}
		}
		rec.UpdatedAt, rec.TouchedAt = now, now
		rec.refresh()
	} else {
		ind := Indicator{TypeID: typeID, StatusID: statusID, Class: class, Value: value, Description: description, PublishedAt: now}
		if statusID == 0 {
			ind.StatusID, _ = StatusID("Active")
		}
		for _, src := range sources {
			ind.Sources = append(ind.Sources, d.sourceLink(src.name, "", src.tlp, src.published, now))
		}
		for _, a := range attrs {
			ind.Attributes = append(ind.Attributes, Attribute{Name: a.name, Value: a.value})
		}
		rec = d.addIndicator(ind, now)
	}
	out := d.renderIndicator(&rec.Indicator, with)
	out["existing"] = yn(existing)
	return out
}

func hasSource(sources []Source, name string) bool {
	for _, src := range sources {
		if strings.EqualFold(src.Name, name) {
			return true
		}
	}
	return false
}

func hasAttribute(attrs []Attribute, a attributeInput) bool {
	for _, x := range attrs {
		if strings.EqualFold(x.Name, a.name) && x.Value == a.value {
			return true
		}
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	serveList(w, r, s.data.events, eventFields, eventFilters, s.data.renderEvent)
}

func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	s.mu.RLock()
	defer s.mu.RUnlock()
	ev, found := s.data.eventByID[id]
	if !ok || !found {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.data.renderEvent(ev, parseWith(r.URL.Query().Get("with")))})
}

// handleCreateEvent serves POST /api/events with Laravel-style validation:
// every problem is reported at once, keyed by field.
func (s *Server) handleCreateEvent(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "Send the event as a JSON object: "+err.Error()+".")
		return
	}
	m, ok := body.(map[string]any)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "Send the event as a JSON object.")
		return
	}
	errs := validationErrors{}

	title, isString := m["title"].(string)
	switch {
	case m["title"] == nil || (isString && strings.TrimSpace(title) == ""):
		errs.add("title", "The title field is required.")
	case !isString:
		errs.add("title", "The title must be a string.")
	}

	typeRef, hasType := m["type_id"]
	if !hasType || typeRef == nil {
		typeRef, hasType = m["type"]
	}
	typeID := 0
	if !hasType || typeRef == nil {
		errs.add("type", "The type field is required.")
	} else if typeID, ok = resolveRef(typeRef, EventTypeID, validEventType); !ok {
		errs.add("type", fmt.Sprintf("The selected type '%s' is invalid.", describeRef(typeRef)))
	}

	var happened time.Time
	switch raw := m["happened_at"].(type) {
	case nil:
		errs.add("happened_at", "The happened at field is required.")
	case string:
		if happened, err = time.Parse(DateLayout, strings.TrimSpace(raw)); err != nil {
			errs.add("happened_at", "The happened at does not match the format Y-m-d H:i:s.")
		}
	default:
		errs.add("happened_at", "The happened at does not match the format Y-m-d H:i:s.")
	}

	description, _ := m["description"].(string)
	sources, err := parseSources(m["sources"])
	if err != nil {
		errs.add("sources", upperFirst(err.Error())+".")
	}
	attrs, err := parseAttributes(m["attributes"])
	if err != nil {
		errs.add("attributes", upperFirst(err.Error())+".")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var indicatorIDs []int64
	if raw, ok := m["indicators"].([]any); ok {
		for i, el := range raw {
			id, ok := resolveRef(el, func(string) (int, bool) { return 0, false }, func(id int) bool {
				_, found := s.data.indicatorByID[int64(id)]
				return found
			})
			if !ok {
				errs.add(fmt.Sprintf("indicators.%d", i), "The selected indicator is invalid.")
				continue
			}
			indicatorIDs = append(indicatorIDs, int64(id))
		}
	}
	if len(errs) > 0 {
		errs.write(w)
		return
	}

	d := s.data
	now := s.now().Truncate(time.Second)
	ev := Event{
		TypeID: typeID, Title: strings.TrimSpace(title), Description: description, HappenedAt: happened,
		CreatedAt: now, IndicatorIDs: indicatorIDs,
	}
	for _, src := range sources {
		ev.Sources = append(ev.Sources, d.sourceLink(src.name, "", src.tlp, src.published, now))
	}
	for _, a := range attrs {
		ev.Attributes = append(ev.Attributes, d.attribute(a.name, a.value, now))
	}
	stored := d.addEvent(ev)
	with := parseWith(r.URL.Query().Get("with"))
	with["type"], with["sources"] = withSpec{}, withSpec{}
	writeJSON(w, http.StatusCreated, map[string]any{"data": d.renderEvent(stored, with)})
}

// importSession returns the session named in the path; the caller holds a
// lock.
func (s *Server) importSession(r *http.Request) (*importSession, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		return nil, false
	}
	session, ok := s.data.imports[id]
	return session, ok
}

func (s *Server) handleListStagedEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	session, ok := s.importSession(r)
	if !ok {
		writeNotFound(w)
		return
	}
	serveList(w, r, session.events, stagedEventFields, stagedEventFilters, renderStagedEvent)
}

func (s *Server) handleListStagedIndicators(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	session, ok := s.importSession(r)
	if !ok {
		writeNotFound(w)
		return
	}
	serveList(w, r, session.indicators, stagedIndicatorFields, stagedIndicatorFilters, renderStagedIndicator)
}

func stagedIndex(session *importSession, r *http.Request) int {
	iid, ok := pathID(r, "iid")
	if !ok {
		return -1
	}
	for i, si := range session.indicators {
		if si.ID == iid {
			return i
		}
	}
	return -1
}

// parseYN reads a Y/N flag as clients send it: "Y"/"N" in any case, a
// boolean, or 1/0.
func parseYN(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case float64:
		return x != 0, x == 0 || x == 1
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "y", "yes", "true", "1":
			return true, true
		case "n", "no", "false", "0":
			return false, true
		}
	}
	return false, false
}

// handleUpdateStagedIndicator serves PUT /api/imports/{id}/indicators/{iid}.
// Changing the value or type re-checks whether the item duplicates a library
// indicator.
func (s *Server) handleUpdateStagedIndicator(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "Send the staged indicator as a JSON object: "+err.Error()+".")
		return
	}
	m, ok := body.(map[string]any)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "Send the staged indicator as a JSON object.")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	session, ok := s.importSession(r)
	if !ok {
		writeNotFound(w)
		return
	}
	i := stagedIndex(session, r)
	if i < 0 {
		writeNotFound(w)
		return
	}
	next := *session.indicators[i]
	errs := validationErrors{}
	if v, ok := m["value"]; ok {
		value, isString := v.(string)
		if !isString || strings.TrimSpace(value) == "" {
			errs.add("value", "The value must be a non-empty string.")
		} else {
			next.Value = strings.TrimSpace(value)
		}
	}
	if v, ok := m["type_id"]; ok {
		if next.TypeID, ok = resolveRef(v, IndicatorTypeID, validType); !ok {
			errs.add("type_id", fmt.Sprintf("The selected type id '%s' is invalid.", describeRef(v)))
		}
	}
	if v, ok := m["status_id"]; ok {
		if next.StatusID, ok = resolveRef(v, StatusID, validStatus); !ok {
			errs.add("status_id", fmt.Sprintf("The selected status id '%s' is invalid.", describeRef(v)))
		}
	}
	if v, ok := m["source"]; ok {
		switch x := v.(type) {
		case string:
			next.Source = x
		case map[string]any:
			name, _ := x["name"].(string)
			if strings.TrimSpace(name) == "" {
				errs.add("source", "The source name field is required.")
			}
			next.Source = strings.TrimSpace(name)
		default:
			errs.add("source", "The source must be an object with a name.")
		}
	}
	if v, ok := m["whitelisted"]; ok {
		if next.Whitelisted, ok = parseYN(v); !ok {
			errs.add("whitelisted", "The whitelisted field must be Y or N.")
		}
	}
	if len(errs) > 0 {
		errs.write(w)
		return
	}
	next.Hash = valueHash(next.Value)
	s.data.markDuplicate(&next)
	*session.indicators[i] = next
	writeJSON(w, http.StatusOK, map[string]any{"data": renderStagedIndicator(session.indicators[i], parseWith(r.URL.Query().Get("with")))})
}

func (s *Server) handleDeleteStagedIndicator(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	session, ok := s.importSession(r)
	if !ok {
		writeNotFound(w)
		return
	}
	i := stagedIndex(session, r)
	if i < 0 {
		writeNotFound(w)
		return
	}
	session.indicators = append(session.indicators[:i], session.indicators[i+1:]...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListIndicatorTypes(w http.ResponseWriter, r *http.Request) {
	serveList(w, r, indicatorTypes, indicatorTypeFields, []string{"id", "name", "class"},
		func(t IndicatorType, _ withSpec) map[string]any { return renderIndicatorType(t) })
}

func (s *Server) handleGetIndicatorType(w http.ResponseWriter, r *http.Request) {
	serveByID(w, r, typeByID, renderIndicatorType)
}

func (s *Server) handleListStatuses(w http.ResponseWriter, r *http.Request) {
	serveList(w, r, statuses, statusFields, []string{"id", "name"},
		func(st Status, _ withSpec) map[string]any { return renderStatus(st) })
}

func (s *Server) handleGetStatus(w http.ResponseWriter, r *http.Request) {
	serveByID(w, r, statusByID, renderStatus)
}

func (s *Server) handleListEventTypes(w http.ResponseWriter, r *http.Request) {
	serveList(w, r, eventTypes, eventTypeFields, []string{"id", "name"},
		func(t EventType, _ withSpec) map[string]any { return renderEventType(t) })
}

func (s *Server) handleGetEventType(w http.ResponseWriter, r *http.Request) {
	serveByID(w, r, eventTypeByID, renderEventType)
}

// serveByID answers GET .../{id} for one of the seeded catalogues (types,
// statuses, event types): the rendered object, or 404.
func serveByID[T any](w http.ResponseWriter, r *http.Request, find func(int) (T, bool), render func(T) map[string]any) {
	id, ok := pathID(r, "id")
	v, found := find(int(id))
	if !ok || !found {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": render(v)})
}
