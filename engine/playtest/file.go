package playtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/yamlx"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

// Suffix ends the name of a test file: hunt.yaml is tested by
// hunt_test.yaml in the same folder. Playbook loading skips such files.
const Suffix = playbook.TestSuffix

// IsTestFile reports whether path names a playbook test file.
func IsTestFile(path string) bool { return strings.HasSuffix(filepath.Base(path), Suffix) }

// Diagnostic is a problem in a test file, at file:line:col.
type Diagnostic = playbook.Diagnostic

// Find lists the test files under each path: a test file itself, or every
// *_test.yaml in a folder (not recursive). The list is sorted.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !fi.IsDir() {
			if !IsTestFile(p) {
				return nil, fmt.Errorf("%s is not a test file: test files end in %s, beside their playbook", p, Suffix)
			}
			out = append(out, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*"+Suffix))
		if err != nil {
			return nil, err
		}
		out = append(out, matches...)
	}
	sort.Strings(out)
	return out, nil
}

// Env is what test files are checked against: the playbooks and the
// configured assets with their providers.
type Env struct {
	Playbooks map[string]*playbook.Playbook
	Assets    map[string]*providers.Provider
}

// Load reads and checks a test file. A nil env skips the checks that need
// the playbooks and the config.
func Load(path string, env *Env) (*File, []Diagnostic) {
	src, err := yamlx.ReadFile(path, "test file")
	if err != nil {
		return nil, []Diagnostic{{File: path, Line: 1, Col: 1, Message: err.Error()}}
	}
	return Parse(path, src, env)
}

// Parse decodes a test file from src and checks it against env.
func Parse(path string, src []byte, env *Env) (*File, []Diagnostic) {
	d := &decoder{&yamlx.Decoder{File: path, Kind: kind}}
	f := d.decode(src)
	if f != nil && env != nil && len(d.Diags) == 0 {
		d.check(f, env)
	}
	playbook.SortDiagnostics(d.Diags)
	if len(d.Diags) > 0 {
		return nil, d.Diags
	}
	return f, nil
}

// The keys of each part of a test file, for the engine's YAML decoder.
var (
	fileKeys   = yamlx.Names("playbook", "cases")
	caseKeys   = yamlx.Names("name", "inputs", "container", "now", "kv", "containers", "calls", "expect")
	callKeys   = yamlx.Names("call", "params", "result")
	resultKeys = yamlx.Names("status", "message", "summary", "data", "parameter")
	expectKeys = yamlx.Names("status", "result", "paths", "steps", "error")
	kind       = yamlx.Kind{Name: "test file", Main: []string{"playbook", "cases"}}
)

type decoder struct{ *yamlx.Decoder }

func (d *decoder) decode(src []byte) *File {
	root := d.Parse(src)
	if root == nil {
		if !d.HasErrors() {
			d.Errorf(nil, "the file is empty; a test file has playbook: and cases:")
		}
		return nil
	}
	fields, ok := d.mapping(root, "the test file", fileKeys)
	if !ok {
		return nil
	}
	f := &File{Path: d.File}
	base := strings.TrimSuffix(filepath.Base(d.File), Suffix)
	f.Playbook, f.PlaybookLine = base, 1
	if n := fields["playbook"]; n != nil {
		if s, ok := d.str(n, "playbook"); ok {
			f.Playbook, f.PlaybookLine = s, n.Line
		}
	}
	n := fields["cases"]
	if n == nil {
		d.Errorf(root, "missing cases:; add a list of cases, each with name:, inputs: (or container:), calls: and expect:")
		return f
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "cases must be a list of cases, got %s", yamlx.Describe(n))
		return f
	}
	seen := map[string]int{}
	for _, cn := range n.Content {
		c, ok := d.caseOf(cn)
		if !ok {
			continue
		}
		if line, dup := seen[c.Name]; dup {
			d.Errorf(cn, "case %q is given twice (first at line %d); give each case its own name", c.Name, line)
			continue
		}
		seen[c.Name] = c.Line
		f.Cases = append(f.Cases, c)
	}
	return f
}

func (d *decoder) caseOf(n *yaml.Node) (Case, bool) {
	fields, ok := d.mapping(n, "a case", caseKeys)
	if !ok {
		return Case{}, false
	}
	c := Case{Line: n.Line}
	before := len(d.Diags)
	if v := fields["name"]; v != nil {
		c.Name, _ = d.str(v, "name")
	} else {
		d.Errorf(n, "a case needs a name:; add one that says what it checks")
	}
	if v := fields["inputs"]; v != nil {
		if m, ok := d.object(v, "inputs"); ok {
			c.Inputs = m
		}
	}
	if v := fields["container"]; v != nil {
		var ct cef.Container
		if d.into(v, "container", &ct) {
			c.Container = &ct
		}
	}
	if v := fields["containers"]; v != nil {
		d.into(v, "containers", &c.Containers)
	}
	if v := fields["now"]; v != nil {
		if s, ok := d.str(v, "now"); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				d.Errorf(v, "now must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
			}
			c.Now = t.UTC()
		}
	}
	if v := fields["kv"]; v != nil {
		if m, ok := d.object(v, "kv"); ok {
			c.KV = map[string]string{}
			for k, e := range m {
				s, isStr := e.(string)
				if !isStr {
					d.Errorf(v, "kv.%s must be a string (kv stores strings; use json.encode for tables), got %v", k, e)
					continue
				}
				c.KV[k] = s
			}
		}
	}
	if v := fields["calls"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			d.Errorf(v, "calls must be a list of recorded calls, got %s", yamlx.Describe(v))
		} else {
			for _, cn := range v.Content {
				if call, ok := d.call(cn); ok {
					c.Calls = append(c.Calls, call)
				}
			}
		}
	}
	if v := fields["expect"]; v != nil {
		c.Expect = d.expect(v)
	} else {
		d.Errorf(n, "case %q has no expect:; say what the run must produce (status:, result:, paths:, steps: or error:)", c.Name)
	}
	return c, len(d.Diags) == before
}

func (d *decoder) call(n *yaml.Node) (Call, bool) {
	fields, ok := d.mapping(n, "a recorded call", callKeys)
	if !ok {
		return Call{}, false
	}
	c := Call{Line: n.Line}
	v := fields["call"]
	if v == nil {
		d.Errorf(n, "a recorded call needs call: asset.action, such as call: tc.hunt_ip")
		return c, false
	}
	s, ok := d.str(v, "call")
	if !ok {
		return c, false
	}
	asset, action, found := strings.Cut(s, ".")
	if !found || asset == "" || action == "" {
		d.Errorf(v, "call must be asset.action, such as tc.hunt_ip, got %q", s)
		return c, false
	}
	c.Asset, c.Action = asset, action
	c.Line, c.Col = v.Line, v.Column
	if p := fields["params"]; p != nil {
		if m, ok := d.object(p, "params"); ok {
			c.Params = m
		}
	}
	if c.Params == nil {
		c.Params = map[string]any{}
	}
	r := fields["result"]
	if r == nil {
		d.Errorf(n, "recorded call %s needs result: {status: success, message: ..., summary: {...}, data: [...]}", s)
		return c, false
	}
	rf, ok := d.mapping(r, "result", resultKeys)
	if !ok {
		return c, false
	}
	c.Result = providers.Result{Status: providers.StatusSuccess, Data: []any{}, Summary: map[string]any{}}
	if v := rf["status"]; v != nil {
		if st, ok := d.str(v, "result.status"); ok {
			if st != providers.StatusSuccess && st != providers.StatusFailed {
				d.Errorf(v, "result.status must be success or failed, got %q", st)
			}
			c.Result.Status = st
		}
	}
	if v := rf["message"]; v != nil {
		c.Result.Message, _ = d.str(v, "result.message")
	}
	if v := rf["summary"]; v != nil {
		if m, ok := d.object(v, "result.summary"); ok {
			c.Result.Summary = m
		}
	}
	if v := rf["parameter"]; v != nil {
		if m, ok := d.object(v, "result.parameter"); ok {
			c.Result.Parameter = m
		}
	}
	if v := rf["data"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			d.Errorf(v, "result.data must be a list, got %s", yamlx.Describe(v))
		} else if x, ok := d.value(v); ok {
			c.Result.Data, _ = x.([]any)
		}
	}
	return c, true
}

func (d *decoder) expect(n *yaml.Node) Expect {
	var e Expect
	fields, ok := d.mapping(n, "expect", expectKeys)
	if !ok {
		return e
	}
	if len(fields) == 0 {
		d.Errorf(n, "expect is empty; say what the run must produce (status:, result:, paths:, steps: or error:)")
	}
	if v := fields["status"]; v != nil {
		if s, ok := d.str(v, "expect.status"); ok {
			switch s {
			case "success", "failed", "timeout":
			default:
				d.Errorf(v, "expect.status must be success, failed or timeout, got %q", s)
			}
			e.Status, e.StatusLine = s, v.Line
		}
	}
	if v := fields["result"]; v != nil {
		if x, ok := d.value(v); ok {
			e.Result, e.HasResult, e.ResultLine = x, true, v.Line
		}
	}
	if v := fields["paths"]; v != nil {
		if v.Kind != yaml.MappingNode {
			d.Errorf(v, "expect.paths must map result paths to values, such as {verdict: malicious, hits.1.id: 5}, got %s", yamlx.Describe(v))
		} else {
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				x, ok := d.value(val)
				if !ok {
					continue
				}
				e.Paths = append(e.Paths, PathExpect{Path: k.Value, Value: x, Line: k.Line})
			}
		}
	}
	if v := fields["steps"]; v != nil {
		e.HasSteps, e.StepsLine = true, v.Line
		if v.Kind != yaml.SequenceNode {
			d.Errorf(v, "expect.steps must be a list of asset.action, such as [tc.hunt_ip, tc.post_data], got %s", yamlx.Describe(v))
		} else {
			e.Steps = []string{}
			for _, s := range v.Content {
				if str, ok := d.str(s, "expect.steps"); ok {
					e.Steps = append(e.Steps, str)
				}
			}
		}
	}
	if v := fields["error"]; v != nil {
		e.Error, _ = d.str(v, "expect.error")
		e.ErrorLine = v.Line
	}
	return e
}

// check validates the file against the playbooks and assets: the playbook
// exists, each recorded call names an asset the playbook uses and an
// action its provider has, and its parameters bind.
func (d *decoder) check(f *File, env *Env) {
	pb, ok := env.Playbooks[f.Playbook]
	if !ok {
		d.Errorf(&yaml.Node{Line: f.PlaybookLine, Column: 1}, "%s", unknownPlaybook(f.Playbook, env.Playbooks))
		return
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		for j := range c.Calls {
			call := &c.Calls[j]
			at := &yaml.Node{Line: call.Line, Column: call.Col}
			if !slices.Contains(pb.Assets, call.Asset) {
				d.Errorf(at, "call %s.%s: playbook %s does not use asset %s (its assets: %s)", call.Asset, call.Action, pb.Name, call.Asset, strings.Join(pb.Assets, ", "))
				continue
			}
			p := env.Assets[call.Asset]
			if p == nil {
				d.Errorf(at, "call %s.%s: asset %s is not configured; add it under assets: in goshawk.yaml", call.Asset, call.Action, call.Asset)
				continue
			}
			spec, ok := p.Action(call.Action)
			if !ok {
				d.Errorf(at, "call %s.%s: %v", call.Asset, call.Action, p.UnknownActionError(call.Action))
				continue
			}
			if _, err := spec.Bind(call.Params); err != nil {
				d.Errorf(at, "call %s.%s: params: %v", call.Asset, call.Action, err)
			}
		}
	}
}

// mapping checks n against its declared keys and returns its values by
// key, null values left out.
func (d *decoder) mapping(n *yaml.Node, what string, keys yamlx.Keys) (map[string]*yaml.Node, bool) {
	fields, ok := d.Mapping(nil, n, what, keys)
	return fields.Values, ok
}

// str reads any scalar's text; values with a syntax of their own (now:)
// are checked by their reader.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) { return d.Text(n, what) }

func (d *decoder) object(n *yaml.Node, what string) (map[string]any, bool) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping, got %s", what, yamlx.Describe(n))
		return nil, false
	}
	v, ok := d.value(n)
	if !ok {
		return nil, false
	}
	m, _ := v.(map[string]any)
	return m, true
}

// value decodes any YAML value to plain Go data (yamlx.Plain): maps, lists,
// strings, int64, float64, bools and nil.
func (d *decoder) value(n *yaml.Node) (any, bool) {
	v, err := yamlx.Plain(n)
	if err != nil {
		d.Errorf(n, "%v", err)
		return nil, false
	}
	return v, true
}

// into decodes a YAML value into a typed Go value through its JSON form.
func (d *decoder) into(n *yaml.Node, what string, dst any) bool {
	v, ok := d.value(n)
	if !ok {
		return false
	}
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		d.Errorf(n, "%s: %v", what, strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}
