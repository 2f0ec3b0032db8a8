// Package cef is goshawk's case model: the SOAR container, its artifacts and
// the CEF fields they carry. Providers build containers from vendor data, the
// store persists them, and playbooks read and triage them. It sits below
// every other package and imports only the standard library.
package cef

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Severities a container may have.
const (
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Statuses a container may have.
const (
	StatusNew    = "new"
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Container is one SOAR case: an ingested item with its artifacts. Its JSON
// form is the container shape of goshawk's contracts, plus the tags and notes
// that playbooks add while triaging.
type Container struct {
	ID                   int64      `json:"id"`
	Asset                string     `json:"asset"`
	Name                 string     `json:"name"`
	Label                string     `json:"label"`
	Severity             string     `json:"severity"`
	Status               string     `json:"status"`
	Description          string     `json:"description"`
	SourceDataIdentifier string     `json:"source_data_identifier"`
	Created              time.Time  `json:"created,omitzero"`
	Tags                 []string   `json:"tags,omitempty"`
	Notes                []Note     `json:"notes,omitempty"`
	Artifacts            []Artifact `json:"artifacts"`
}

// Note is a free-text remark a playbook or an analyst attached to a container.
type Note struct {
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

// Artifact is one observable of a container. CEF holds the values under their
// CEF keys; CEFTypes gives, for the keys that have them, the SOAR contains
// types (ip, md5, domain, ...) that actions can be chained on.
type Artifact struct {
	ID                   int64               `json:"id"`
	Name                 string              `json:"name"`
	Label                string              `json:"label"`
	Type                 string              `json:"type"`
	SourceDataIdentifier string              `json:"source_data_identifier"`
	CEF                  map[string]any      `json:"cef"`
	CEFTypes             map[string][]string `json:"cef_types"`
}

// Sink receives the containers a provider ingests for one asset. The engine
// implements it over the store; on_poll actions write through it.
type Sink interface {
	// Checkpoint returns the asset's saved checkpoint, or "" when there is
	// none. The string is opaque to the sink: the provider owns its format.
	Checkpoint(ctx context.Context) (string, error)
	// Ingest commits the batch (dedup by (asset, source_data_identifier)) and, when checkpoint != nil,
	// the new checkpoint, all in ONE transaction; returns how many containers were new and how many duplicates.
	Ingest(ctx context.Context, batch []Container, checkpoint *string) (created, duplicates int, err error)
}

var (
	severities = []string{SeverityLow, SeverityMedium, SeverityHigh}
	statuses   = []string{StatusNew, StatusOpen, StatusClosed}
)

// CheckSeverity returns an error unless s is low, medium or high.
func CheckSeverity(s string) error {
	if err := checkEnum("severity", s, severities); err != nil {
		return fmt.Errorf("cef: %w", err)
	}
	return nil
}

// CheckStatus returns an error unless s is new, open or closed.
func CheckStatus(s string) error {
	if err := checkEnum("status", s, statuses); err != nil {
		return fmt.Errorf("cef: %w", err)
	}
	return nil
}

func checkEnum(what, s string, allowed []string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return fmt.Errorf("invalid %s %q: use one of %s", what, s, strings.Join(allowed, ", "))
}

// Validate checks what a store needs before it can keep the container: a
// source data identifier to deduplicate on, a known severity and status, and
// artifacts that name themselves.
func (c *Container) Validate() error {
	if c.SourceDataIdentifier == "" {
		return fmt.Errorf("cef: container %q has no source_data_identifier: set one so re-ingesting it is recognised as a duplicate", c.Name)
	}
	if err := checkEnum("severity", c.Severity, severities); err != nil {
		return fmt.Errorf("cef: container %s: %w", c.SourceDataIdentifier, err)
	}
	if err := checkEnum("status", c.Status, statuses); err != nil {
		return fmt.Errorf("cef: container %s: %w", c.SourceDataIdentifier, err)
	}
	for i, a := range c.Artifacts {
		if a.Name == "" {
			return fmt.Errorf("cef: container %s: artifact %d has no name: give every artifact a name", c.SourceDataIdentifier, i)
		}
	}
	return nil
}
