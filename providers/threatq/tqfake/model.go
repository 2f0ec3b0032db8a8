package tqfake

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// DateLayout is ThreatQ's date format: UTC without a zone.
const DateLayout = "2006-01-02 15:04:05"

// Indicator is a ThreatQ indicator as the emulator stores it. Zero times and
// an empty Description are served as null.
type Indicator struct {
	ID                  int64
	TypeID              int
	StatusID            int
	Class               string
	Value               string
	Hash                string
	Description         string
	Score               int
	CreatedAt           time.Time
	UpdatedAt           time.Time
	TouchedAt           time.Time
	PublishedAt         time.Time
	ExpiresAt           time.Time
	ExpiredAt           time.Time
	ExpiresCalculatedAt time.Time
	LastDetectedAt      time.Time
	Sources             []Source
	Attributes          []Attribute
}

// Source links an object to the feed or user it came from. ID is the link,
// SourceID the source itself. TLPID 0 is served as null.
type Source struct {
	ID          int64
	SourceID    int64
	Name        string
	SourceType  string
	TLPID       int
	PublishedAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Attribute is a name/value pair on an object. ID is the link, AttributeID
// the attribute name's id.
type Attribute struct {
	ID          int64
	AttributeID int64
	Name        string
	Value       string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Event is a ThreatQ event. IndicatorIDs are the indicators related to it.
type Event struct {
	ID           int64
	TypeID       int
	Title        string
	Description  string
	HappenedAt   time.Time
	Hash         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	TouchedAt    time.Time
	Sources      []Source
	Attributes   []Attribute
	IndicatorIDs []int64
}

// StagedIndicator is an indicator parsed into an import session and not yet
// committed. Zero ids and an empty ParentImportIndicatorHash are served as
// null.
type StagedIndicator struct {
	ID                        int64
	ImportID                  int64
	Value                     string
	Hash                      string
	TypeID                    int
	StatusID                  int
	Source                    string
	ImportEventID             int64
	Whitelisted               bool
	Duplicate                 bool
	DuplicateIndicatorID      int64
	CreatedIndicatorID        int64
	ParentImportIndicatorHash string
}

// StagedEvent is an event parsed into an import session.
type StagedEvent struct {
	ID          int64
	ImportID    int64
	Title       string
	Description string
	TypeID      int
	HappenedAt  time.Time
	Source      string
	Whitelisted bool
	Duplicate   bool
}

// Status is an indicator status.
type Status struct {
	ID              int
	Name            string
	Description     string
	IncludeInExport bool
}

// IndicatorType is an indicator type. ThreatQ's ids are instance specific;
// the emulator uses the alphabetical numbering most installs show.
type IndicatorType struct {
	ID               int
	Name             string
	Class            string
	WildcardMatching bool
}

// EventType is an event type.
type EventType struct {
	ID   int
	Name string
}

// installedAt is when the built-in statuses and types were created.
var installedAt = time.Date(2019, 3, 20, 13, 35, 13, 0, time.UTC)

// statuses are the five built-in indicator statuses, in id order.
var statuses = []Status{
	{1, "Active", "Poses a threat and is being exported to detection tools.", true},
	{2, "Expired", "No longer poses a serious threat.", false},
	{3, "Indirect", "Associated to an active indicator or event (i.e. pDNS).", false},
	{4, "Review", "Requires further analysis.", false},
	{5, "Whitelisted", "Poses NO risk and should never be deployed.", false},
}

// indicatorTypes are the 34 default indicator types, in id order.
var indicatorTypes = []IndicatorType{
	{1, "ASN", "network", false},
	{2, "Binary String", "host", false},
	{3, "CIDR Block", "network", false},
	{4, "CVE", "host", false},
	{5, "Email Address", "network", true},
	{6, "Email Attachment", "host", true},
	{7, "Email Subject", "network", true},
	{8, "File Mapping", "host", false},
	{9, "File Path", "host", true},
	{10, "Filename", "host", true},
	{11, "FQDN", "network", true},
	{12, "Fuzzy Hash", "host", false},
	{13, "GOST Hash", "host", false},
	{14, "Hash ION", "host", false},
	{15, "IP Address", "network", false},
	{16, "IPv6 Address", "network", false},
	{17, "MAC Address", "network", false},
	{18, "MD5", "host", false},
	{19, "Mutex", "host", true},
	{20, "Password", "host", false},
	{21, "Registry Key", "host", true},
	{22, "Service Name", "host", true},
	{23, "SHA-1", "host", false},
	{24, "SHA-256", "host", false},
	{25, "SHA-384", "host", false},
	{26, "SHA-512", "host", false},
	{27, "String", "host", true},
	{28, "x509 Serial", "host", false},
	{29, "x509 Subject", "host", true},
	{30, "URL", "network", true},
	{31, "URL Path", "network", true},
	{32, "User-agent", "network", true},
	{33, "Username", "host", false},
	{34, "X-Mailer", "network", true},
}

// eventTypes are the 14 default event types, in id order.
var eventTypes = []EventType{
	{1, "Spearphish"}, {2, "Watering Hole"}, {3, "SQL Injection Attack"}, {4, "DoS Attack"},
	{5, "Malware"}, {6, "Watchlist"}, {7, "Command and Control"}, {8, "Anonymization"},
	{9, "Exfiltration"}, {10, "Host Characteristics"}, {11, "Compromised PKI Certificate"},
	{12, "Login Compromise"}, {13, "Incident"}, {14, "Sighting"},
}

// tlpNames maps TLP ids to names; CLEAR is TLP 2.0's name for WHITE.
var tlpNames = map[int]string{1: "RED", 2: "AMBER", 3: "GREEN", 4: "WHITE"}

func tlpID(name string) (int, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if name == "CLEAR" {
		return 4, true
	}
	for id, n := range tlpNames {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

// IndicatorTypeID returns the id of the indicator type with the given name,
// compared case-insensitively.
func IndicatorTypeID(name string) (int, bool) {
	for _, t := range indicatorTypes {
		if strings.EqualFold(t.Name, name) {
			return t.ID, true
		}
	}
	return 0, false
}

// StatusID returns the id of the status with the given name, compared
// case-insensitively.
func StatusID(name string) (int, bool) {
	for _, st := range statuses {
		if strings.EqualFold(st.Name, name) {
			return st.ID, true
		}
	}
	return 0, false
}

// EventTypeID returns the id of the event type with the given name, compared
// case-insensitively.
func EventTypeID(name string) (int, bool) {
	for _, t := range eventTypes {
		if strings.EqualFold(t.Name, name) {
			return t.ID, true
		}
	}
	return 0, false
}

func typeByID(id int) (IndicatorType, bool) {
	if id < 1 || id > len(indicatorTypes) {
		return IndicatorType{}, false
	}
	return indicatorTypes[id-1], true
}

func statusByID(id int) (Status, bool) {
	if id < 1 || id > len(statuses) {
		return Status{}, false
	}
	return statuses[id-1], true
}

func eventTypeByID(id int) (EventType, bool) {
	if id < 1 || id > len(eventTypes) {
		return EventType{}, false
	}
	return eventTypes[id-1], true
}

// valueHash is the hash ThreatQ keeps for deduplication; the emulator uses
// the MD5 of the value.
func valueHash(parts ...string) string {
	sum := md5.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(DateLayout)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullID[T int | int64](id T) any {
	if id == 0 {
		return nil
	}
	return id
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// withSpec is a parsed `with` parameter: relation name to nested relations,
// so that "indicators.type" embeds indicators and, in each, its type.
type withSpec map[string]withSpec

func parseWith(s string) withSpec {
	spec := withSpec{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		node := spec
		for _, name := range strings.Split(part, ".") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				break
			}
			child, ok := node[name]
			if !ok {
				child = withSpec{}
				node[name] = child
			}
			node = child
		}
	}
	return spec
}

// unmodelledRelations are relations ThreatQ offers that the emulator holds no
// data for; asking for them embeds an empty list, as an object with no such
// links would show.
var unmodelledRelations = map[string]bool{
	"adversaries": true, "attachments": true, "comments": true, "signatures": true,
	"tags": true, "watchlist": true, "spearphish": true, "malware": true,
	"campaign": true, "incident": true, "ttp": true, "attack_pattern": true,
	"attack pattern": true, "report": true, "tool": true, "vulnerability": true,
	"course_of_action": true, "identity": true, "intrusion_set": true,
	"investigations": true, "exploit_target": true,
}

func renderIndicatorType(t IndicatorType) map[string]any {
	return map[string]any{
		"id":                t.ID,
		"name":              t.Name,
		"class":             t.Class,
		"score":             nil,
		"wildcard_matching": yn(t.WildcardMatching),
		"created_at":        formatTime(installedAt),
		"updated_at":        formatTime(installedAt),
	}
}

func renderStatus(st Status) map[string]any {
	return map[string]any{
		"id":                st.ID,
		"name":              st.Name,
		"description":       st.Description,
		"user_editable":     "N",
		"visible":           "Y",
		"include_in_export": yn(st.IncludeInExport),
		"protected":         "Y",
		"created_at":        formatTime(installedAt),
		"updated_at":        formatTime(installedAt),
	}
}

func renderEventType(t EventType) map[string]any {
	return map[string]any{
		"id":            t.ID,
		"name":          t.Name,
		"user_editable": "N",
		"created_at":    formatTime(installedAt),
		"updated_at":    formatTime(installedAt),
	}
}

func renderSources(sources []Source) []any {
	out := make([]any, 0, len(sources))
	for _, src := range sources {
		out = append(out, map[string]any{
			"id":           src.ID,
			"source_id":    src.SourceID,
			"name":         src.Name,
			"source_type":  src.SourceType,
			"tlp_id":       nullID(src.TLPID),
			"published_at": formatTime(src.PublishedAt),
			"created_at":   formatTime(src.CreatedAt),
			"updated_at":   formatTime(src.UpdatedAt),
		})
	}
	return out
}

func renderAttributes(attrs []Attribute) []any {
	out := make([]any, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, map[string]any{
			"id":           a.ID,
			"attribute_id": a.AttributeID,
			"name":         a.Name,
			"value":        a.Value,
			"created_at":   formatTime(a.CreatedAt),
			"updated_at":   formatTime(a.UpdatedAt),
		})
	}
	return out
}

// indicatorBase is the indicator without relations, as lists return it.
func indicatorBase(ind *Indicator) map[string]any {
	return map[string]any{
		"id":                    ind.ID,
		"type_id":               ind.TypeID,
		"status_id":             ind.StatusID,
		"class":                 ind.Class,
		"value":                 ind.Value,
		"hash":                  ind.Hash,
		"description":           nullString(ind.Description),
		"score":                 ind.Score,
		"created_at":            formatTime(ind.CreatedAt),
		"updated_at":            formatTime(ind.UpdatedAt),
		"touched_at":            formatTime(ind.TouchedAt),
		"published_at":          formatTime(ind.PublishedAt),
		"expires_at":            formatTime(ind.ExpiresAt),
		"expired_at":            formatTime(ind.ExpiredAt),
		"expires_calculated_at": formatTime(ind.ExpiresCalculatedAt),
		"last_detected_at":      formatTime(ind.LastDetectedAt),
	}
}

// renderIndicator returns the indicator with the relations of with. Unknown
// relation names are ignored, as ThreatQ ignores them.
func (d *dataset) renderIndicator(ind *Indicator, with withSpec) map[string]any {
	m := indicatorBase(ind)
	for rel, sub := range with {
		switch rel {
		case "type":
			if t, ok := typeByID(ind.TypeID); ok {
				m["type"] = renderIndicatorType(t)
			}
		case "status":
			if st, ok := statusByID(ind.StatusID); ok {
				m["status"] = renderStatus(st)
			}
		case "sources":
			m["sources"] = renderSources(ind.Sources)
		case "attributes":
			m["attributes"] = renderAttributes(ind.Attributes)
		case "score":
			// Asked for as a relation, the score is the scoring record, in
			// which a manual score would win over the generated one.
			m["score"] = map[string]any{
				"id":                ind.ID,
				"indicator_id":      ind.ID,
				"generated_score":   strconv.Itoa(ind.Score) + ".00",
				"manual_score":      nil,
				"score_config_hash": valueHash("score-config"),
				"created_at":        formatTime(ind.CreatedAt),
				"updated_at":        formatTime(ind.UpdatedAt),
			}
		case "events":
			events := []any{}
			for _, ev := range d.events {
				for _, id := range ev.IndicatorIDs {
					if id == ind.ID {
						events = append(events, d.renderEvent(ev, sub))
						break
					}
				}
			}
			m["events"] = events
		default:
			if unmodelledRelations[rel] {
				m[rel] = []any{}
			}
		}
	}
	return m
}

func (d *dataset) renderEvent(ev *Event, with withSpec) map[string]any {
	m := map[string]any{
		"id":          ev.ID,
		"type_id":     ev.TypeID,
		"title":       ev.Title,
		"description": nullString(ev.Description),
		"happened_at": formatTime(ev.HappenedAt),
		"hash":        ev.Hash,
		"created_at":  formatTime(ev.CreatedAt),
		"updated_at":  formatTime(ev.UpdatedAt),
		"touched_at":  formatTime(ev.TouchedAt),
	}
	for rel, sub := range with {
		switch rel {
		case "type":
			if t, ok := eventTypeByID(ev.TypeID); ok {
				m["type"] = renderEventType(t)
			}
		case "sources":
			m["sources"] = renderSources(ev.Sources)
		case "attributes":
			m["attributes"] = renderAttributes(ev.Attributes)
		case "indicators":
			inds := []any{}
			for _, id := range ev.IndicatorIDs {
				if ind, ok := d.indicatorByID[id]; ok {
					inds = append(inds, d.renderIndicator(&ind.Indicator, sub))
				}
			}
			m["indicators"] = inds
		default:
			if unmodelledRelations[rel] {
				m[rel] = []any{}
			}
		}
	}
	return m
}

// renderStagedIndicator always embeds the type, as the import routes do.
func renderStagedIndicator(si *StagedIndicator, with withSpec) map[string]any {
	m := map[string]any{
		"id":                           si.ID,
		"import_id":                    si.ImportID,
		"value":                        si.Value,
		"hash":                         si.Hash,
		"type_id":                      si.TypeID,
		"status_id":                    si.StatusID,
		"source":                       si.Source,
		"import_event_id":              nullID(si.ImportEventID),
		"whitelisted":                  yn(si.Whitelisted),
		"duplicate":                    yn(si.Duplicate),
		"duplicate_indicator_id":       nullID(si.DuplicateIndicatorID),
		"created_indicator_id":         nullID(si.CreatedIndicatorID),
		"parent_import_indicator_hash": nullString(si.ParentImportIndicatorHash),
	}
	if t, ok := typeByID(si.TypeID); ok {
		m["type"] = renderIndicatorType(t)
	}
	if _, ok := with["status"]; ok {
		if st, ok := statusByID(si.StatusID); ok {
			m["status"] = renderStatus(st)
		}
	}
	return m
}

// renderStagedEvent always embeds the type, as the import routes do.
func renderStagedEvent(se *StagedEvent, _ withSpec) map[string]any {
	m := map[string]any{
		"id":          se.ID,
		"import_id":   se.ImportID,
		"title":       se.Title,
		"description": nullString(se.Description),
		"type_id":     se.TypeID,
		"happened_at": formatTime(se.HappenedAt),
		"status_id":   nil,
		"source":      se.Source,
		"whitelisted": yn(se.Whitelisted),
		"duplicate":   yn(se.Duplicate),
	}
	if t, ok := eventTypeByID(se.TypeID); ok {
		m["type"] = renderEventType(t)
	}
	return m
}
