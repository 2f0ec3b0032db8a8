package playtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// SaveRun turns a finished run record into a test case: its inputs (or its
// container, for an on_poll run), every step's parameters and result as the
// recording, the run's start as the clock, and its outcome (status, result
// or error, and the sequence of steps) as the expectation. container is the
// stored container of an on_poll run, nil otherwise. The case replays the
// run offline and passes as long as the playbook behaves as it did.
func SaveRun(rec *store.Run, name string, container *cef.Container) (*yaml.Node, error) {
	switch rec.Status {
	case store.RunRunning:
		return nil, fmt.Errorf("run %d is still running; save it once it has finished", rec.ID)
	case store.RunInterrupted:
		return nil, fmt.Errorf("run %d was interrupted, so its outcome says nothing about the playbook; save a run that finished", rec.ID)
	}
	if rec.ContainerID != 0 && container == nil {
		return nil, fmt.Errorf("run %d ran on container %d, which is no longer stored; a test of an on_poll run needs its container", rec.ID, rec.ContainerID)
	}
	if name == "" {
		name = fmt.Sprintf("run %d", rec.ID)
	}
	out := caseOut{Name: name, Now: rec.Started.UTC().Format(time.RFC3339Nano)}
	if container != nil {
		// The container goes through its JSON form, the one playbooks
		// and the API know.
		b, err := json.Marshal(container)
		if err != nil {
			return nil, fmt.Errorf("run %d: container %d: %w", rec.ID, container.ID, err)
		}
		if err := decodeJSON(b, &out.Container); err != nil {
			return nil, fmt.Errorf("run %d: container %d: %w", rec.ID, container.ID, err)
		}
		delete(out.Container, "created")
	} else {
		out.Inputs, _ = plain(rec.Inputs).(map[string]any)
	}
	steps := make([]string, 0, len(rec.Steps))
	for i, s := range rec.Steps {
		steps = append(steps, s.Asset+"."+s.Action)
		if s.Truncated != nil {
			return nil, fmt.Errorf("run %d step %d (%s.%s) was cut in the record (over the per-step cap), so it cannot be replayed; raise the cap or save another run", rec.ID, i+1, s.Asset, s.Action)
		}
		if s.Result == nil {
			// A malformed call raised before the action ran: nothing to
			// record, the replay raises the same way.
			continue
		}
		if s.Params == nil {
			return nil, fmt.Errorf("run %d step %d (%s.%s) has no recorded parameters (the run is older than step recording); save a newer run", rec.ID, i+1, s.Asset, s.Action)
		}
		call := callOut{Call: s.Asset + "." + s.Action}
		if err := decodeJSON(s.Params, &call.Params); err != nil {
			return nil, fmt.Errorf("run %d step %d params: %w", rec.ID, i+1, err)
		}
		call.Result.Status, call.Result.Message = s.Result.Status, s.Result.Message
		if err := decodeJSON(s.Result.Summary, &call.Result.Summary); err != nil {
			return nil, fmt.Errorf("run %d step %d summary: %w", rec.ID, i+1, err)
		}
		if err := decodeJSON(s.Result.Data, &call.Result.Data); err != nil {
			return nil, fmt.Errorf("run %d step %d data: %w", rec.ID, i+1, err)
		}
		out.Calls = append(out.Calls, call)
	}
	out.Expect.Status = rec.Status
	out.Expect.Steps = steps
	if rec.Status == store.RunSuccess {
		r := rec.Result
		if r == nil {
			r = map[string]any{}
		}
		out.Expect.Result = plain(r)
	} else {
		out.Expect.Error = stableError(rec.Error)
	}
	var n yaml.Node
	if err := n.Encode(out); err != nil {
		return nil, fmt.Errorf("run %d: %w", rec.ID, err)
	}
	return &n, nil
}

// stableError is the part of a run's error a replay reproduces: the first
// line (a traceback or a duration can differ).
func stableError(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// decodeJSON decodes raw into dst (a map or a slice) with numbers kept
// exact and then made plain, so YAML writes them as numbers.
func decodeJSON[T any](raw json.RawMessage, dst *T) error {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	v = plain(v)
	out, ok := v.(T)
	if !ok {
		return fmt.Errorf("want %T, got %T", *dst, v)
	}
	*dst = out
	return nil
}

// caseOut is a case as SaveRun writes it, keys in reading order.
type caseOut struct {
	Name      string         `yaml:"name"`
	Inputs    map[string]any `yaml:"inputs,omitempty"`
	Container map[string]any `yaml:"container,omitempty"`
	Now       string         `yaml:"now"`
	Calls     []callOut      `yaml:"calls,omitempty"`
	Expect    expectOut      `yaml:"expect"`
}

type callOut struct {
	Call   string         `yaml:"call"`
	Params map[string]any `yaml:"params,omitempty"`
	Result resultOut      `yaml:"result"`
}

type resultOut struct {
	Status  string         `yaml:"status"`
	Message string         `yaml:"message"`
	Summary map[string]any `yaml:"summary,omitempty"`
	Data    []any          `yaml:"data,omitempty"`
}

type expectOut struct {
	Status string   `yaml:"status"`
	Result any      `yaml:"result,omitempty"`
	Steps  []string `yaml:"steps"`
	Error  string   `yaml:"error,omitempty"`
}

// AppendCase adds a case to the test file at path, creating the file (for
// the playbook) when it does not exist. An existing file must be a valid
// test file of the same playbook, and the case's name must be new in it.
func AppendCase(path, playbook string, c *yaml.Node) error {
	var doc yaml.Node
	src, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{
			Kind: yaml.MappingNode,
			Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "playbook"}, {Kind: yaml.ScalarNode, Value: playbook},
				{Kind: yaml.ScalarNode, Value: "cases"}, {Kind: yaml.SequenceNode},
			},
		}}}
	case err != nil:
		return err
	default:
		f, diags := Parse(path, src, nil)
		if len(diags) > 0 {
			return fmt.Errorf("%s is not a valid test file, so the case was not added: %v", path, diags[0])
		}
		if f.Playbook != playbook {
			return fmt.Errorf("%s tests playbook %s, not %s; save the run to %s%s", path, f.Playbook, playbook, playbook, Suffix)
		}
		name := caseName(c)
		for _, existing := range f.Cases {
			if existing.Name == name {
				return fmt.Errorf("%s already has a case %q (line %d); name this one with --name", path, name, existing.Line)
			}
		}
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return err
		}
	}
	root := doc.Content[0]
	var cases *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "cases" {
			cases = root.Content[i+1]
		}
	}
	if cases == nil {
		cases = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "cases"}, cases)
	}
	if cases.Kind != yaml.SequenceNode || cases.Style == yaml.FlowStyle {
		cases.Kind, cases.Style = yaml.SequenceNode, 0
	}
	cases.Content = append(cases.Content, c)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func caseName(c *yaml.Node) string {
	for i := 0; i+1 < len(c.Content); i += 2 {
		if c.Content[i].Value == "name" {
			return c.Content[i+1].Value
		}
	}
	return ""
}
