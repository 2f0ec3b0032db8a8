package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Bounds on playbook key-value data: a value is meant to be a small piece
// of state such as a last-seen marker, not a document store.
const (
	maxKVKeyLen   = 1 << 10
	maxKVValueLen = 1 << 20
)

func checkKVKey(ns, key string) error {
	if ns == "" {
		return errors.New("empty namespace: pass the playbook name")
	}
	if key == "" || len(key) > maxKVKeyLen {
		return fmt.Errorf("key must be 1 to %d bytes", maxKVKeyLen)
	}
	return nil
}

// KVGet returns the value of key in namespace ns, and whether it was set.
func (s *SQLite) KVGet(ctx context.Context, ns, key string) (string, bool, error) {
	if err := checkKVKey(ns, key); err != nil {
		return "", false, fmt.Errorf("store: kv get: %w", err)
	}
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM kv WHERE ns = ? AND key = ?`, ns, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: kv get %.64q in %s: %w", key, ns, err)
	}
	return v, true, nil
}

// KVSet sets key in namespace ns to value.
func (s *SQLite) KVSet(ctx context.Context, ns, key, value string) error {
	if err := checkKVKey(ns, key); err != nil {
		return fmt.Errorf("store: kv set: %w", err)
	}
	if len(value) > maxKVValueLen {
		return fmt.Errorf("store: kv set %.64q in %s: value of %d bytes exceeds the %d-byte limit: keep large data outside the store", key, ns, len(value), maxKVValueLen)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (ns, key, value) VALUES (?, ?, ?)
			ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value`, ns, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: kv set %.64q in %s: %w", key, ns, err)
	}
	return nil
}

// KVDelete removes key from namespace ns; removing a missing key is not an
// error.
func (s *SQLite) KVDelete(ctx context.Context, ns, key string) error {
	if err := checkKVKey(ns, key); err != nil {
		return fmt.Errorf("store: kv delete: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE ns = ? AND key = ?`, ns, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: kv delete %.64q in %s: %w", key, ns, err)
	}
	return nil
}
