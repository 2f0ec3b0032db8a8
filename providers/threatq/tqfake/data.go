package tqfake

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// Notable seeded values, for tests. The seed holds a few dozen indicators of
// several types, statuses and scores, six events and two import sessions.
const (
	// SeedIP is an Active IP Address with score 7, the source
	// "www.dan.me.uk Tor Node List" and the attribute Router Port = 9000.
	SeedIP   = "107.189.1.90"
	SeedIPID = int64(1)
	// SeedFQDN is an Active FQDN with score 8 and the attribute
	// Confidence = High; SeedFQDNID is its id.
	SeedFQDN   = "baddomain.com"
	SeedFQDNID = int64(8)
	// SeedURL, SeedEmail, SeedMD5 and SeedSHA256 are Active indicators of
	// their types.
	SeedURL    = "http://baddomain.com/login.php"
	SeedEmail  = "phisher@baddomain.com"
	SeedMD5    = "161fb353ab7e67341fd6a767aa596676"
	SeedSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	// SeedWhitelistedIP has the status Whitelisted and score 0.
	SeedWhitelistedIP = "8.8.8.8"
	// SeedSearchTerm occurs in exactly three seeded values (two FQDNs and
	// a URL), for `%term%` searches.
	SeedSearchTerm = "test.com"
	// SeedSourceName is a source on several seeded indicators.
	SeedSourceName = "www.dan.me.uk Tor Node List"

	// SeedEventID is a Spearphish event related to four indicators.
	SeedEventID    = int64(1)
	SeedEventTitle = "Invoice phishing against finance"

	// SeedImportID is an import session with four staged indicators and two
	// staged events; SeedSecondImportID has two indicators and one event.
	SeedImportID       = int64(1)
	SeedSecondImportID = int64(2)
	// SeedStagedIndicatorID is a plain staged IP Address (99.99.99.96) in
	// SeedImportID.
	SeedStagedIndicatorID = int64(2)
	// SeedDuplicateStagedIndicatorID stages SeedFQDN again, so it is a
	// duplicate of SeedFQDNID.
	SeedDuplicateStagedIndicatorID = int64(3)
	// SeedWhitelistedStagedIndicatorID is staged with whitelisted "Y".
	SeedWhitelistedStagedIndicatorID = int64(4)
	// SeedStagedEventID is a staged event in SeedImportID.
	SeedStagedEventID = int64(1)
)

// indicator is a stored indicator with the lower-cased strings the query
// evaluator compares, computed once on write instead of on every scan.
type indicator struct {
	Indicator
	lowerValue   string
	lowerDesc    string
	lowerSources []string    // source names
	lowerAttrs   [][2]string // attribute name, value
}

type sourceDef struct {
	id   int64
	name string
	typ  string
}

type importSession struct {
	id         int64
	indicators []*StagedIndicator
	events     []*StagedEvent
}

// dataset is the emulator's library. Its methods expect the caller to hold
// Server.mu.
type dataset struct {
	indicators     []*indicator // ascending id
	indicatorByID  map[int64]*indicator
	indicatorByKey map[string]*indicator // see indicatorKey
	events         []*Event              // ascending id
	eventByID      map[int64]*Event
	imports        map[int64]*importSession
	sources        map[string]sourceDef // by lower-cased name
	attributeIDs   map[string]int64     // by lower-cased name

	nextIndicatorID, nextEventID, nextLinkID, nextSourceID, nextAttributeID int64
	nextStagedIndicatorID, nextStagedEventID                                int64
}

// indicatorKey identifies an indicator for upserts: ThreatQ keeps one
// indicator per value and type, comparing values case-insensitively.
func indicatorKey(value string, typeID int) string {
	return strconv.Itoa(typeID) + "\x00" + strings.ToLower(value)
}

func newDataset(now time.Time, seed bool) *dataset {
	d := &dataset{
		indicatorByID:  map[int64]*indicator{},
		indicatorByKey: map[string]*indicator{},
		eventByID:      map[int64]*Event{},
		imports:        map[int64]*importSession{},
		sources:        map[string]sourceDef{},
		attributeIDs:   map[string]int64{},
	}
	if seed {
		d.seed(now)
	}
	return d
}

func (d *dataset) source(name, typ string) sourceDef {
	key := strings.ToLower(name)
	if src, ok := d.sources[key]; ok {
		return src
	}
	if typ == "" {
		typ = "users"
	}
	d.nextSourceID++
	src := sourceDef{id: d.nextSourceID, name: name, typ: typ}
	d.sources[key] = src
	return src
}

func (d *dataset) sourceLink(name, typ string, tlp int, published, now time.Time) Source {
	src := d.source(name, typ)
	d.nextLinkID++
	return Source{
		ID: d.nextLinkID, SourceID: src.id, Name: src.name, SourceType: src.typ,
		TLPID: tlp, PublishedAt: published, CreatedAt: now, UpdatedAt: now,
	}
}

func (d *dataset) attribute(name, value string, now time.Time) Attribute {
	key := strings.ToLower(name)
	id, ok := d.attributeIDs[key]
	if !ok {
		d.nextAttributeID++
		id = d.nextAttributeID
		d.attributeIDs[key] = id
	}
	d.nextLinkID++
	return Attribute{ID: d.nextLinkID, AttributeID: id, Name: name, Value: value, CreatedAt: now, UpdatedAt: now}
}

// addIndicator stores ind, filling in what a server assigns: the id, class,
// hash, dates and the ids of its source and attribute links.
func (d *dataset) addIndicator(ind Indicator, now time.Time) *indicator {
	if ind.ID == 0 {
		d.nextIndicatorID++
		ind.ID = d.nextIndicatorID
	} else if ind.ID > d.nextIndicatorID {
		d.nextIndicatorID = ind.ID
	}
	if ind.StatusID == 0 {
		ind.StatusID = 1
	}
	if t, ok := typeByID(ind.TypeID); ok && ind.Class == "" {
		ind.Class = t.Class
	}
	if ind.Hash == "" {
		ind.Hash = valueHash(ind.Value)
	}
	if ind.CreatedAt.IsZero() {
		ind.CreatedAt = now
	}
	if ind.UpdatedAt.IsZero() {
		ind.UpdatedAt = ind.CreatedAt
	}
	if ind.TouchedAt.IsZero() {
		ind.TouchedAt = ind.UpdatedAt
	}
	ind.Sources = append([]Source(nil), ind.Sources...)
	for i := range ind.Sources {
		src := &ind.Sources[i]
		def := d.source(src.Name, src.SourceType)
		src.SourceID, src.Name, src.SourceType = def.id, def.name, def.typ
		if src.ID == 0 {
			d.nextLinkID++
			src.ID = d.nextLinkID
		}
		if src.CreatedAt.IsZero() {
			src.CreatedAt, src.UpdatedAt = ind.CreatedAt, ind.CreatedAt
		}
	}
	ind.Attributes = append([]Attribute(nil), ind.Attributes...)
	for i := range ind.Attributes {
		a := &ind.Attributes[i]
		stored := d.attribute(a.Name, a.Value, ind.CreatedAt)
		if a.ID != 0 {
			stored.ID = a.ID
		}
		*a = stored
	}

	rec := &indicator{Indicator: ind}
	rec.refresh()
	if old, ok := d.indicatorByID[ind.ID]; ok {
		d.removeIndicator(old.ID)
	}
	d.indicatorByID[ind.ID] = rec
	key := indicatorKey(ind.Value, ind.TypeID)
	if _, ok := d.indicatorByKey[key]; !ok {
		d.indicatorByKey[key] = rec
	}
	n := len(d.indicators)
	if n == 0 || d.indicators[n-1].ID < ind.ID {
		d.indicators = append(d.indicators, rec)
	} else {
		i := sort.Search(n, func(i int) bool { return d.indicators[i].ID > ind.ID })
		d.indicators = append(d.indicators, nil)
		copy(d.indicators[i+1:], d.indicators[i:])
		d.indicators[i] = rec
	}
	return rec
}

// refresh recomputes the lower-cased copies; call it after every change.
func (rec *indicator) refresh() {
	rec.lowerValue = strings.ToLower(rec.Value)
	rec.lowerDesc = strings.ToLower(rec.Description)
	rec.lowerSources = rec.lowerSources[:0]
	for _, src := range rec.Sources {
		rec.lowerSources = append(rec.lowerSources, strings.ToLower(src.Name))
	}
	rec.lowerAttrs = rec.lowerAttrs[:0]
	for _, a := range rec.Attributes {
		rec.lowerAttrs = append(rec.lowerAttrs, [2]string{strings.ToLower(a.Name), strings.ToLower(a.Value)})
	}
}

func (d *dataset) removeIndicator(id int64) bool {
	rec, ok := d.indicatorByID[id]
	if !ok {
		return false
	}
	delete(d.indicatorByID, id)
	key := indicatorKey(rec.Value, rec.TypeID)
	if d.indicatorByKey[key] == rec {
		delete(d.indicatorByKey, key)
	}
	i := sort.Search(len(d.indicators), func(i int) bool { return d.indicators[i].ID >= id })
	d.indicators = append(d.indicators[:i], d.indicators[i+1:]...)
	return true
}

func (d *dataset) addEvent(ev Event) *Event {
	d.nextEventID++
	ev.ID = d.nextEventID
	if ev.Hash == "" {
		ev.Hash = valueHash(ev.Title, ev.HappenedAt.Format(DateLayout))
	}
	if ev.UpdatedAt.IsZero() {
		ev.UpdatedAt = ev.CreatedAt
	}
	if ev.TouchedAt.IsZero() {
		ev.TouchedAt = ev.UpdatedAt
	}
	stored := &ev
	d.events = append(d.events, stored)
	d.eventByID[ev.ID] = stored
	return stored
}

// markDuplicate sets a staged indicator's duplicate flag from the library.
func (d *dataset) markDuplicate(si *StagedIndicator) {
	si.Duplicate, si.DuplicateIndicatorID = false, 0
	if rec, ok := d.indicatorByKey[indicatorKey(si.Value, si.TypeID)]; ok {
		si.Duplicate, si.DuplicateIndicatorID = true, rec.ID
	}
}

func (d *dataset) stageIndicator(importID int64, si StagedIndicator) {
	d.nextStagedIndicatorID++
	si.ID, si.ImportID = d.nextStagedIndicatorID, importID
	si.Hash = valueHash(si.Value)
	d.markDuplicate(&si)
	session := d.imports[importID]
	session.indicators = append(session.indicators, &si)
}

func (d *dataset) stageEvent(importID int64, se StagedEvent) {
	d.nextStagedEventID++
	se.ID, se.ImportID = d.nextStagedEventID, importID
	session := d.imports[importID]
	session.events = append(session.events, &se)
}

type seedSource struct {
	name, typ string
	tlp       int
}

var seedSources = []seedSource{
	{SeedSourceName, "connectors", 4},
	{"Domain Tools", "connectors", 2},
	{"Analyst Notes", "users", 3},
	{"Primary Contributor", "users", 0},
	{"Customer Admin", "users", 1},
}

type seedIndicator struct {
	typ, value, status string
	score              int
	description        string
	sources            []int // indexes into seedSources
	attributes         []string
}

// seedIndicators is the seeded library, in id order. Their ids are their
// positions plus one, which the Seed*ID constants rely on.
var seedIndicators = []seedIndicator{
	{"IP Address", SeedIP, "Active", 7, "Tor exit node.", []int{0}, []string{"Router Port", "9000"}},
	{"IP Address", "68.68.21.21", "Review", 5, "", []int{3}, nil},
	{"IP Address", "45.33.32.156", "Expired", 3, "Scanner seen in 2019.", []int{2}, nil},
	{"IP Address", SeedWhitelistedIP, "Whitelisted", 0, "Public resolver.", []int{4}, nil},
	{"IP Address", "185.220.101.4", "Active", 9, "Tor exit node.", []int{0, 1}, []string{"Router Port", "443", "Country", "DE"}},
	{"IP Address", "203.0.113.77", "Indirect", 4, "pDNS resolution of baddomain.com.", []int{1}, nil},
	{"IPv6 Address", "2001:db8::bad:1", "Active", 6, "", []int{0}, nil},
	{"FQDN", SeedFQDN, "Active", 8, "Phishing landing domain.", []int{1, 2}, []string{"Confidence", "High"}},
	{"FQDN", "helloworld.com", "Review", 6, "", []int{3}, []string{"Confidence", "Medium"}},
	{"FQDN", "www.test.com", "Active", 6, "", []int{2}, nil},
	{"FQDN", "mail.test.com", "Review", 2, "", []int{2}, nil},
	{"FQDN", "login-microsoftonline.example.net", "Active", 10, "Credential harvesting.", []int{1, 4}, []string{"Confidence", "High"}},
	{"FQDN", "update.windows-cdn.org", "Active", 7, "Emotet C2.", []int{1}, nil},
	{"FQDN", "old-c2.example.org", "Expired", 1, "", []int{1}, nil},
	{"URL", SeedURL, "Active", 8, "", []int{2}, []string{"Scheme", "http"}},
	{"URL", "https://www.test.com/invoice.zip", "Review", 5, "", []int{2}, []string{"Scheme", "https"}},
	{"Email Address", SeedEmail, "Active", 7, "Sender of the invoice lure.", []int{2}, nil},
	{"Email Address", "billing@helloworld.com", "Review", 3, "", []int{3}, nil},
	{"Email Subject", "Invoice overdue - action required", "Active", 4, "", []int{2}, nil},
	{"MD5", SeedMD5, "Active", 9, "Emotet loader.", []int{1}, []string{"Malware Family", "Emotet"}},
	{"MD5", "44d88612fea8a8f36de82e1278abb02f", "Active", 10, "EICAR test file.", []int{4}, []string{"Malware Family", "EICAR"}},
	{"SHA-1", "3395856ce81f2b7382dee72602f798b642f14140", "Active", 10, "EICAR test file.", []int{4}, nil},
	{"SHA-256", SeedSHA256, "Active", 10, "EICAR test file.", []int{4}, []string{"Malware Family", "EICAR"}},
	{"SHA-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Whitelisted", 0, "Empty file.", []int{4}, nil},
	{"CIDR Block", "19.34.0.0/16", "Review", 2, "", []int{3}, nil},
	{"CVE", "CVE-2021-44228", "Active", 10, "Log4Shell.", []int{2}, []string{"Severity", "Critical"}},
	{"Filename", "invoice_2024.pdf.exe", "Active", 6, "", []int{2}, nil},
	{"File Path", `C:\Users\Public\svchost.exe`, "Active", 7, "", []int{2}, nil},
	{"Mutex", `Global\MsWinZonesCacheCounterMutexA`, "Active", 8, "", []int{1}, nil},
	{"Registry Key", `HKCU\Software\Microsoft\Windows\CurrentVersion\Run\updater`, "Review", 5, "", []int{2}, nil},
	{"User-agent", "Mozilla/5.0 (compatible; EvilBot/1.0)", "Review", 3, "", []int{3}, nil},
	{"ASN", "AS9009", "Indirect", 1, "", []int{1}, nil},
	{"String", "org-chart-lure", "Active", 2, "Lure document name.", []int{2}, nil},
	{"Username", "svc_backup", "Review", 4, "Account used in the credential stuffing.", []int{4}, nil},
}

type seedEvent struct {
	typ, title, description string
	daysAgo                 int
	source                  int
	indicators              []int64
}

var seedEvents = []seedEvent{
	{"Spearphish", SeedEventTitle, "Invoice lures sent to the finance team.", 3, 2, []int64{17, 19, 15, 27}},
	{"Command and Control", "Emotet C2 beaconing", "", 2, 1, []int64{5, 20, 13}},
	{"Malware", "Log4Shell exploitation attempt", "", 5, 2, []int64{26, 3}},
	{"Watchlist", "Tor exit nodes watchlist", "", 6, 0, []int64{1, 5}},
	{"Sighting", "Sighting of baddomain.com in proxy logs", "", 1, 3, []int64{8, 15}},
	{"Incident", "Credential stuffing from known botnet", "", 4, 4, []int64{31, 34}},
}

// seed fills the library. Dates are relative to now so the data looks recent
// whatever the clock says.
func (d *dataset) seed(now time.Time) {
	for _, src := range seedSources {
		d.source(src.name, src.typ)
	}
	for i, s := range seedIndicators {
		typeID, ok := IndicatorTypeID(s.typ)
		statusID, ok2 := StatusID(s.status)
		if !ok || !ok2 {
			panic(fmt.Sprintf("tqfake: seed indicator %q has an unknown type or status", s.value))
		}
		created := now.Add(-time.Duration(len(seedIndicators)-i) * 3 * time.Hour)
		ind := Indicator{
			TypeID: typeID, StatusID: statusID, Value: s.value, Description: s.description, Score: s.score,
			CreatedAt: created, UpdatedAt: created.Add(time.Hour), TouchedAt: created.Add(time.Hour),
			PublishedAt: created,
		}
		switch s.status {
		case "Expired":
			ind.ExpiredAt = created.Add(2 * time.Hour)
		case "Active":
			ind.ExpiresCalculatedAt = created.Add(30 * 24 * time.Hour)
		}
		for _, si := range s.sources {
			src := seedSources[si]
			ind.Sources = append(ind.Sources, Source{Name: src.name, SourceType: src.typ, TLPID: src.tlp, PublishedAt: created})
		}
		for j := 0; j+1 < len(s.attributes); j += 2 {
			ind.Attributes = append(ind.Attributes, Attribute{Name: s.attributes[j], Value: s.attributes[j+1]})
		}
		d.addIndicator(ind, now)
	}

	for _, s := range seedEvents {
		typeID, ok := EventTypeID(s.typ)
		if !ok {
			panic(fmt.Sprintf("tqfake: seed event %q has an unknown type", s.title))
		}
		happened := now.Add(-time.Duration(s.daysAgo) * 24 * time.Hour)
		created := happened.Add(2 * time.Hour)
		src := seedSources[s.source]
		d.addEvent(Event{
			TypeID: typeID, Title: s.title, Description: s.description, HappenedAt: happened,
			CreatedAt: created, Sources: []Source{d.sourceLink(src.name, src.typ, src.tlp, happened, created)},
			IndicatorIDs: s.indicators,
		})
	}

	ip, _ := IndicatorTypeID("IP Address")
	fqdn, _ := IndicatorTypeID("FQDN")
	url, _ := IndicatorTypeID("URL")
	review, _ := StatusID("Review")
	active, _ := StatusID("Active")
	spearphish, _ := EventTypeID("Spearphish")
	login, _ := EventTypeID("Login Compromise")
	malware, _ := EventTypeID("Malware")

	d.imports[SeedImportID] = &importSession{id: SeedImportID}
	d.imports[SeedSecondImportID] = &importSession{id: SeedSecondImportID}
	d.stageIndicator(SeedImportID, StagedIndicator{Value: "99.99.99.95", TypeID: ip, StatusID: review, Source: "Adversary Source"})
	d.stageIndicator(SeedImportID, StagedIndicator{Value: "99.99.99.96", TypeID: ip, StatusID: review, Source: "Adversary Source"})
	d.stageIndicator(SeedImportID, StagedIndicator{Value: SeedFQDN, TypeID: fqdn, StatusID: active, Source: "Adversary Source"})
	d.stageIndicator(SeedImportID, StagedIndicator{Value: "192.168.1.1", TypeID: ip, StatusID: review, Source: "Adversary Source", Whitelisted: true})
	d.stageIndicator(SeedSecondImportID, StagedIndicator{Value: "evil-updates.example.com", TypeID: fqdn, StatusID: review, Source: "Partner Feed"})
	d.stageIndicator(SeedSecondImportID, StagedIndicator{Value: "http://evil-updates.example.com/payload.bin", TypeID: url, StatusID: review, Source: "Partner Feed"})
	day := 24 * time.Hour
	d.stageEvent(SeedImportID, StagedEvent{Title: "Phishing wave against payroll", TypeID: spearphish, HappenedAt: now.Add(-2 * day), Source: "Adversary Source"})
	d.stageEvent(SeedImportID, StagedEvent{Title: "Suspicious VPN login", TypeID: login, HappenedAt: now.Add(-day), Source: "Adversary Source"})
	d.stageEvent(SeedSecondImportID, StagedEvent{Title: "Payload download observed", TypeID: malware, HappenedAt: now.Add(-3 * day), Source: "Partner Feed"})
}

// AddIndicator stores ind, assigning what the server would (id, class, hash,
// dates, link ids) when they are zero, and returns the stored copy.
func (s *Server) AddIndicator(ind Indicator) Indicator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneIndicator(&s.data.addIndicator(ind, s.now().Truncate(time.Second)).Indicator)
}

// AddSharedIndicator plants the indicator ThreatConnect's sample data has
// too (tcfake.SeedIPv4, score 9): the two platforms share some
// intelligence, as real ones do, so enrichment has something to find. The
// demo, goshawk emulate and the tests of the shipped playbooks use it.
func (s *Server) AddSharedIndicator(now time.Time) Indicator {
	return s.AddIndicator(Indicator{TypeID: 15, StatusID: 1, Class: "network", Value: tcfake.SeedIPv4, Score: 9,
		Description: "C2 node seen in two campaigns", CreatedAt: now, UpdatedAt: now, TouchedAt: now,
		Sources: []Source{{Name: "Partner Feed"}}})
}

// AddIndicators stores many indicators under one lock, as AddIndicator does.
func (s *Server) AddIndicators(inds []Indicator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Truncate(time.Second)
	for _, ind := range inds {
		s.data.addIndicator(ind, now)
	}
}

// Indicators returns a copy of every indicator, in id order.
func (s *Server) Indicators() []Indicator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Indicator, 0, len(s.data.indicators))
	for _, rec := range s.data.indicators {
		out = append(out, cloneIndicator(&rec.Indicator))
	}
	return out
}

// FindIndicator returns the indicator with the given value and type name,
// both compared case-insensitively.
func (s *Server) FindIndicator(value, typeName string) (Indicator, bool) {
	typeID, ok := IndicatorTypeID(typeName)
	if !ok {
		return Indicator{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.data.indicatorByKey[indicatorKey(value, typeID)]
	if !ok {
		return Indicator{}, false
	}
	return cloneIndicator(&rec.Indicator), true
}

// Events returns a copy of every event, in id order.
func (s *Server) Events() []Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Event, 0, len(s.data.events))
	for _, ev := range s.data.events {
		c := *ev
		c.Sources = append([]Source(nil), ev.Sources...)
		c.Attributes = append([]Attribute(nil), ev.Attributes...)
		c.IndicatorIDs = append([]int64(nil), ev.IndicatorIDs...)
		out = append(out, c)
	}
	return out
}

// StagedIndicators returns a copy of the staged indicators of an import
// session, and false when there is no such session.
func (s *Server) StagedIndicators(importID int64) ([]StagedIndicator, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	session, ok := s.data.imports[importID]
	if !ok {
		return nil, false
	}
	out := make([]StagedIndicator, 0, len(session.indicators))
	for _, si := range session.indicators {
		out = append(out, *si)
	}
	return out, true
}

// StagedEvents returns a copy of the staged events of an import session, and
// false when there is no such session.
func (s *Server) StagedEvents(importID int64) ([]StagedEvent, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	session, ok := s.data.imports[importID]
	if !ok {
		return nil, false
	}
	out := make([]StagedEvent, 0, len(session.events))
	for _, se := range session.events {
		out = append(out, *se)
	}
	return out, true
}

func cloneIndicator(ind *Indicator) Indicator {
	c := *ind
	c.Sources = append([]Source(nil), ind.Sources...)
	c.Attributes = append([]Attribute(nil), ind.Attributes...)
	return c
}

// GeneratedEpoch is the creation time of the first indicator made by
// GenerateIndicators; each next one is a minute later.
var GeneratedEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generatedKinds are the types GenerateIndicators cycles through, with a
// value pattern each.
var generatedKinds = []struct {
	typ    string
	format func(i int) string
}{
	{"IP Address", func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }},
	{"FQDN", func(i int) string { return fmt.Sprintf("host%d.example%d.com", i, i%97) }},
	{"URL", func(i int) string { return fmt.Sprintf("https://cdn%d.example.net/path/%d", i%53, i) }},
	{"MD5", func(i int) string { return valueHash("generated", strconv.Itoa(i)) }},
	{"Email Address", func(i int) string { return fmt.Sprintf("user%d@mail%d.example.org", i, i%31) }},
}

// GenerateIndicators makes n distinct indicators for load tests and
// benchmarks. They cycle through five types (IP Address, FQDN, URL, MD5,
// Email Address) and the five statuses, carry scores 0–10, one of three
// sources and, on every fourth, a Confidence attribute. Add them with
// AddIndicators, ideally to a server built with Options.Empty.
func GenerateIndicators(n int) []Indicator {
	sources := []string{"Generated Feed A", "Generated Feed B", "Generated Feed C"}
	confidence := []string{"Low", "Medium", "High"}
	out := make([]Indicator, 0, max(n, 0))
	for i := range n {
		kind := generatedKinds[i%len(generatedKinds)]
		typeID, _ := IndicatorTypeID(kind.typ)
		created := GeneratedEpoch.Add(time.Duration(i) * time.Minute)
		ind := Indicator{
			TypeID:      typeID,
			StatusID:    i/len(generatedKinds)%len(statuses) + 1,
			Value:       kind.format(i),
			Score:       i * 7 % 11,
			CreatedAt:   created,
			UpdatedAt:   created,
			TouchedAt:   created,
			PublishedAt: created,
			Sources:     []Source{{Name: sources[i%len(sources)], SourceType: "connectors"}},
		}
		if i%4 == 0 {
			ind.Attributes = []Attribute{{Name: "Confidence", Value: confidence[i%len(confidence)]}}
		}
		out = append(out, ind)
	}
	return out
}
