package tcfake

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/internal/jsonw"
)

// Indicator mirrors one ThreatConnect v3 indicator object. The per-type value
// fields are set only for their type: IP for Address, Address for
// EmailAddress, MD5/SHA1/SHA256/Size for File, HostName/DNSActive/WhoisActive
// for Host, Text for URL, and Custom for the custom types, keyed by the JSON
// field name TC uses ("AS Number", "Block", "Mutex", "Key Name", "Value Name",
// "Value Type", "User Agent String", "Subject", "Hashtag").
type Indicator struct {
	ID        int64
	OwnerID   int64
	OwnerName string
	Type      string
	Summary   string

	IP          string
	Address     string
	MD5         string
	SHA1        string
	SHA256      string
	Size        *int64
	HostName    string
	DNSActive   *bool
	WhoisActive *bool
	Text        string
	Custom      map[string]string

	Rating       *float64
	Confidence   *int
	Description  string
	DateAdded    time.Time
	LastModified time.Time
	Active       bool
	ActiveLocked bool
	PrivateFlag  bool

	Tags           []Tag
	Attributes     []Attribute
	SecurityLabels []SecurityLabel

	ThreatAssessRating     *float64
	ThreatAssessConfidence *float64
	ThreatAssessScore      *float64
	CalScore               *int
}

// Tag is one entry of an indicator's tags.data collection.
type Tag struct {
	ID       int64
	Name     string
	LastUsed time.Time
}

// SecurityLabel is one entry of an indicator's securityLabels.data collection.
type SecurityLabel struct {
	ID          int64
	Name        string
	Description string
	Color       string
	Owner       string
	DateAdded   time.Time
}

// Attribute is one entry of an indicator's attributes.data collection.
type Attribute struct {
	ID           int64
	Type         string
	Value        string
	Pinned       bool
	Default      bool
	CreatedBy    User
	DateAdded    time.Time
	LastModified time.Time
}

// User is the createdBy object of an attribute.
type User struct {
	ID        int64
	Owner     string
	UserName  string
	FirstName string
	LastName  string
	Pseudonym string
}

// clone returns a deep copy, so callers never share slices, maps or pointers
// with the dataset that the handler reads under its lock.
func (ind Indicator) clone() Indicator {
	c := ind
	c.Size = clonePtr(ind.Size)
	c.DNSActive = clonePtr(ind.DNSActive)
	c.WhoisActive = clonePtr(ind.WhoisActive)
	c.Rating = clonePtr(ind.Rating)
	c.Confidence = clonePtr(ind.Confidence)
	c.ThreatAssessRating = clonePtr(ind.ThreatAssessRating)
	c.ThreatAssessConfidence = clonePtr(ind.ThreatAssessConfidence)
	c.ThreatAssessScore = clonePtr(ind.ThreatAssessScore)
	c.CalScore = clonePtr(ind.CalScore)
	c.Custom = maps.Clone(ind.Custom)
	c.Tags = slices.Clone(ind.Tags)
	c.Attributes = slices.Clone(ind.Attributes)
	c.SecurityLabels = slices.Clone(ind.SecurityLabels)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// typeSpec describes one indicator type TC knows.
type typeSpec struct {
	name string
	// valueKeys are the POST body keys that carry the value; for a custom
	// type they are also its Custom keys, in summary order.
	valueKeys []string
	// extraKeys are the other type-specific keys a POST body may carry.
	extraKeys []string
	custom    bool
	// legacyPage names the page of the legacy web UI link.
	legacyPage string
}

func (s typeSpec) allows(key string) bool {
	return slices.Contains(s.valueKeys, key) || slices.Contains(s.extraKeys, key)
}

var indicatorTypes = func() map[string]typeSpec {
	specs := []typeSpec{
		{name: "Address", valueKeys: []string{"ip"}, legacyPage: "address"},
		{name: "EmailAddress", valueKeys: []string{"address"}, legacyPage: "emailaddress"},
		{name: "File", valueKeys: []string{"md5", "sha1", "sha256"}, extraKeys: []string{"size"}, legacyPage: "file"},
		{name: "Host", valueKeys: []string{"hostName"}, extraKeys: []string{"dnsActive", "whoisActive"}, legacyPage: "host"},
		{name: "URL", valueKeys: []string{"text"}, legacyPage: "url"},
		{name: "ASN", valueKeys: []string{"AS Number"}, custom: true},
		{name: "CIDR", valueKeys: []string{"Block"}, custom: true},
		{name: "Mutex", valueKeys: []string{"Mutex"}, custom: true},
		{name: "Registry Key", valueKeys: []string{"Key Name", "Value Name", "Value Type"}, custom: true},
		{name: "User Agent", valueKeys: []string{"User Agent String"}, custom: true},
		{name: "Email Subject", valueKeys: []string{"Subject"}, custom: true},
		{name: "Hashtag", valueKeys: []string{"Hashtag"}, custom: true},
	}
	m := make(map[string]typeSpec, len(specs))
	for _, s := range specs {
		if s.custom {
			s.legacyPage = "customIndicator"
		}
		m[strings.ToLower(s.name)] = s
	}
	return m
}()

// typeNames lists the known types for error messages, in a stable order.
func typeNames() string {
	names := make([]string, 0, len(indicatorTypes))
	for _, s := range indicatorTypes {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func lookupType(name string) (typeSpec, bool) {
	s, ok := indicatorTypes[strings.ToLower(name)]
	return s, ok
}

// registryValueTypes are the value types TC accepts for Registry Key indicators.
var registryValueTypes = []string{
	"REG_NONE", "REG_BINARY", "REG_DWORD", "REG_DWORD_LITTLE_ENDIAN", "REG_DWORD_BIG_ENDIAN",
	"REG_EXPAND_SZ", "REG_LINK", "REG_MULTI_SZ", "REG_QWORD", "REG_QWORD_LITTLE_ENDIAN", "REG_SZ",
}

// summarySep joins the parts of multi-value summaries (File hashes, Registry Key).
const summarySep = " : "

// fillValues makes the summary and the per-type value fields agree: the
// summary is derived from the fields when they are set, and the fields from
// the summary otherwise. With validate it also rejects values TC would refuse;
// the message is the one the 400 envelope carries.
func fillValues(ind *Indicator, validate bool) error {
	spec, ok := lookupType(ind.Type)
	if !ok {
		return fmt.Errorf("type %q is not a valid indicator type: use one of %s", ind.Type, typeNames())
	}
	ind.Type = spec.name
	summary := strings.TrimSpace(ind.Summary)
	switch spec.name {
	case "Address":
		if ind.IP == "" {
			ind.IP = summary
		}
		ind.Summary = ind.IP
		if validate {
			if addr, err := netip.ParseAddr(ind.IP); err != nil || addr.Zone() != "" {
				return fmt.Errorf("field 'ip' must be an IPv4 or IPv6 address without zone, got %q", ind.IP)
			}
		}
	case "EmailAddress":
		if ind.Address == "" {
			ind.Address = summary
		}
		ind.Summary = ind.Address
		if validate && (!strings.Contains(ind.Address, "@") || strings.ContainsAny(ind.Address, " \t\r\n")) {
			return fmt.Errorf("field 'address' must be an email address, got %q", ind.Address)
		}
	case "File":
		if ind.MD5 == "" && ind.SHA1 == "" && ind.SHA256 == "" && summary != "" {
			for _, part := range strings.Split(summary, ":") {
				h := strings.TrimSpace(part)
				switch len(h) {
				case 32:
					ind.MD5 = h
				case 40:
					ind.SHA1 = h
				case 64:
					ind.SHA256 = h
				default:
					if validate {
						return fmt.Errorf("file summary part %q is not an MD5, SHA1 or SHA256 hash: separate hashes with ' : '", h)
					}
				}
			}
		}
		// TC stores hashes upper case, so a lower-case post finds the same file.
		ind.MD5, ind.SHA1, ind.SHA256 = strings.ToUpper(ind.MD5), strings.ToUpper(ind.SHA1), strings.ToUpper(ind.SHA256)
		ind.Summary = fileSummary(ind)
		if validate {
			for _, h := range []struct {
				key, v string
				n      int
			}{{"md5", ind.MD5, 32}, {"sha1", ind.SHA1, 40}, {"sha256", ind.SHA256, 64}} {
				if h.v != "" && !isHex(h.v, h.n) {
					return fmt.Errorf("field '%s' must be %d hexadecimal characters, got %q", h.key, h.n, h.v)
				}
			}
		}
	case "Host":
		if ind.HostName == "" {
			ind.HostName = summary
		}
		ind.Summary = ind.HostName
		if validate && strings.ContainsAny(ind.HostName, " \t\r\n/@") {
			return fmt.Errorf("field 'hostName' must be a host name without spaces, '/' or '@', got %q", ind.HostName)
		}
	case "URL":
		if ind.Text == "" {
			ind.Text = summary
		}
		ind.Summary = ind.Text
		if validate {
			if u, err := url.Parse(ind.Text); err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("field 'text' must be a URL with a scheme and a host, got %q", ind.Text)
			}
		}
	default:
		fillCustom(ind, spec, summary)
		if validate {
			if err := validateCustom(ind, spec); err != nil {
				return err
			}
		}
	}
	if ind.Summary == "" || (spec.name == "File" && ind.MD5 == "" && ind.SHA1 == "" && ind.SHA256 == "") {
		return fmt.Errorf("an indicator of type %s needs a value: set %s or summary", spec.name, quoteKeys(spec))
	}
	return nil
}

func fillCustom(ind *Indicator, spec typeSpec, summary string) {
	empty := true
	for _, k := range spec.valueKeys {
		if ind.Custom[k] != "" {
			empty = false
		}
	}
	if empty && summary != "" {
		parts := []string{summary}
		if len(spec.valueKeys) > 1 {
			parts = strings.SplitN(summary, summarySep, len(spec.valueKeys))
		}
		if ind.Custom == nil {
			ind.Custom = make(map[string]string, len(spec.valueKeys))
		}
		for i, k := range spec.valueKeys {
			if i < len(parts) {
				ind.Custom[k] = strings.TrimSpace(parts[i])
			}
		}
	}
	if len(spec.valueKeys) == 1 {
		ind.Summary = ind.Custom[spec.valueKeys[0]]
		return
	}
	parts := make([]string, len(spec.valueKeys))
	for i, k := range spec.valueKeys {
		parts[i] = ind.Custom[k]
	}
	if ind.Custom[spec.valueKeys[0]] == "" {
		ind.Summary = ""
		return
	}
	ind.Summary = strings.Join(parts, summarySep)
}

func validateCustom(ind *Indicator, spec typeSpec) error {
	switch spec.name {
	case "CIDR":
		if _, err := netip.ParsePrefix(ind.Custom["Block"]); err != nil && ind.Custom["Block"] != "" {
			return fmt.Errorf("field 'Block' must be a CIDR block such as 10.0.0.0/8, got %q", ind.Custom["Block"])
		}
	case "Registry Key":
		vt := ind.Custom["Value Type"]
		if vt == "" || !slices.Contains(registryValueTypes, vt) {
			return fmt.Errorf("field 'Value Type' must be one of %s, got %q", strings.Join(registryValueTypes, ", "), vt)
		}
	}
	return nil
}

func quoteKeys(spec typeSpec) string {
	keys := spec.valueKeys
	if spec.name == "Registry Key" {
		keys = []string{"Key Name", "Value Type"}
	}
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + k + "'"
	}
	return strings.Join(q, " or ")
}

func fileSummary(ind *Indicator) string {
	parts := make([]string, 0, 3)
	for _, h := range []string{ind.MD5, ind.SHA1, ind.SHA256} {
		if h != "" {
			parts = append(parts, h)
		}
	}
	return strings.Join(parts, summarySep)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// identityKeys returns the values under which an indicator is unique within
// its owner. A File has one key per hash, since posting any of its hashes
// updates it.
func identityKeys(ind *Indicator) []string {
	prefix := strconv.FormatInt(ind.OwnerID, 10) + "|" + ind.Type + "|"
	if ind.Type == "File" {
		var keys []string
		for _, h := range []string{ind.MD5, ind.SHA1, ind.SHA256} {
			if h != "" {
				keys = append(keys, prefix+h)
			}
		}
		return keys
	}
	return []string{prefix + canonicalValue(ind.Type, ind.Summary)}
}

// canonicalValue folds case where TC treats values case-insensitively.
func canonicalValue(typ, v string) string {
	switch typ {
	case "Address", "EmailAddress", "Host":
		return strings.ToLower(v)
	case "File":
		return strings.ToUpper(v)
	}
	return v
}

// fieldSet selects the extras a request asked for with fields=.
type fieldSet uint8

const (
	fieldTags fieldSet = 1 << iota
	fieldAttributes
	fieldSecurityLabels
	fieldThreatAssess
)

var fieldNames = map[string]fieldSet{
	"tags":           fieldTags,
	"attributes":     fieldAttributes,
	"securitylabels": fieldSecurityLabels,
	"threatassess":   fieldThreatAssess,
}

// parseFields resolves repeated fields= values; TC answers an unknown one with
// 400 0x1001, which the caller produces from the returned error.
func parseFields(values []string) (fieldSet, error) {
	var fs fieldSet
	for _, v := range values {
		f, ok := fieldNames[strings.ToLower(strings.TrimSpace(v))]
		if !ok {
			return 0, fmt.Errorf("fields value %q is not known: use tags, attributes, securityLabels or threatAssess", v)
		}
		fs |= f
	}
	return fs, nil
}

// webBase is the host of the web UI links, as in the seed's examples.
const webBase = "https://testxyz.threatconnect.com"

const dateLayout = "2006-01-02T15:04:05Z"

// MarshalJSON renders the indicator as TC's v3 API returns it when every
// extra is requested (fields tags, attributes, securityLabels and
// threatAssess), so tests elsewhere can build fixtures in TC's exact shape.
func (ind Indicator) MarshalJSON() ([]byte, error) {
	return appendIndicator(nil, &ind, fieldTags|fieldAttributes|fieldSecurityLabels|fieldThreatAssess), nil
}

// appendIndicator writes the v3 JSON of ind. It is hand-written rather than
// reflected because TC's shape needs ratings with two decimals, ids that stay
// integers, custom-type keys with spaces and sub-collections only on request.
func appendIndicator(b []byte, ind *Indicator, fs fieldSet) []byte {
	o := objWriter{b: append(b, '{')}
	o.int("id", ind.ID)
	o.int("ownerId", ind.OwnerID)
	o.str("ownerName", ind.OwnerName)
	o.time("dateAdded", ind.DateAdded)
	o.str("webLink", webBase+"/#/details/indicators/"+strconv.FormatInt(ind.ID, 10))
	o.str("legacyLink", legacyLink(ind))
	o.str("type", ind.Type)
	o.time("lastModified", ind.LastModified)
	if ind.Rating != nil {
		o.raw("rating", strconv.FormatFloat(*ind.Rating, 'f', 2, 64))
	}
	if ind.Confidence != nil {
		o.int("confidence", int64(*ind.Confidence))
	}
	if fs&fieldThreatAssess != 0 {
		if ind.ThreatAssessRating != nil {
			o.raw("threatAssessRating", strconv.FormatFloat(*ind.ThreatAssessRating, 'f', 2, 64))
		}
		if ind.ThreatAssessConfidence != nil {
			o.raw("threatAssessConfidence", strconv.FormatFloat(*ind.ThreatAssessConfidence, 'f', 2, 64))
		}
		if ind.ThreatAssessScore != nil {
			o.raw("threatAssessScore", strconv.FormatFloat(*ind.ThreatAssessScore, 'f', -1, 64))
		}
		if ind.CalScore != nil {
			o.int("calScore", int64(*ind.CalScore))
		}
	}
	if ind.Description != "" {
		o.str("description", ind.Description)
	}
	o.str("summary", ind.Summary)
	o.bool("privateFlag", ind.PrivateFlag)
	o.bool("active", ind.Active)
	o.bool("activeLocked", ind.ActiveLocked)
	appendTypeFields(&o, ind)
	if fs&fieldTags != 0 && len(ind.Tags) > 0 {
		o.key("tags")
		o.b = appendTags(o.b, ind.Tags)
	}
	if fs&fieldSecurityLabels != 0 && len(ind.SecurityLabels) > 0 {
		o.key("securityLabels")
		o.b = appendLabels(o.b, ind.SecurityLabels)
	}
	if fs&fieldAttributes != 0 && len(ind.Attributes) > 0 {
		o.key("attributes")
		o.b = appendAttributes(o.b, ind.Attributes)
	}
	return append(o.b, '}')
}

func appendTypeFields(o *objWriter, ind *Indicator) {
	switch ind.Type {
	case "Address":
		o.str("ip", ind.IP)
	case "EmailAddress":
		o.str("address", ind.Address)
	case "File":
		o.strOmit("md5", ind.MD5)
		o.strOmit("sha1", ind.SHA1)
		o.strOmit("sha256", ind.SHA256)
		if ind.Size != nil {
			o.int("size", *ind.Size)
		}
	case "Host":
		o.str("hostName", ind.HostName)
		if ind.DNSActive != nil {
			o.bool("dnsActive", *ind.DNSActive)
		}
		if ind.WhoisActive != nil {
			o.bool("whoisActive", *ind.WhoisActive)
		}
	case "URL":
		o.str("text", ind.Text)
	default:
		if spec, ok := lookupType(ind.Type); ok {
			for _, k := range spec.valueKeys {
				o.str(k, ind.Custom[k])
			}
			return
		}
		// A type planted with AddIndicator that TC does not know: emit its
		// custom fields in a stable order.
		for _, k := range slices.Sorted(maps.Keys(ind.Custom)) {
			o.str(k, ind.Custom[k])
		}
	}
}

func legacyLink(ind *Indicator) string {
	page := "customIndicator"
	if spec, ok := lookupType(ind.Type); ok {
		page = spec.legacyPage
	}
	owner := url.QueryEscape(ind.OwnerName)
	switch page {
	case "url":
		return fmt.Sprintf("%s/auth/indicators/details/url.xhtml?orgid=%d&owner=%s", webBase, ind.ID, owner)
	case "customIndicator":
		return fmt.Sprintf("%s/auth/indicators/details/customIndicator.xhtml?id=%d&owner=%s", webBase, ind.ID, owner)
	}
	return fmt.Sprintf("%s/auth/indicators/details/%s.xhtml?%s=%s&owner=%s", webBase, page, page, url.QueryEscape(ind.Summary), owner)
}

func appendTags(b []byte, tags []Tag) []byte {
	b = append(b, `{"data":[`...)
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		o := objWriter{b: append(b, '{')}
		o.int("id", t.ID)
		o.str("name", t.Name)
		o.time("lastUsed", t.LastUsed)
		b = append(o.b, '}')
	}
	return append(b, "]}"...)
}

func appendLabels(b []byte, labels []SecurityLabel) []byte {
	b = append(b, `{"data":[`...)
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		o := objWriter{b: append(b, '{')}
		o.int("id", l.ID)
		o.str("name", l.Name)
		o.str("description", l.Description)
		o.str("color", l.Color)
		o.str("owner", l.Owner)
		o.time("dateAdded", l.DateAdded)
		b = append(o.b, '}')
	}
	return append(b, "]}"...)
}

func appendAttributes(b []byte, attrs []Attribute) []byte {
	b = append(b, `{"data":[`...)
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		o := objWriter{b: append(b, '{')}
		o.int("id", a.ID)
		o.str("type", a.Type)
		o.str("value", a.Value)
		o.bool("pinned", a.Pinned)
		o.bool("default", a.Default)
		o.key("createdBy")
		u := objWriter{b: append(o.b, '{')}
		u.int("id", a.CreatedBy.ID)
		u.str("owner", a.CreatedBy.Owner)
		u.str("userName", a.CreatedBy.UserName)
		u.str("firstName", a.CreatedBy.FirstName)
		u.str("lastName", a.CreatedBy.LastName)
		u.str("pseudonym", a.CreatedBy.Pseudonym)
		o.b = append(u.b, '}')
		o.time("dateAdded", a.DateAdded)
		o.time("lastModified", a.LastModified)
		b = append(o.b, '}')
	}
	return append(b, "]}"...)
}

// objWriter appends the members of one JSON object, inserting the commas.
type objWriter struct {
	b    []byte
	more bool
}

func (o *objWriter) key(k string) {
	if o.more {
		o.b = append(o.b, ',')
	}
	o.more = true
	o.b = jsonw.AppendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *objWriter) str(k, v string) {
	o.key(k)
	o.b = jsonw.AppendString(o.b, v)
}

func (o *objWriter) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *objWriter) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *objWriter) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *objWriter) time(k string, t time.Time) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = t.UTC().AppendFormat(o.b, dateLayout)
	o.b = append(o.b, '"')
}

func (o *objWriter) raw(k, v string) {
	o.key(k)
	o.b = append(o.b, v...)
}
