package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/goshawk/goshawk/providers/cef"
)

// Bounds on what a playbook can attach to a container, so a runaway script
// cannot bloat the store.
const (
	maxTagLen   = 128
	maxTags     = 256
	maxNoteLen  = 64 << 10
	maxNotes    = 1024
	maxAssetLen = 256
)

// Checkpoint returns the asset's checkpoint, or "" when it has none.
func (s *SQLite) Checkpoint(ctx context.Context, asset string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM checkpoints WHERE asset = ?`, asset).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read checkpoint of asset %s: %w", asset, err)
	}
	return v, nil
}

// encodedContainer is a container ready to insert: validated, defaulted and
// with its JSON columns encoded, so that the write lock is held only for
// the inserts themselves.
type encodedContainer struct {
	c         cef.Container
	tags      string
	notes     string
	artifacts []encodedArtifact
}

type encodedArtifact struct {
	a        *cef.Artifact
	cef      string
	cefTypes string
}

func encodeContainer(c cef.Container) (encodedContainer, error) {
	if c.Severity == "" {
		c.Severity = cef.SeverityMedium
	}
	if c.Status == "" {
		c.Status = cef.StatusNew
	}
	if err := c.Validate(); err != nil {
		return encodedContainer{}, err
	}
	e := encodedContainer{c: c, artifacts: make([]encodedArtifact, len(c.Artifacts))}
	var err error
	if e.tags, err = encodeJSON(nonNil(c.Tags)); err != nil {
		return encodedContainer{}, fmt.Errorf("container %s: tags: %w", c.SourceDataIdentifier, err)
	}
	if e.notes, err = encodeJSON(nonNil(c.Notes)); err != nil {
		return encodedContainer{}, fmt.Errorf("container %s: notes: %w", c.SourceDataIdentifier, err)
	}
	for i := range c.Artifacts {
		a := &c.Artifacts[i]
		ea := encodedArtifact{a: a}
		if ea.cef, err = encodeCEF(a.CEF); err != nil {
			return encodedContainer{}, fmt.Errorf("container %s: artifact %q: cef: %w", c.SourceDataIdentifier, a.Name, err)
		}
		if ea.cefTypes, err = encodeCEFTypes(a.CEFTypes); err != nil {
			return encodedContainer{}, fmt.Errorf("container %s: artifact %q: cef_types: %w", c.SourceDataIdentifier, a.Name, err)
		}
		e.artifacts[i] = ea
	}
	return e, nil
}

// Ingest commits the batch for the asset in one transaction, with the
// checkpoint when it is not nil. See Containers.
func (s *SQLite) Ingest(ctx context.Context, asset string, batch []cef.Container, checkpoint *string) (created, duplicates int, err error) {
	if asset == "" || len(asset) > maxAssetLen {
		return 0, 0, fmt.Errorf("store: ingest: asset name must be 1 to %d bytes: pass the asset the containers came from", maxAssetLen)
	}
	enc := make([]encodedContainer, len(batch))
	for i, c := range batch {
		if enc[i], err = encodeContainer(c); err != nil {
			return 0, 0, fmt.Errorf("store: ingest for asset %s: %w; nothing from this batch was stored", asset, err)
		}
	}
	now := s.now().UTC()
	nowText := formatTime(now)
	ids := make([]int64, len(batch))
	artIDs := make([][]int64, len(batch))
	err = s.write(ctx, func(tx *sql.Tx) error {
		insC, err := tx.PrepareContext(ctx, `INSERT INTO containers
			(id, asset, name, label, severity, status, description, source_data_identifier, created, tags, notes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (asset, source_data_identifier) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insC.Close()
		insA, err := tx.PrepareContext(ctx, `INSERT INTO artifacts
			(container_id, name, label, type, source_data_identifier, cef, cef_types)
			VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insA.Close()

		for i, e := range enc {
			c := &e.c
			res, err := insC.ExecContext(ctx, keepID(c.ID), asset, c.Name, c.Label, c.Severity, c.Status, c.Description,
				c.SourceDataIdentifier, nowText, e.tags, e.notes)
			if err != nil {
				return fmt.Errorf("insert container %s: %w", c.SourceDataIdentifier, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				duplicates++
				continue
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return fmt.Errorf("insert container %s: %w", c.SourceDataIdentifier, err)
			}
			created++
			if err := s.fail("artifacts"); err != nil {
				return err
			}
			artIDs[i] = make([]int64, len(e.artifacts))
			for j, a := range e.artifacts {
				res, err := insA.ExecContext(ctx, ids[i], a.a.Name, a.a.Label, a.a.Type, a.a.SourceDataIdentifier, a.cef, a.cefTypes)
				if err != nil {
					return fmt.Errorf("insert artifact %q of container %s: %w", a.a.Name, c.SourceDataIdentifier, err)
				}
				if artIDs[i][j], err = res.LastInsertId(); err != nil {
					return fmt.Errorf("insert artifact %q of container %s: %w", a.a.Name, c.SourceDataIdentifier, err)
				}
			}
		}
		if checkpoint == nil {
			return nil
		}
		if err := s.fail("checkpoint"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO checkpoints (asset, value, updated) VALUES (?, ?, ?)
			ON CONFLICT (asset) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
			asset, *checkpoint, nowText)
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: ingest %d containers for asset %s: %w; nothing from this batch was stored, so the poll can be retried", len(batch), asset, err)
	}
	for i := range batch {
		if ids[i] == 0 {
			continue
		}
		c := &batch[i]
		c.ID, c.Asset, c.Created = ids[i], asset, now
		c.Severity, c.Status = enc[i].c.Severity, enc[i].c.Status
		for j := range c.Artifacts {
			c.Artifacts[j].ID = artIDs[i][j]
		}
	}
	return created, duplicates, nil
}

// keepID is the id a container is inserted with: the one it carries, or
// NULL for the next free one. A poll's containers carry none; a playbook
// test restores a recorded container under the id its run saw.
func keepID(id int64) any {
	if id > 0 {
		return id
	}
	return nil
}

// fail lets a test break an Ingest between two of its writes.
func (s *SQLite) fail(point string) error {
	if s.failAt == nil {
		return nil
	}
	return s.failAt(point)
}

const containerColumns = `id, asset, name, label, severity, status, description, source_data_identifier, created, tags, notes`

const artifactColumns = `id, container_id, name, label, type, source_data_identifier, cef, cef_types`

// ListContainers returns containers with their artifacts, by ascending id.
func (s *SQLite) ListContainers(ctx context.Context, q ContainerQuery) ([]cef.Container, error) {
	where, args := q.where()
	args = append(args, clampLimit(q.Limit))
	selected := `SELECT id FROM containers WHERE ` + where + ` ORDER BY id LIMIT ?`

	// One read transaction, so the artifacts belong to the same snapshot as
	// the containers.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: list containers: %w", err)
	}
	defer tx.Rollback()
	out, err := queryContainers(ctx, tx, `SELECT `+containerColumns+` FROM containers WHERE id IN (`+selected+`) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list containers: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	err = attachArtifacts(ctx, tx, out, `SELECT `+artifactColumns+` FROM artifacts WHERE container_id IN (`+selected+`) ORDER BY container_id, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list containers: %w", err)
	}
	return out, nil
}

// Container returns one container with its artifacts.
func (s *SQLite) Container(ctx context.Context, id int64) (cef.Container, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: container %d: %w", id, err)
	}
	defer tx.Rollback()
	c, err := loadContainer(ctx, tx, id)
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: container %d: %w", id, err)
	}
	return c, nil
}

// UpdateContainer applies a triage change. See Containers.
func (s *SQLite) UpdateContainer(ctx context.Context, id int64, u ContainerUpdate) (cef.Container, error) {
	tags, note, err := s.checkUpdate(u)
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: update container %d: %w", id, err)
	}
	var out cef.Container
	err = s.write(ctx, func(tx *sql.Tx) error {
		c, err := loadContainer(ctx, tx, id)
		if err != nil {
			return err
		}
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
			return fmt.Errorf("a container holds at most %d tags", maxTags)
		}
		if note != nil {
			if len(c.Notes) >= maxNotes {
				return fmt.Errorf("a container holds at most %d notes", maxNotes)
			}
			c.Notes = append(c.Notes, *note)
		}
		tagsJSON, err := encodeJSON(c.Tags)
		if err != nil {
			return err
		}
		notesJSON, err := encodeJSON(c.Notes)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE containers SET severity = ?, status = ?, tags = ?, notes = ? WHERE id = ?`,
			c.Severity, c.Status, tagsJSON, notesJSON, id)
		out = c
		return err
	})
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: update container %d: %w", id, err)
	}
	return out, nil
}

// checkUpdate validates a change before the write lock is taken.
func (s *SQLite) checkUpdate(u ContainerUpdate) (tags []string, note *cef.Note, err error) {
	if u.Severity != nil {
		if err := cef.CheckSeverity(*u.Severity); err != nil {
			return nil, nil, err
		}
	}
	if u.Status != nil {
		if err := cef.CheckStatus(*u.Status); err != nil {
			return nil, nil, err
		}
	}
	for _, t := range u.AddTags {
		t = strings.TrimSpace(t)
		if t == "" || len(t) > maxTagLen {
			return nil, nil, fmt.Errorf("tag %.40q must be 1 to %d bytes of text", t, maxTagLen)
		}
		tags = append(tags, t)
	}
	if u.AddNote != nil {
		text := strings.TrimSpace(*u.AddNote)
		if text == "" || len(text) > maxNoteLen {
			return nil, nil, fmt.Errorf("a note must be 1 to %d bytes of text", maxNoteLen)
		}
		note = &cef.Note{Text: text, Created: s.now().UTC()}
	}
	return tags, note, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func loadContainer(ctx context.Context, q querier, id int64) (cef.Container, error) {
	cs, err := queryContainers(ctx, q, `SELECT `+containerColumns+` FROM containers WHERE id = ?`, id)
	if err != nil {
		return cef.Container{}, err
	}
	if len(cs) == 0 {
		return cef.Container{}, ErrNotFound
	}
	if err := attachArtifacts(ctx, q, cs, `SELECT `+artifactColumns+` FROM artifacts WHERE container_id = ? ORDER BY id`, id); err != nil {
		return cef.Container{}, err
	}
	return cs[0], nil
}

func queryContainers(ctx context.Context, q querier, query string, args ...any) ([]cef.Container, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []cef.Container{}
	for rows.Next() {
		var c cef.Container
		var created, tags, notes string
		err := rows.Scan(&c.ID, &c.Asset, &c.Name, &c.Label, &c.Severity, &c.Status, &c.Description,
			&c.SourceDataIdentifier, &created, &tags, &notes)
		if err != nil {
			return nil, err
		}
		if c.Created, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("container %d: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
			return nil, fmt.Errorf("container %d: corrupt tags: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(notes), &c.Notes); err != nil {
			return nil, fmt.Errorf("container %d: corrupt notes: %w", c.ID, err)
		}
		c.Tags, c.Notes, c.Artifacts = nonNil(c.Tags), nonNil(c.Notes), []cef.Artifact{}
		out = append(out, c)
	}
	return out, rows.Err()
}

// attachArtifacts runs query, whose rows must come ordered by container, and
// appends each artifact to its container in cs.
func attachArtifacts(ctx context.Context, q querier, cs []cef.Container, query string, args ...any) error {
	byID := NewArtifactRows(cs)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a cef.Artifact
		var containerID int64
		var cefText, typesText string
		if err := rows.Scan(&a.ID, &containerID, &a.Name, &a.Label, &a.Type, &a.SourceDataIdentifier, &cefText, &typesText); err != nil {
			return err
		}
		if err := byID.Add(containerID, a, cefText, typesText); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AssetSink returns the cef.Sink through which the on_poll action of asset
// ingests and keeps its checkpoint.
func (s *SQLite) AssetSink(asset string) cef.Sink { return SinkFor(s, asset) }

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// nonNil makes empty lists encode, and reach callers, as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
