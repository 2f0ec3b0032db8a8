package tcfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging limits of GET /indicators.
const (
	defaultResultLimit = 100
	maxResultLimit     = 10000
)

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	var prefix string
	switch path := r.URL.Path; {
	case strings.HasPrefix(path, "/api/v3/"):
		prefix = "/api/v3"
	case strings.HasPrefix(path, "/v3/"):
		prefix = "/v3"
	default:
		writeError(w, http.StatusNotFound, "0x1004", "no such resource: the API lives under /v3 or /api/v3")
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// TC checks the signature against the decoded and re-encoded query,
		// so a badly encoded query fails authentication.
		writeError(w, http.StatusUnauthorized, "0x1002", msgSignatureMismatch)
		return
	}
	resource := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case resource == "/security/owners" && r.Method == http.MethodGet:
		s.listOwners(w)
	case resource == "/indicators" && r.Method == http.MethodGet:
		s.searchIndicators(w, r, prefix, query)
	case resource == "/indicators" && r.Method == http.MethodPost:
		s.postIndicator(w, query, body)
	case resource == "/security/owners" || resource == "/indicators":
		writeError(w, http.StatusMethodNotAllowed, "0x1005", fmt.Sprintf("method %s is not allowed on %s", r.Method, resource))
	default:
		writeError(w, http.StatusNotFound, "0x1004", fmt.Sprintf("resource %s was not found: the emulator serves security/owners and indicators", resource))
	}
}

func (s *Server) listOwners(w http.ResponseWriter) {
	b := []byte(`{"data":[`)
	for i, o := range seedOwners {
		if i > 0 {
			b = append(b, ',')
		}
		ow := objWriter{b: append(b, '{')}
		ow.int("id", o.ID)
		ow.str("name", o.Name)
		ow.str("type", o.Type)
		ow.str("ownerRole", o.Role)
		for _, p := range permNames {
			ow.str(p, o.perm(p))
		}
		b = append(ow.b, '}')
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(len(seedOwners)), 10)
	b = append(b, `,"status":"Success"}`...)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) searchIndicators(w http.ResponseWriter, r *http.Request, prefix string, q url.Values) {
	fs, err := parseFields(q["fields"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	var expr Expr
	if t := strings.TrimSpace(q.Get("tql")); t != "" {
		if expr, err = ParseTQL(t); err != nil {
			writeError(w, http.StatusBadRequest, "0x2001", err.Error())
			return
		}
	}
	keys, err := parseSorting(q["sorting"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	start, err := intParam(q, "resultStart", 0, 0, math.MaxInt)
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	limit, err := intParam(q, "resultLimit", defaultResultLimit, 1, maxResultLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	withCount := strings.EqualFold(q.Get("count"), "true")

	s.mu.RLock()
	matches := s.data.search(expr, keys)
	total := len(matches)
	page := matches[min(start, total):]
	page = page[:min(limit, len(page))]
	b := make([]byte, 0, 512+len(page)*768)
	b = append(b, `{"data":[`...)
	for i, rec := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIndicator(b, &rec.ind, fs)
	}
	s.mu.RUnlock()

	o := objWriter{b: append(b, ']'), more: true}
	if withCount {
		o.int("count", int64(total))
	}
	if start < total && limit < total-start {
		o.str("next", s.pageLink(r, prefix, start+limit, limit))
	}
	if start > 0 {
		o.str("prev", s.pageLink(r, prefix, max(0, start-limit), limit))
	}
	o.str("status", "Success")
	writeJSON(w, http.StatusOK, append(o.b, '}'))
}

func intParam(q url.Values, key string, def, lo, hi int) (int, error) {
	raw := q.Get(key)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s %q must be an integer from %d to %d", key, raw, lo, hi)
	}
	return n, nil
}

// pageLink builds an absolute next or prev link: the same base, prefix and
// query bytes as the request, with only resultStart and resultLimit set
// anew, so a client can sign the link exactly as received.
func (s *Server) pageLink(r *http.Request, prefix string, start, limit int) string {
	s.knobMu.Lock()
	base := s.base
	s.knobMu.Unlock()
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	var parts []string
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if p == "" || k == "resultStart" || k == "resultLimit" {
			continue
		}
		parts = append(parts, p)
	}
	parts = append(parts, "resultStart="+strconv.Itoa(start), "resultLimit="+strconv.Itoa(limit))
	return base + prefix + "/indicators?" + strings.Join(parts, "&")
}

// postInput is a decoded POST /indicators body.
type postInput struct {
	ind       Indicator
	present   map[string]bool
	ownerName string
	tags      []string
	labels    []SecurityLabel
	attrs     []Attribute
}

// attributeTypes are the attribute types the emulated instance defines; the
// seed says posting any other type fails.
var attributeTypes = []string{
	"Description", "Source", "Title", "Additional Analysis and Context",
	"External Date Created", "External Date Expires", "External ID",
}

// decodePost reads a create-or-update body strictly: an unknown key, a key
// of another indicator type or a wrong value type is an error, as it would be
// a client bug against TC.
func decodePost(body []byte) (*postInput, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("request body must be a JSON object describing one indicator")
	}
	in := &postInput{present: make(map[string]bool)}
	for k, v := range raw {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(raw, k)
		}
	}
	if err := decodeString(raw, "type", &in.ind.Type); err != nil {
		return nil, err
	}
	if in.ind.Type == "" {
		return nil, fmt.Errorf("field 'type' is required: use one of %s", typeNames())
	}
	spec, ok := lookupType(in.ind.Type)
	if !ok {
		return nil, fmt.Errorf("type %q is not a valid indicator type: use one of %s", in.ind.Type, typeNames())
	}
	in.ind.Type = spec.name
	ind := &in.ind
	// Sorted, so a body with several mistakes always reports the same one.
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		in.present[k] = true
		var err error
		switch k {
		case "type":
		case "summary":
			err = decodeString(raw, k, &ind.Summary)
		case "rating":
			var f float64
			if err = json.Unmarshal(v, &f); err != nil || f < 0 || f > 5 {
				err = fmt.Errorf("field 'rating' must be a number from 0 to 5, got %s", v)
			}
			ind.Rating = &f
		case "confidence":
			var n int
			if err = json.Unmarshal(v, &n); err != nil || n < 0 || n > 100 {
				err = fmt.Errorf("field 'confidence' must be an integer from 0 to 100, got %s", v)
			}
			ind.Confidence = &n
		case "description":
			err = decodeString(raw, k, &ind.Description)
		case "ownerName":
			err = decodeString(raw, k, &in.ownerName)
		case "active":
			err = decodeBool(v, k, &ind.Active)
		case "activeLocked":
			err = decodeBool(v, k, &ind.ActiveLocked)
		case "privateFlag":
			err = decodeBool(v, k, &ind.PrivateFlag)
		case "tags":
			err = decodeTags(v, in)
		case "securityLabels":
			err = decodeLabels(v, in)
		case "attributes":
			err = decodeAttributes(v, in)
		default:
			if !spec.allows(k) {
				return nil, fmt.Errorf("field %q is not valid for a %s indicator: remove it", k, spec.name)
			}
			err = decodeTypeField(raw, k, spec, ind)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := fillValues(ind, true); err != nil {
		return nil, err
	}
	return in, nil
}

func decodeTypeField(raw map[string]json.RawMessage, k string, spec typeSpec, ind *Indicator) error {
	switch k {
	case "ip":
		return decodeString(raw, k, &ind.IP)
	case "address":
		return decodeString(raw, k, &ind.Address)
	case "md5":
		return decodeString(raw, k, &ind.MD5)
	case "sha1":
		return decodeString(raw, k, &ind.SHA1)
	case "sha256":
		return decodeString(raw, k, &ind.SHA256)
	case "hostName":
		return decodeString(raw, k, &ind.HostName)
	case "text":
		return decodeString(raw, k, &ind.Text)
	case "size":
		var n int64
		if err := json.Unmarshal(raw[k], &n); err != nil || n < 0 {
			return fmt.Errorf("field 'size' must be a non-negative integer, got %s", raw[k])
		}
		ind.Size = &n
		return nil
	case "dnsActive":
		ind.DNSActive = new(bool)
		return decodeBool(raw[k], k, ind.DNSActive)
	case "whoisActive":
		ind.WhoisActive = new(bool)
		return decodeBool(raw[k], k, ind.WhoisActive)
	}
	var v string
	if err := decodeString(raw, k, &v); err != nil {
		return err
	}
	if ind.Custom == nil {
		ind.Custom = make(map[string]string, len(spec.valueKeys))
	}
	ind.Custom[k] = v
	return nil
}

func decodeString(raw map[string]json.RawMessage, key string, dst *string) error {
	v, ok := raw[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("field %q must be a string, got %s", key, v)
	}
	return nil
}

func decodeBool(v json.RawMessage, key string, dst *bool) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("field %q must be true or false, got %s", key, v)
	}
	return nil
}

// decodeCollection reads TC's `{"data":[...]}` wrapper.
func decodeCollection(v json.RawMessage, key string, items any) error {
	var wrapper struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(v, &wrapper); err != nil || wrapper.Data == nil {
		return fmt.Errorf("field %q must be an object {\"data\":[...]}", key)
	}
	if err := json.Unmarshal(wrapper.Data, items); err != nil {
		return fmt.Errorf("field %q: data must be a list of objects: %w", key, err)
	}
	return nil
}

func decodeTags(v json.RawMessage, in *postInput) error {
	var items []struct {
		Name string `json:"name"`
	}
	if err := decodeCollection(v, "tags", &items); err != nil {
		return err
	}
	for _, t := range items {
		if strings.TrimSpace(t.Name) == "" {
			return errors.New("every tag needs a non-empty 'name'")
		}
		in.tags = append(in.tags, t.Name)
	}
	return nil
}

func decodeLabels(v json.RawMessage, in *postInput) error {
	var items []struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if err := decodeCollection(v, "securityLabels", &items); err != nil {
		return err
	}
	for _, l := range items {
		if strings.TrimSpace(l.Name) == "" {
			return errors.New("every security label needs a non-empty 'name'")
		}
		in.labels = append(in.labels, SecurityLabel{Name: l.Name, Color: l.Color, Description: l.Description})
	}
	return nil
}

func decodeAttributes(v json.RawMessage, in *postInput) error {
	var items []struct {
		Type    string `json:"type"`
		Value   string `json:"value"`
		Default bool   `json:"default"`
		Pinned  bool   `json:"pinned"`
	}
	if err := decodeCollection(v, "attributes", &items); err != nil {
		return err
	}
	for _, a := range items {
		canon := ""
		for _, t := range attributeTypes {
			if strings.EqualFold(t, a.Type) {
				canon = t
			}
		}
		if canon == "" {
			return fmt.Errorf("attribute type %q does not exist for %s indicators: use one of %s", a.Type, in.ind.Type, strings.Join(attributeTypes, ", "))
		}
		if a.Value == "" {
			return fmt.Errorf("attribute %q needs a non-empty 'value'", canon)
		}
		in.attrs = append(in.attrs, Attribute{Type: canon, Value: a.Value, Default: a.Default, Pinned: a.Pinned})
	}
	return nil
}

// postIndicator creates the indicator, or updates the one with the same
// value in the same owner; TC's POST is create-or-update.
func (s *Server) postIndicator(w http.ResponseWriter, q url.Values, body []byte) {
	fs, err := parseFields(q["fields"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	in, err := decodePost(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "0x1001", err.Error())
		return
	}
	owner := seedOwners[0]
	if in.ownerName != "" {
		o, ok := ownerByName(in.ownerName)
		if !ok {
			writeError(w, http.StatusBadRequest, "0x1001", fmt.Sprintf("owner %q does not exist: use one of %s", in.ownerName, ownerNames()))
			return
		}
		owner = o
	}
	if owner.perm("permIndicator") != "FULL" {
		writeError(w, http.StatusForbidden, "0x1003", fmt.Sprintf("these credentials may not write indicators in owner %q: post to %q instead", owner.Name, seedOwners[0].Name))
		return
	}
	in.ind.OwnerID, in.ind.OwnerName = owner.ID, owner.Name

	s.mu.Lock()
	now := s.clock().UTC().Truncate(time.Second)
	status, message := http.StatusCreated, "Created"
	var ind Indicator
	if existing := s.data.lookup(&in.ind); existing != nil {
		status, message = http.StatusOK, "Updated"
		ind = existing.ind.clone()
		mergeUpdate(&ind, in)
		_ = fillValues(&ind, false) // recompute a File summary after new hashes
	} else {
		ind = in.ind
		if !in.present["active"] {
			ind.Active = true
		}
		ind.ID = s.data.allocID()
		ind.DateAdded = now
	}
	ind.LastModified = now
	applyCollections(&ind, in, now)
	s.data.completeRefs(&ind, s.user)
	rec := s.data.put(ind)
	b := append(make([]byte, 0, 1024), `{"data":`...)
	b = appendIndicator(b, &rec.ind, fs)
	s.mu.Unlock()

	o := objWriter{b: b, more: true}
	o.str("message", message)
	o.str("status", "Success")
	writeJSON(w, status, append(o.b, '}'))
}

// mergeUpdate applies the fields a POST carried to an existing indicator.
func mergeUpdate(ind *Indicator, in *postInput) {
	p, src := in.present, &in.ind
	if p["rating"] {
		ind.Rating = src.Rating
	}
	if p["confidence"] {
		ind.Confidence = src.Confidence
	}
	if p["description"] {
		ind.Description = src.Description
	}
	if p["active"] {
		ind.Active = src.Active
	}
	if p["activeLocked"] {
		ind.ActiveLocked = src.ActiveLocked
	}
	if p["privateFlag"] {
		ind.PrivateFlag = src.PrivateFlag
	}
	if p["size"] {
		ind.Size = src.Size
	}
	if p["dnsActive"] {
		ind.DNSActive = src.DNSActive
	}
	if p["whoisActive"] {
		ind.WhoisActive = src.WhoisActive
	}
	// A File gains the hashes it did not know yet.
	if ind.Type == "File" {
		ind.MD5 = cmp.Or(ind.MD5, src.MD5)
		ind.SHA1 = cmp.Or(ind.SHA1, src.SHA1)
		ind.SHA256 = cmp.Or(ind.SHA256, src.SHA256)
	}
}

// applyCollections appends the posted tags, labels and attributes that the
// indicator does not carry yet; TC's POST appends, it never removes.
func applyCollections(ind *Indicator, in *postInput, now time.Time) {
	for _, name := range in.tags {
		found := false
		for i := range ind.Tags {
			if strings.EqualFold(ind.Tags[i].Name, name) {
				ind.Tags[i].LastUsed = now
				found = true
			}
		}
		if !found {
			ind.Tags = append(ind.Tags, Tag{Name: name, LastUsed: now})
		}
	}
	for _, l := range in.labels {
		found := false
		for _, have := range ind.SecurityLabels {
			found = found || strings.EqualFold(have.Name, l.Name)
		}
		if !found {
			ind.SecurityLabels = append(ind.SecurityLabels, l)
		}
	}
	for _, a := range in.attrs {
		found := false
		for _, have := range ind.Attributes {
			found = found || (have.Type == a.Type && have.Value == a.Value)
		}
		if !found {
			ind.Attributes = append(ind.Attributes, a)
		}
		// The default Description attribute is what TC shows as the
		// indicator's description.
		if a.Type == "Description" && a.Default {
			ind.Description = a.Value
		}
	}
}
