package store

import (
	"context"
	"fmt"
)

// LastContainerID returns the highest container id of the asset, or 0 when
// it has none. An on_poll subscription starts there, so a playbook reacts
// to the containers ingested after it was added, not to the whole history.
func (s *SQLite) LastContainerID(ctx context.Context, asset string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM containers WHERE asset = ?`, asset).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: last container of %s: %w", asset, err)
	}
	return id, nil
}
