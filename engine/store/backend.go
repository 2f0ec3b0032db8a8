package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// This file exports the rules every backend must apply the same way, so that
// a second backend (the PostgreSQL one) validates and bounds exactly as
// SQLite does rather than keeping a copy of the rules.

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
