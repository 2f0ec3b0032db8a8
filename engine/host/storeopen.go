package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/pgstore"
)

// ErrStore marks a store that does not open; `goshawk serve` exits 2 on
// it, as on any other config problem.
var ErrStore = errors.New("the store does not open")

// storeError is a store that does not open. Its text names the store value
// with any password replaced, and errors.Is(err, ErrStore) holds.
type storeError struct {
	value string // redacted
	err   error
}

func (e *storeError) Error() string {
	return fmt.Sprintf("store %s does not open: %v", e.value, e.err)
}

func (e *storeError) Unwrap() []error { return []error{ErrStore, e.err} }

// urlPassword finds the password of a URL's user info, before or after the
// config resolved the value as a path ("pg://u:pw@h/db" becomes
// "/dir/pg:/u:pw@h/db").
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*:/{1,2}[^/@:]*):([^@/]*)@`)

// storeSecrets returns the passwords written in a store value.
func storeSecrets(value string) []string {
	var out []string
	for _, m := range urlPassword.FindAllStringSubmatch(value, -1) {
		if m[2] != "" {
			out = append(out, m[2])
		}
	}
	return out
}

// redactStore returns the store value with any password replaced.
func redactStore(value string) string {
	return urlPassword.ReplaceAllString(value, "$1:xxxxx@")
}

// urlElem is a path element that is a URL scheme: "postgres:".
var urlElem = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:$`)

// resolvedURL is a URL the config joined to its folder: "/dir/pg:/u@h/db".
var resolvedURL = regexp.MustCompile(`(?:^|/)([A-Za-z][A-Za-z0-9+.-]*:)/+(.*)$`)

// isURL reports whether a store value is a URL rather than a file path,
// also once the config has joined it to its folder.
func isURL(value string) bool {
	if strings.Contains(value, "://") {
		return true
	}
	for _, el := range strings.Split(filepath.ToSlash(value), "/") {
		if urlElem.MatchString(el) {
			return true
		}
	}
	return false
}

// openStore opens the configured store. Every failure is a *storeError
// whose text has no password in it.
func openStore(ctx context.Context, value string, now func() time.Time, log *slog.Logger) (store.Backend, error) {
	fail := func(err error) error {
		msg := err.Error()
		for _, pw := range storeSecrets(value) {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return &storeError{value: redactStore(value), err: errors.New(msg)}
	}
	if isURL(value) {
		// The config joins a relative value to its folder; name the URL
		// as it was written.
		if m := resolvedURL.FindStringSubmatch(value); m != nil {
			value = m[1] + "//" + m[2]
		}
		if !pgstore.IsURL(value) {
			return nil, fail(errors.New("it is a URL, and only postgres:// (or postgresql://) URLs name a database; set store: to a PostgreSQL URL or to a file path such as goshawk.db"))
		}
		s, err := pgstore.Open(ctx, value, pgstore.WithLogger(log))
		if err != nil {
			return nil, fail(err)
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(value), 0o755); err != nil {
		return nil, fail(fmt.Errorf("its folder cannot be created: %w", err))
	}
	s, err := store.Open(ctx, value, store.WithClock(now))
	if err != nil {
		return nil, fail(err)
	}
	return s, nil
}
