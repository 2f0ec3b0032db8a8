package tcfake

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// record is one stored indicator with the values queries need precomputed.
type record struct {
	ind          Indicator
	lowerSummary string
}

// dataset holds the indicators and the catalogues (tags, labels) they refer
// to. The Server guards it with one RWMutex.
type dataset struct {
	byID  map[int64]*record
	order []*record // sorted by id, so an unsorted search needs no sort
	index map[string]int64

	tags   map[string]int64 // lower-cased tag name -> id
	labels map[string]SecurityLabel

	nextID, nextTagID, nextAttrID, nextLabelID int64
}

// firstNewID is where ids of indicators created through the API start; the
// value comes from the seed's post data example.
const firstNewID = 1125800916204668

func newDataset() *dataset {
	d := &dataset{
		byID:        make(map[int64]*record),
		index:       make(map[string]int64),
		tags:        make(map[string]int64),
		labels:      make(map[string]SecurityLabel),
		nextID:      firstNewID,
		nextTagID:   153700,
		nextAttrID:  2251700947844900,
		nextLabelID: 100,
	}
	for _, l := range systemLabels {
		d.labels[strings.ToLower(l.Name)] = l
	}
	return d
}

// labelsAdded is the creation date TC shows for its built-in labels.
var labelsAdded = time.Date(2016, 8, 31, 0, 0, 0, 0, time.UTC)

// systemLabels are the security labels every TC instance has; their text is
// from the seed's TLP:AMBER example and the TLP definitions.
var systemLabels = []SecurityLabel{
	{ID: 1, Name: "TLP:WHITE", Color: "FFFFFF", Owner: "System", DateAdded: labelsAdded, Description: "Information can be shared publicly in accordance with the law."},
	{ID: 2, Name: "TLP:GREEN", Color: "33FF00", Owner: "System", DateAdded: labelsAdded, Description: "Information can be shared with peers and partner organizations within their sector or community, but not via publicly accessible channels."},
	{ID: 3, Name: "TLP:AMBER", Color: "FFC000", Owner: "System", DateAdded: labelsAdded, Description: "This security label is used for information that requires support to be effectively acted upon, yet carries risks to privacy, reputation, or operations if shared outside of the organizations involved. Information with this label can be shared with members of an organization and its clients."},
	{ID: 4, Name: "TLP:RED", Color: "FF0033", Owner: "System", DateAdded: labelsAdded, Description: "Information exclusively and directly given to (a group of) individual recipients. Sharing outside is not legitimate."},
}

// put stores rec under its id, replacing an indicator with the same id.
func (d *dataset) put(ind Indicator) *record {
	if old, ok := d.byID[ind.ID]; ok {
		d.unindex(old)
		old.ind = ind
		old.lowerSummary = strings.ToLower(ind.Summary)
		d.reindex(old)
		return old
	}
	r := &record{ind: ind, lowerSummary: strings.ToLower(ind.Summary)}
	d.byID[ind.ID] = r
	i, _ := slices.BinarySearchFunc(d.order, ind.ID, func(r *record, id int64) int { return cmp.Compare(r.ind.ID, id) })
	d.order = slices.Insert(d.order, i, r)
	d.reindex(r)
	return r
}

func (d *dataset) reindex(r *record) {
	for _, k := range identityKeys(&r.ind) {
		d.index[k] = r.ind.ID
	}
}

func (d *dataset) unindex(r *record) {
	for _, k := range identityKeys(&r.ind) {
		if d.index[k] == r.ind.ID {
			delete(d.index, k)
		}
	}
}

// lookup finds the indicator that ind would update: same owner, same type,
// same value (any shared hash for a File).
func (d *dataset) lookup(ind *Indicator) *record {
	for _, k := range identityKeys(ind) {
		if id, ok := d.index[k]; ok {
			return d.byID[id]
		}
	}
	return nil
}

func (d *dataset) allocID() int64 {
	for {
		id := d.nextID
		d.nextID++
		if _, taken := d.byID[id]; !taken {
			return id
		}
	}
}

func (d *dataset) tagID(name string) int64 {
	key := strings.ToLower(name)
	if id, ok := d.tags[key]; ok {
		return id
	}
	d.nextTagID++
	d.tags[key] = d.nextTagID
	return d.nextTagID
}

// label returns the security label named like want, creating it in owner
// from want's color and description when TC has no such label yet.
func (d *dataset) label(want SecurityLabel, owner string, now time.Time) SecurityLabel {
	key := strings.ToLower(want.Name)
	if l, ok := d.labels[key]; ok {
		return l
	}
	d.nextLabelID++
	l := SecurityLabel{ID: d.nextLabelID, Name: want.Name, Description: want.Description, Color: cmp.Or(want.Color, "FFFFFF"), Owner: owner, DateAdded: now}
	d.labels[key] = l
	return l
}

// completeRefs fills the ids and dates of tags, labels and attributes that a
// caller left zero, so planted and posted indicators look alike.
func (d *dataset) completeRefs(ind *Indicator, user User) {
	for i := range ind.Tags {
		t := &ind.Tags[i]
		if t.ID == 0 {
			t.ID = d.tagID(t.Name)
		}
		if t.LastUsed.IsZero() {
			t.LastUsed = ind.LastModified
		}
	}
	for i := range ind.SecurityLabels {
		l := &ind.SecurityLabels[i]
		if l.ID == 0 {
			*l = d.label(*l, ind.OwnerName, ind.LastModified)
		}
	}
	for i := range ind.Attributes {
		a := &ind.Attributes[i]
		if a.ID == 0 {
			d.nextAttrID++
			a.ID = d.nextAttrID
		}
		if a.CreatedBy == (User{}) {
			a.CreatedBy = user
		}
		if a.DateAdded.IsZero() {
			a.DateAdded = ind.LastModified
		}
		if a.LastModified.IsZero() {
			a.LastModified = a.DateAdded
		}
	}
}

// sortKey is one sorting= key.
type sortKey struct {
	cmp  func(a, b *Indicator) int
	desc bool
}

var sortFields = map[string]func(a, b *Indicator) int{
	"id":           func(a, b *Indicator) int { return cmp.Compare(a.ID, b.ID) },
	"dateadded":    func(a, b *Indicator) int { return a.DateAdded.Compare(b.DateAdded) },
	"lastmodified": func(a, b *Indicator) int { return a.LastModified.Compare(b.LastModified) },
	"summary":      func(a, b *Indicator) int { return strings.Compare(a.Summary, b.Summary) },
	"typename":     func(a, b *Indicator) int { return strings.Compare(a.Type, b.Type) },
	"ownername":    func(a, b *Indicator) int { return strings.Compare(a.OwnerName, b.OwnerName) },
	"rating":       func(a, b *Indicator) int { return compareNullable(a.Rating, b.Rating) },
	"confidence":   func(a, b *Indicator) int { return compareNullable(a.Confidence, b.Confidence) },
}

// compareNullable orders nulls first, as an ascending SQL sort would.
func compareNullable[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// parseSorting reads `sorting=<field> [asc|desc]` values, any case.
func parseSorting(values []string) ([]sortKey, error) {
	var keys []sortKey
	for _, v := range values {
		parts := strings.Fields(v)
		if len(parts) == 0 || len(parts) > 2 {
			return nil, fmt.Errorf("sorting %q must be '<field> asc' or '<field> desc'", v)
		}
		f, ok := sortFields[strings.ToLower(parts[0])]
		if !ok {
			return nil, fmt.Errorf("sorting field %q is not supported: use id, dateAdded, lastModified, summary, typeName, ownerName, rating or confidence", parts[0])
		}
		k := sortKey{cmp: f}
		if len(parts) == 2 {
			switch strings.ToLower(parts[1]) {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, fmt.Errorf("sorting direction %q is not supported: use asc or desc", parts[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// search returns the active indicators matching expr (nil matches all),
// ordered by keys with ties by id ascending.
func (d *dataset) search(expr Expr, keys []sortKey) []*record {
	var out []*record
	for _, r := range d.order {
		if r.ind.Active && (expr == nil || expr.match(r)) {
			out = append(out, r)
		}
	}
	if len(keys) > 0 {
		slices.SortFunc(out, func(a, b *record) int {
			for _, k := range keys {
				c := k.cmp(&a.ind, &b.ind)
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return cmp.Compare(a.ind.ID, b.ind.ID)
		})
	}
	return out
}
