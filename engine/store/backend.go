package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// This file exports the rules every backend must apply the same way, so that
// a second backend (the PostgreSQL one) validates and bounds exactly as
// SQLite does rather than keeping a copy of the rules.

// Backend is a store as the engine holds it, whichever database keeps it:
// the Store interfaces, the sink a provider's ingest action writes
// through, and where an on_poll subscription starts.
type Backend interface {
	Store
	Pruner
	AssetSink(asset string) cef.Sink
	LastContainerID(ctx context.Context, asset string) (int64, error)
}

var _ Backend = (*SQLite)(nil)

// MaxKVValueLen is the largest value KVSet accepts.
const MaxKVValueLen = maxKVValueLen

// MaxAssetLen is the longest asset name Ingest accepts.
const MaxAssetLen = maxAssetLen

// ClampLimit turns a query's Limit into the number of rows to return:
// DefaultLimit when unset, at most MaxLimit.
func ClampLimit(n int) int { return clampLimit(n) }

// CheckKVKey validates a namespace and key.
func CheckKVKey(ns, key string) error { return checkKVKey(ns, key) }

// PrepareContainer fills a container's defaults (severity medium, status
// new) and validates it, as Ingest does before storing it. It returns the
// container with its defaults and its tags, notes and artifacts' CEF
// encoded as the JSON the store keeps.
func PrepareContainer(c cef.Container) (PreparedContainer, error) {
	e, err := encodeContainer(c)
	if err != nil {
		return PreparedContainer{}, err
	}
	p := PreparedContainer{Container: e.c, Tags: e.tags, Notes: e.notes}
	for _, a := range e.artifacts {
		p.Artifacts = append(p.Artifacts, PreparedArtifact{Artifact: a.a, CEF: a.cef, CEFTypes: a.cefTypes})
	}
	return p, nil
}

// PreparedContainer is a validated container with its JSON columns.
type PreparedContainer struct {
	Container   cef.Container
	Tags, Notes string
	Artifacts   []PreparedArtifact
}

// PreparedArtifact is one artifact of a PreparedContainer. Artifact points
// into PreparedContainer.Container.Artifacts.
type PreparedArtifact struct {
	Artifact      *cef.Artifact
	CEF, CEFTypes string
}

// CheckUpdate validates a triage change before any write; now stamps the
// note.
func CheckUpdate(u ContainerUpdate, now time.Time) (tags []string, note *cef.Note, err error) {
	return (&SQLite{now: func() time.Time { return now }}).checkUpdate(u)
}

// ApplyUpdate applies a change checked by CheckUpdate to c, refusing it
// when c would exceed the tag or note bounds.
func ApplyUpdate(c *cef.Container, u ContainerUpdate, tags []string, note *cef.Note) error {
	if u.Severity != nil {
		c.Severity = *u.Severity
	}
	if u.Status != nil {
		c.Status = *u.Status
	}
	for _, t := range tags {
		if !slices.Contains(c.Tags, t) {
			c.Tags = append(c.Tags, t)
		}
	}
	if len(c.Tags) > maxTags {
		return errTooManyTags
	}
	if note != nil {
		if len(c.Notes) >= maxNotes {
			return errTooManyNotes
		}
		c.Notes = append(c.Notes, *note)
	}
	return nil
}

var (
	errTooManyTags  = fmt.Errorf("a container holds at most %d tags", maxTags)
	errTooManyNotes = fmt.Errorf("a container holds at most %d notes", maxNotes)
)

// StepColumns is the stored form of a step's record beyond its outcome,
// shared by the backends; a nil field is a part not recorded.
type StepColumns struct {
	Started                   *time.Time
	Params, Result, Truncated *string
}

// EncodeStep returns the stored form of st's record.
func EncodeStep(st *Step) (StepColumns, error) {
	row, err := encodeStep(st)
	if err != nil {
		return StepColumns{}, err
	}
	var c StepColumns
	if !st.Started.IsZero() {
		t := st.Started.UTC()
		c.Started = &t
	}
	c.Params, c.Result, c.Truncated = nullString(row.params), nullString(row.result), nullString(row.truncated)
	return c, nil
}

// DecodeStep fills st's record from its stored form; st's Status and
// Message must be set already.
func DecodeStep(st *Step, c StepColumns) error {
	var row stepRow
	row.params, row.result, row.truncated = toNull(c.Params), toNull(c.Result), toNull(c.Truncated)
	if err := row.decode(st); err != nil {
		return err
	}
	if c.Started != nil {
		st.Started = c.Started.UTC()
	}
	return nil
}

// EncodeLog returns the stored form of a run's log: nil when it has no
// lines.
func EncodeLog(lines []LogLine) (*string, error) {
	v, err := encodeLog(lines)
	return nullString(v), err
}

// DecodeLog reads a run's log from its stored form.
func DecodeLog(text *string) ([]LogLine, error) {
	if text == nil || *text == "" {
		return nil, nil
	}
	var lines []LogLine
	if err := json.Unmarshal([]byte(*text), &lines); err != nil {
		return nil, fmt.Errorf("corrupt log: %w", err)
	}
	return lines, nil
}

func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func toNull(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// ArtifactRows attaches artifact rows, read by either store, to the
// containers they belong to.
type ArtifactRows map[int64]*cef.Container

// NewArtifactRows indexes cs by id, so rows can be added to them.
func NewArtifactRows(cs []cef.Container) ArtifactRows {
	byID := make(ArtifactRows, len(cs))
	for i := range cs {
		byID[cs[i].ID] = &cs[i]
	}
	return byID
}

// Add decodes an artifact's stored cef and cef_types and appends it to its
// container (a row of a container not indexed is dropped).
func (r ArtifactRows) Add(containerID int64, a cef.Artifact, cefText, typesText string) error {
	if err := json.Unmarshal([]byte(cefText), &a.CEF); err != nil {
		return fmt.Errorf("artifact %d: corrupt cef: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(typesText), &a.CEFTypes); err != nil {
		return fmt.Errorf("artifact %d: corrupt cef_types: %w", a.ID, err)
	}
	a.CEF, a.CEFTypes = nonNilMap(a.CEF), nonNilMap(a.CEFTypes)
	if c := r[containerID]; c != nil {
		c.Artifacts = append(c.Artifacts, a)
	}
	return nil
}

// SinkFor binds a store's checkpoint and ingest to one asset: the cef.Sink
// through which that asset's ingest action writes.
func SinkFor(s Containers, asset string) cef.Sink { return assetSink{s: s, asset: asset} }

type assetSink struct {
	s     Containers
	asset string
}

func (a assetSink) Checkpoint(ctx context.Context) (string, error) {
	return a.s.Checkpoint(ctx, a.asset)
}

func (a assetSink) Ingest(ctx context.Context, batch []cef.Container, checkpoint *string) (created, duplicates int, err error) {
	return a.s.Ingest(ctx, a.asset, batch, checkpoint)
}
