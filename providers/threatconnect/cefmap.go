package threatconnect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

// Fixed values of every container and artifact ingested from ThreatConnect.
const (
	containerLabel       = "threatconnect"
	containerDescription = "Ingested indicator from ThreatConnect"
	artifactLabel        = "event"
	cefDateLayout        = "2006-01-02T15:04:05Z"
)

// MapIndicator turns one ThreatConnect v3 indicator, as the API returns it
// with fields=tags, attributes and threatAssess, into a container holding a
// single artifact: the artifact's name, CEF keys and cef_types follow the
// indicator's TC type, as the SOAR app's on_poll table lists them (the
// golden files under testdata/cef hold one case per type).
//
// Bad data is mapped rather than dropped wherever the indicator can still be
// identified, so that a poll never loses an indicator over a cosmetic flaw:
//   - a value that does not fit its type (an Address whose summary is not an
//     IP, a File without a valid hash, a Registry Key without a key name) and
//     a type goshawk has no row for become a custom artifact, "<Type>
//     Artifact" with cn1 = summary and cn1Label = the type;
//   - a missing or empty dateAdded or lastModified omits deviceCustomDate1 or
//     deviceCustomDate2 with its label; one that does not parse as RFC 3339 is
//     kept as sent;
//   - rating, confidence and the threat assessment figures are added only when
//     present, numeric and finite.
//
// It returns an error, and the caller skips the indicator, only when there is
// nothing to key or show it by: no usable id, no type, or no value at all.
func MapIndicator(raw json.RawMessage) (cef.Container, error) {
	ind, err := decodeIndicator(raw)
	if err != nil {
		return cef.Container{}, err
	}
	id, err := ind.id()
	if err != nil {
		return cef.Container{}, fmt.Errorf("threatconnect: map indicator: %w; skipping it", err)
	}
	sdi := strconv.FormatInt(id, 10)
	typ := strings.TrimSpace(ind.Type)
	if typ == "" {
		return cef.Container{}, fmt.Errorf("threatconnect: map indicator %s: no type; skipping it", sdi)
	}
	summary := strings.TrimSpace(ind.Summary)

	art := mapByType(typ, summary, ind)
	if art.value == "" {
		return cef.Container{}, fmt.Errorf("threatconnect: map indicator %s: %s indicator has no summary or value; skipping it", sdi, typ)
	}
	ind.addCommon(art.cef)

	name := summary
	if name == "" {
		name = art.value
	}
	return cef.Container{
		Name:                 name,
		Label:                containerLabel,
		Severity:             cef.SeverityMedium,
		Status:               cef.StatusNew,
		Description:          containerDescription,
		SourceDataIdentifier: sdi,
		Artifacts: []cef.Artifact{{
			Name:                 art.name,
			Label:                artifactLabel,
			Type:                 typ,
			SourceDataIdentifier: sdi,
			CEF:                  art.cef,
			CEFTypes:             art.types,
		}},
	}, nil
}

// mapped is an artifact under construction; value is the indicator value it
// carries, empty when there is none.
type mapped struct {
	name  string
	value string
	cef   map[string]any
	types map[string][]string
}

func newMapped(name string) mapped {
	return mapped{name: name, cef: make(map[string]any, 8), types: make(map[string][]string, 2)}
}

func (m *mapped) set(key, value string, contains ...string) {
	m.cef[key] = value
	if len(contains) > 0 {
		m.types[key] = contains
	}
	if m.value == "" {
		m.value = value
	}
}

// mapByType applies the row of the mapping table for typ. Values come from
// the type's own field (ip, address, md5, hostName, text, ...) and else from
// the summary.
func mapByType(typ, summary string, ind *indicator) mapped {
	switch typ {
	case "Address":
		v := or(ind.IP, summary)
		m := newMapped("IP Artifact")
		switch {
		case providers.IsIPv6(v):
			m.set(cef.DeviceCustomIPv6Address1, v, cef.ContainsIPv6)
		case providers.IsIP(v):
			m.set(cef.DeviceAddress, v, cef.ContainsIP)
		default:
			return custom(typ, summary, ind)
		}
		return m
	case "EmailAddress":
		return simple(typ, summary, ind, "Email Address Artifact", cef.EmailAddress, or(ind.Address, summary), providers.IsEmail, cef.ContainsEmail)
	case "File":
		return mapFile(typ, summary, ind)
	case "Host":
		return simple(typ, summary, ind, "Domain Artifact", cef.DeviceDNSDomain, or(ind.HostName, summary), providers.IsDomain, cef.ContainsDomain)
	case "URL":
		return simple(typ, summary, ind, "URL Artifact", cef.RequestURL, or(ind.Text, summary), providers.IsURL, cef.ContainsURL)
	case "CIDR":
		return mapCIDR(typ, summary, ind)
	case "Mutex":
		return simple(typ, summary, ind, "Mutex Artifact", cef.Mutex, or(summary, ind.Mutex), nil)
	case "Registry Key":
		return mapRegistryKey(typ, summary, ind)
	case "ASN":
		return simple(typ, summary, ind, "ASN Artifact", cef.ASN, or(summary, ind.ASNumber), nil)
	case "User Agent":
		return simple(typ, summary, ind, "User Agent Artifact", cef.RequestClientApplication, or(summary, ind.UserAgent), nil)
	}
	return custom(typ, summary, ind)
}

// simple maps a type whose artifact has one CEF key. A value that fails
// check, or an empty one, makes the artifact custom.
func simple(typ, summary string, ind *indicator, name, key, v string, check func(string) bool, contains ...string) mapped {
	if v == "" || check != nil && !check(v) {
		return custom(typ, summary, ind)
	}
	m := newMapped(name)
	m.set(key, v, contains...)
	return m
}

// custom is the row for every type without one of its own, and the fallback
// for values that do not fit their type. Custom TC types carry their value
// in a field named by the type, used when the summary is empty.
func custom(typ, summary string, ind *indicator) mapped {
	m := newMapped(typ + " Artifact")
	v := summary
	if v == "" {
		v = ind.field(typ)
	}
	if v == "" {
		return m
	}
	m.set(cef.CustomString1, v)
	m.cef[cef.CustomString1Label] = typ
	return m
}

// or returns v trimmed, or fallback when that is empty.
func or(v, fallback string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return fallback
}

// mapFile takes each hash from its own field when that holds a valid digest,
// else from the summary, which TC writes as "MD5 : SHA1 : SHA256" with the
// missing ones left out; there each part is classified by its length.
func mapFile(typ, summary string, ind *indicator) mapped {
	kinds := [...]struct {
		field, key, contains string
		valid                func(string) bool
	}{
		{ind.MD5, cef.FileHashMd5, cef.ContainsMD5, providers.IsMD5},
		{ind.SHA1, cef.FileHashSha1, cef.ContainsSHA1, providers.IsSHA1},
		{ind.SHA256, cef.FileHashSha256, cef.ContainsSHA256, providers.IsSHA256},
	}
	parts := strings.Split(summary, ":")
	m := newMapped("File Artifact")
	first := ""
	for _, k := range kinds {
		v := strings.TrimSpace(k.field)
		if !k.valid(v) {
			v = ""
			for _, p := range parts {
				if p = strings.TrimSpace(p); k.valid(p) {
					v = p
					break
				}
			}
		}
		if v == "" {
			continue
		}
		m.set(k.key, v, k.contains)
		if first == "" {
			first = v
			m.cef[cef.FileHash] = v
			m.types[cef.FileHash] = []string{k.contains}
		}
	}
	if first == "" {
		return custom(typ, summary, ind)
	}
	return m
}

// mapCIDR maps a block of either family: deviceAddress is its network
// address, so "10.1.2.3/8" yields 10.0.0.0, and cidr keeps the block as
// written.
func mapCIDR(typ, summary string, ind *indicator) mapped {
	v := or(summary, ind.Block)
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return custom(typ, summary, ind)
	}
	addr := p.Masked().Addr()
	contains := cef.ContainsIP
	if addr.Is6() && !addr.Is4In6() {
		contains = cef.ContainsIPv6
	}
	m := newMapped("CIDR Artifact")
	m.set(cef.CIDR, v, cef.ContainsCIDR)
	m.set(cef.DeviceAddress, addr.String(), contains)
	m.cef[cef.CIDRPrefix] = strconv.Itoa(p.Bits())
	return m
}

// mapRegistryKey splits the summary "key : valueName : type" into at most
// three parts, tolerating missing and empty ones (the app crashed unless
// there were exactly three). It splits the summary as sent, because trimming
// first would glue an empty key name to its separator. A part missing from
// the summary is taken from the indicator's own field. Without a key name the
// value is not a registry key, so it becomes custom.
func mapRegistryKey(typ, summary string, ind *indicator) mapped {
	parts := strings.SplitN(ind.Summary, " : ", 3)
	fields := [...]struct{ key, field string }{
		{cef.RegistryKey, ind.KeyName},
		{cef.RegistryValue, ind.ValueName},
		{cef.RegistryType, ind.ValueType},
	}
	m := newMapped("Registry Key Artifact")
	for i, f := range fields {
		v := ""
		if i < len(parts) {
			v = strings.TrimSpace(parts[i])
		}
		if v = or(v, strings.TrimSpace(f.field)); v == "" {
			if i == 0 {
				return custom(typ, summary, ind)
			}
			continue
		}
		m.set(f.key, v)
	}
	return m
}

// indicator holds the fields of a v3 indicator that the mapping reads.
// encoding/json matches the names case-insensitively and, on a value of an
// unexpected JSON type, leaves that field empty and decodes the rest: a
// malformed field reads as absent rather than failing the indicator.
type indicator struct {
	ID           json.RawMessage `json:"id"`
	Type         string          `json:"type"`
	Summary      string          `json:"summary"`
	DateAdded    string          `json:"dateAdded"`
	LastModified string          `json:"lastModified"`

	IP       string `json:"ip"`
	Address  string `json:"address"`
	MD5      string `json:"md5"`
	SHA1     string `json:"sha1"`
	SHA256   string `json:"sha256"`
	HostName string `json:"hostName"`
	Text     string `json:"text"`

	// Custom types carry their value in fields named by the type.
	Block     string `json:"Block"`
	Mutex     string `json:"Mutex"`
	ASNumber  string `json:"AS Number"`
	UserAgent string `json:"User Agent String"`
	KeyName   string `json:"Key Name"`
	ValueName string `json:"Value Name"`
	ValueType string `json:"Value Type"`

	Rating                 json.RawMessage `json:"rating"`
	Confidence             json.RawMessage `json:"confidence"`
	ThreatAssessRating     json.RawMessage `json:"threatAssessRating"`
	ThreatAssessConfidence json.RawMessage `json:"threatAssessConfidence"`

	raw json.RawMessage
}

func decodeIndicator(raw json.RawMessage) (*indicator, error) {
	ind := &indicator{raw: raw}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("threatconnect: map indicator: not a JSON object; skipping it")
	}
	if err := json.Unmarshal(raw, ind); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, errors.New("threatconnect: map indicator: not a JSON object; skipping it")
		}
	}
	return ind, nil
}

// id reads the indicator id exactly: ids exceed 2^53, so they never pass
// through a float64.
func (ind *indicator) id() (int64, error) {
	raw := strings.TrimSpace(string(ind.ID))
	if raw == "" || raw == "null" {
		return 0, errors.New("indicator has no id")
	}
	if s, err := strconv.Unquote(raw); err == nil {
		raw = s
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("indicator id %.40q is not a positive integer", raw)
	}
	return id, nil
}

// field reads a string field by its exact name, for custom types whose
// field names are not known in advance. It decodes the indicator again, so
// it is only for the rare indicator without a summary.
func (ind *indicator) field(name string) string {
	var all map[string]json.RawMessage
	if json.Unmarshal(ind.raw, &all) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(all[name], &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// number reads a JSON number, or a string holding one as TC writes ratings
// ("3.00") in some places. Null, absent, non-numeric and non-finite values
// read as absent.
func number(raw json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false
	}
	if s[0] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return 0, false
		}
		s = strings.TrimSpace(u)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// addCommon adds the keys every artifact carries: the two dates with their
// labels and the indicator's scores.
func (ind *indicator) addCommon(c map[string]any) {
	if d := cefDate(ind.DateAdded); d != "" {
		c[cef.DeviceCustomDate1] = d
		c[cef.DeviceCustomDate1Label] = "Date Created"
	}
	if d := cefDate(ind.LastModified); d != "" {
		c[cef.DeviceCustomDate2] = d
		c[cef.DeviceCustomDate2Label] = "Last Modified"
	}
	scores := [...]struct {
		key string
		raw json.RawMessage
	}{
		{cef.Rating, ind.Rating},
		{cef.Confidence, ind.Confidence},
		{cef.ThreatAssessRating, ind.ThreatAssessRating},
		{cef.ThreatAssessConfidence, ind.ThreatAssessConfidence},
	}
	for _, sc := range scores {
		if v, ok := number(sc.raw); ok {
			c[sc.key] = v
		}
	}
}

// cefDate converts a TC timestamp to UTC in the CEF layout, honouring its
// offset (the app dropped it). Text that does not parse is kept as sent, so
// no information is lost.
func cefDate(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(cefDateLayout)
		}
	}
	return s
}
