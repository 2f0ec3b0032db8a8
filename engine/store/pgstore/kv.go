package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/goshawk/goshawk/engine/store"
)

// KVGet returns the value of key in namespace ns, and whether it was set.
func (s *Store) KVGet(ctx context.Context, ns, key string) (string, bool, error) {
	if err := store.CheckKVKey(ns, key); err != nil {
		return "", false, fmt.Errorf("store: kv get: %w", err)
	}
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM goshawk_kv WHERE ns = $1 AND key = $2`, ns, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: kv get %.64q in %s: %w", key, ns, err)
	}
	return v, true, nil
}

// KVSet sets key in namespace ns to value.
func (s *Store) KVSet(ctx context.Context, ns, key, value string) error {
	if err := store.CheckKVKey(ns, key); err != nil {
		return fmt.Errorf("store: kv set: %w", err)
	}
	if len(value) > store.MaxKVValueLen {
		return fmt.Errorf("store: kv set %.64q in %s: value of %d bytes exceeds the %d-byte limit: keep large data outside the store", key, ns, len(value), store.MaxKVValueLen)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO goshawk_kv (ns, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value`, ns, key, value)
	if err != nil {
		return fmt.Errorf("store: kv set %.64q in %s: %w", key, ns, err)
	}
	return nil
}

// KVDelete removes key from namespace ns; removing a missing key is not an
// error.
func (s *Store) KVDelete(ctx context.Context, ns, key string) error {
	if err := store.CheckKVKey(ns, key); err != nil {
		return fmt.Errorf("store: kv delete: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM goshawk_kv WHERE ns = $1 AND key = $2`, ns, key); err != nil {
		return fmt.Errorf("store: kv delete %.64q in %s: %w", key, ns, err)
	}
	return nil
}
