package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// Checkpoint returns the asset's checkpoint, or "" when it has none.
func (s *Store) Checkpoint(ctx context.Context, asset string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM goshawk_checkpoints WHERE asset = $1`, asset).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read checkpoint of asset %s: %w", asset, err)
	}
	return v, nil
}

// Ingest commits the batch for the asset in one transaction, with the
// checkpoint when it is not nil. See store.Containers.
func (s *Store) Ingest(ctx context.Context, asset string, batch []cef.Container, checkpoint *string) (created, duplicates int, err error) {
	var ids [][]int64
	var prepared []store.PreparedContainer
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		created, duplicates, prepared, ids, err = s.ingestTx(ctx, tx, asset, batch, checkpoint)
		return err
	})
	if err != nil {
		if errors.Is(err, errInvalid) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("store: ingest %d containers for asset %s: %w; nothing from this batch was stored, so the poll can be retried", len(batch), asset, err)
	}
	s.fill(asset, batch, prepared, ids)
	return created, duplicates, nil
}

// IngestTx is Ingest within the caller's transaction, so that the cluster
// commits the containers, the checkpoint and the on_poll runs they start
// together. The batch's IDs are filled in at once; they are only real if
// tx commits.
func (s *Store) IngestTx(ctx context.Context, tx pgx.Tx, asset string, batch []cef.Container, checkpoint *string) (created, duplicates int, err error) {
	created, duplicates, prepared, ids, err := s.ingestTx(ctx, tx, asset, batch, checkpoint)
	if err != nil {
		if errors.Is(err, errInvalid) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("store: ingest %d containers for asset %s: %w; nothing from this batch was stored, so the poll can be retried", len(batch), asset, err)
	}
	s.fill(asset, batch, prepared, ids)
	return created, duplicates, nil
}

// errInvalid marks a batch refused before any write.
var errInvalid = errors.New("invalid batch")

type invalid struct{ msg string }

func (e invalid) Error() string        { return e.msg }
func (e invalid) Is(target error) bool { return target == errInvalid }

// ingestTx inserts the batch: ids[i] is nil for a duplicate, else the new
// container's id followed by its artifacts' ids.
func (s *Store) ingestTx(ctx context.Context, tx pgx.Tx, asset string, batch []cef.Container, checkpoint *string) (created, duplicates int, prepared []store.PreparedContainer, ids [][]int64, err error) {
	if asset == "" || len(asset) > store.MaxAssetLen {
		return 0, 0, nil, nil, invalid{fmt.Sprintf("store: ingest: asset name must be 1 to %d bytes: pass the asset the containers came from", store.MaxAssetLen)}
	}
	prepared = make([]store.PreparedContainer, len(batch))
	for i, c := range batch {
		if prepared[i], err = store.PrepareContainer(c); err != nil {
			return 0, 0, nil, nil, invalid{fmt.Sprintf("store: ingest for asset %s: %v; nothing from this batch was stored", asset, err)}
		}
	}
	now := s.stamp()
	for i := range prepared {
		prepared[i].Container.Created = now
	}
	ids = make([][]int64, len(batch))

	// One round trip for the containers, one for the artifacts of the new
	// ones: a poll of a thousand indicators must not cost two thousand.
	var b pgx.Batch
	for _, p := range prepared {
		c := &p.Container
		b.Queue(`INSERT INTO goshawk_containers
			(asset, name, label, severity, status, description, source_data_identifier, created, tags, notes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (asset, source_data_identifier) DO NOTHING RETURNING id`,
			asset, c.Name, c.Label, c.Severity, c.Status, c.Description, c.SourceDataIdentifier, now, p.Tags, p.Notes)
	}
	br := tx.SendBatch(ctx, &b)
	for i, p := range prepared {
		var id int64
		err := br.QueryRow().Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			duplicates++
			continue
		}
		if err != nil {
			br.Close()
			return 0, 0, nil, nil, fmt.Errorf("insert container %s: %w", p.Container.SourceDataIdentifier, err)
		}
		ids[i] = []int64{id}
		created++
	}
	if err := br.Close(); err != nil {
		return 0, 0, nil, nil, err
	}

	var ab pgx.Batch
	for i, p := range prepared {
		if ids[i] == nil {
			continue
		}
		for _, a := range p.Artifacts {
			ab.Queue(`INSERT INTO goshawk_artifacts
				(container_id, name, label, type, source_data_identifier, cef, cef_types)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
				ids[i][0], a.Artifact.Name, a.Artifact.Label, a.Artifact.Type, a.Artifact.SourceDataIdentifier, a.CEF, a.CEFTypes)
		}
	}
	if ab.Len() > 0 {
		br := tx.SendBatch(ctx, &ab)
		for i, p := range prepared {
			if ids[i] == nil {
				continue
			}
			for _, a := range p.Artifacts {
				var id int64
				if err := br.QueryRow().Scan(&id); err != nil {
					br.Close()
					return 0, 0, nil, nil, fmt.Errorf("insert artifact %q of container %s: %w", a.Artifact.Name, p.Container.SourceDataIdentifier, err)
				}
				ids[i] = append(ids[i], id)
			}
		}
		if err := br.Close(); err != nil {
			return 0, 0, nil, nil, err
		}
	}
	if checkpoint != nil {
		_, err := tx.Exec(ctx, `INSERT INTO goshawk_checkpoints (asset, value, updated) VALUES ($1, $2, $3)
			ON CONFLICT (asset) DO UPDATE SET value = excluded.value, updated = excluded.updated`, asset, *checkpoint, now)
		if err != nil {
			return 0, 0, nil, nil, fmt.Errorf("save checkpoint: %w", err)
		}
	}
	return created, duplicates, prepared, ids, nil
}

// fill gives the batch's new containers their IDs and defaults, as the
// SQLite store does after its commit.
func (*Store) fill(asset string, batch []cef.Container, prepared []store.PreparedContainer, ids [][]int64) {
	for i := range batch {
		if ids[i] == nil {
			continue
		}
		c := &batch[i]
		c.ID, c.Asset, c.Created = ids[i][0], asset, prepared[i].Container.Created
		c.Severity, c.Status = prepared[i].Container.Severity, prepared[i].Container.Status
		for j := range c.Artifacts {
			c.Artifacts[j].ID = ids[i][j+1]
		}
	}
}

const containerColumns = `id, asset, name, label, severity, status, description, source_data_identifier, created, tags, notes`

const artifactColumns = `id, container_id, name, label, type, source_data_identifier, cef, cef_types`

// ListContainers returns containers with their artifacts, by ascending id.
func (s *Store) ListContainers(ctx context.Context, q store.ContainerQuery) ([]cef.Container, error) {
	where, args := containerWhere(q)
	args = append(args, store.ClampLimit(q.Limit))
	selected := fmt.Sprintf(`SELECT id FROM goshawk_containers WHERE %s ORDER BY id LIMIT $%d`, where, len(args))
	var out []cef.Container
	// One snapshot, so the artifacts belong to the same state as the
	// containers.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		out, err = queryContainers(ctx, tx, `SELECT `+containerColumns+` FROM goshawk_containers WHERE id IN (`+selected+`) ORDER BY id`, args...)
		if err != nil || len(out) == 0 {
			return err
		}
		return attachArtifacts(ctx, tx, out, `SELECT `+artifactColumns+` FROM goshawk_artifacts WHERE container_id IN (`+selected+`) ORDER BY container_id, id`, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("store: list containers: %w", err)
	}
	return out, nil
}

// Container returns one container with its artifacts.
func (s *Store) Container(ctx context.Context, id int64) (cef.Container, error) {
	var c cef.Container
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		c, err = loadContainer(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: container %d: %w", id, err)
	}
	return c, nil
}

// UpdateContainer applies a triage change. See store.Containers.
func (s *Store) UpdateContainer(ctx context.Context, id int64, u store.ContainerUpdate) (cef.Container, error) {
	tags, note, err := store.CheckUpdate(u, s.stamp())
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: update container %d: %w", id, err)
	}
	var out cef.Container
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR UPDATE: two nodes tagging one container both keep their tag.
		c, err := loadContainer(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := store.ApplyUpdate(&c, u, tags, note); err != nil {
			return err
		}
		tagsJSON, err := json.Marshal(c.Tags)
		if err != nil {
			return err
		}
		notesJSON, err := json.Marshal(c.Notes)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE goshawk_containers SET severity = $1, status = $2, tags = $3, notes = $4 WHERE id = $5`,
			c.Severity, c.Status, string(tagsJSON), string(notesJSON), id)
		out = c
		return err
	})
	if err != nil {
		return cef.Container{}, fmt.Errorf("store: update container %d: %w", id, err)
	}
	return out, nil
}

// LastContainerID returns the highest container id of the asset, or 0.
func (s *Store) LastContainerID(ctx context.Context, asset string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM goshawk_containers WHERE asset = $1`, asset).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: last container of %s: %w", asset, err)
	}
	return id, nil
}

func loadContainer(ctx context.Context, tx pgx.Tx, id int64, lock bool) (cef.Container, error) {
	q := `SELECT ` + containerColumns + ` FROM goshawk_containers WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	cs, err := queryContainers(ctx, tx, q, id)
	if err != nil {
		return cef.Container{}, err
	}
	if len(cs) == 0 {
		return cef.Container{}, store.ErrNotFound
	}
	if err := attachArtifacts(ctx, tx, cs, `SELECT `+artifactColumns+` FROM goshawk_artifacts WHERE container_id = $1 ORDER BY id`, id); err != nil {
		return cef.Container{}, err
	}
	return cs[0], nil
}

func queryContainers(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]cef.Container, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []cef.Container{}
	for rows.Next() {
		var c cef.Container
		var tags, notes string
		err := rows.Scan(&c.ID, &c.Asset, &c.Name, &c.Label, &c.Severity, &c.Status, &c.Description,
			&c.SourceDataIdentifier, &c.Created, &tags, &notes)
		if err != nil {
			return nil, err
		}
		c.Created = c.Created.UTC()
		if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
			return nil, fmt.Errorf("container %d: corrupt tags: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(notes), &c.Notes); err != nil {
			return nil, fmt.Errorf("container %d: corrupt notes: %w", c.ID, err)
		}
		c.Tags, c.Notes, c.Artifacts = nonNil(c.Tags), nonNil(c.Notes), []cef.Artifact{}
		for i := range c.Notes {
			c.Notes[i].Created = c.Notes[i].Created.UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func attachArtifacts(ctx context.Context, tx pgx.Tx, cs []cef.Container, query string, args ...any) error {
	byID := store.NewArtifactRows(cs)
	rows, err := tx.Query(ctx, query, args...)
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
func (s *Store) AssetSink(asset string) cef.Sink { return store.SinkFor(s, asset) }

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
