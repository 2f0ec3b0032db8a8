package playbook

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/providers"
)

// decoder turns a playbook's YAML into a Playbook. It keeps going after a
// problem, so one pass reports every problem it can, each at its node.
type decoder struct {
	file  string
	diags []Diagnostic

	// Positions kept for the checks against the environment and the
	// script, which run after decoding.
	nameNode    *yaml.Node
	assetNodes  []*yaml.Node // parallel to Playbook.Assets
	pluginNodes []*yaml.Node // parallel to Playbook.Plugins
	onPollNode  *yaml.Node
	scriptNode  *yaml.Node
	luaNode     *yaml.Node
	// badInputs is set when an input failed to decode; the Lua lint then
	// doesn't report uses of it as unknown.
	badInputs bool
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, max(n.Column, 1)
	}
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: line, Col: col, Message: fmt.Sprintf(format, args...)})
}

var (
	playbookKeys = []string{"name", "description", "trigger", "inputs", "assets", "plugins", "script", "lua", "timeout", "concurrency", "queue"}
	triggerKeys  = []string{"schedule", "every", "on_poll", "webhook", "timezone"}
	inputKeys    = []string{"type", "contains", "required", "default", "doc"}

	// Playbook names appear in URLs and run records, so they are kept to a
	// URL-safe alphabet.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	// Input names become Lua table keys and CLI name=value pairs, and use
	// the rule of action parameter names.
	inputNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

var typeNames = []string{
	string(providers.String), string(providers.Number), string(providers.Integer), string(providers.Bool),
	string(providers.Object), string(providers.Array), string(providers.Duration),
}

// decode parses src into pb. defaultName is used when the file has no name.
func (d *decoder) decode(src []byte, pb *Playbook, defaultName string) {
	pb.Name = defaultName
	pb.Timeout = DefaultTimeout
	pb.Concurrency = DefaultConcurrency
	pb.Queue = DefaultQueue

	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "the playbook is empty; it needs at least a script or lua key")
			return
		}
		d.yamlError(err)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a playbook file holds one YAML document; move this one to its own file")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	if d.rejectAliases(&doc) {
		return
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		d.errorf(root, "the playbook is empty; it needs at least a script or lua key")
		return
	}
	fields, ok := d.mapping(root, "", playbookKeys)
	if !ok {
		return
	}

	if n := fields["name"]; n != nil {
		d.nameNode = n
		if s, ok := d.str(n, "name"); ok {
			pb.Name = s
		}
	}
	if !nameRE.MatchString(pb.Name) {
		if d.nameNode != nil {
			d.errorf(d.nameNode, "name %q must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", pb.Name)
		} else {
			d.errorf(root, "the file name gives the playbook name %q, which has characters other than letters, digits, '.', '_' or '-'; rename the file or set name:", pb.Name)
		}
	}
	if n := fields["description"]; n != nil {
		pb.Description, _ = d.str(n, "description")
	}
	if n := fields["trigger"]; n != nil {
		d.trigger(n, &pb.Trigger)
	}
	if n := fields["inputs"]; n != nil {
		pb.Inputs = d.inputs(n)
	}
	if n := fields["assets"]; n != nil {
		pb.Assets, d.assetNodes = d.names(n, "assets", "asset")
	}
	if n := fields["plugins"]; n != nil {
		pb.Plugins, d.pluginNodes = d.names(n, "plugins", "plugin")
	}

	script, lua := fields["script"], fields["lua"]
	switch {
	case script != nil && lua != nil:
		later := lua
		if lua.Line < script.Line {
			later = script
		}
		d.errorf(later, "set either script (a file) or lua (inline), not both")
	case script != nil:
		if s, ok := d.str(script, "script"); ok {
			if strings.TrimSpace(s) == "" {
				d.errorf(script, "script must name a Lua file, relative to this file")
			} else {
				pb.ScriptPath = s
				d.scriptNode = script
			}
		}
	case lua != nil:
		if s, ok := d.str(lua, "lua"); ok {
			pb.Source = []byte(s)
			d.luaNode = lua
		}
	default:
		d.errorf(root, "missing script or lua: give the Lua file with script: or inline code with lua: |")
	}

	if n := fields["timeout"]; n != nil {
		if v, ok := d.duration(n, "timeout"); ok {
			if v <= 0 {
				d.errorf(n, "timeout must be positive, got %s", v)
			} else {
				pb.Timeout = v
			}
		}
	}
	if n := fields["concurrency"]; n != nil {
		if v, ok := d.int(n, "concurrency"); ok {
			if v < 1 {
				d.errorf(n, "concurrency must be at least 1, got %d", v)
			} else {
				pb.Concurrency = v
			}
		}
	}
	if n := fields["queue"]; n != nil {
		if v, ok := d.int(n, "queue"); ok {
			if v < 0 {
				d.errorf(n, "queue must be 0 or more, got %d", v)
			} else {
				pb.Queue = v
			}
		}
	}
}

// yamlError turns a YAML syntax error into a diagnostic. yaml.v3 gives a
// line but no column.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: max(line, 1), Col: 1, Message: "yaml: " + msg})
}

// rejectAliases reports every alias. Playbooks are small, and following
// aliases while decoding by hand would open the door to alias bombs and
// cycles.
func (d *decoder) rejectAliases(n *yaml.Node) bool {
	found := false
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			d.errorf(n, "aliases (*%s) are not supported in playbooks; write the value out", n.Value)
			found = true
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return found
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping checks that n is a mapping with only known, unique keys and
// returns its non-null values by key. where names the mapping in messages
// ("" for the top level).
func (d *decoder) mapping(n *yaml.Node, where string, known []string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		if where == "" {
			d.errorf(n, "a playbook must be a mapping of keys (name, trigger, script, ...), got %s", describe(n))
		} else {
			d.errorf(n, "%s must be a mapping, got %s", where, describe(n))
		}
		return nil, false
	}
	in := ""
	if where != "" {
		in = " in " + where
	}
	fields := make(map[string]*yaml.Node, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys%s must be plain names, got %s", in, describe(k))
			continue
		}
		key := k.Value
		switch {
		case seen[key]:
			d.errorf(k, "key %q%s is set twice; keep one", key, in)
		case !contains(known, key):
			d.errorf(k, "unknown key %q%s%s", key, in, orValid(key, known))
		case !isNull(v):
			fields[key] = v
		}
		seen[key] = true
	}
	return fields, true
}

// orValid returns a did-you-mean hint, or the list of valid keys when no
// key is close.
func orValid(key string, known []string) string {
	if h := didYouMean(key, known); h != "" {
		return h
	}
	return "; valid keys are " + strings.Join(known, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describe names the YAML kind of n for type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		case "!!null":
			return "nothing"
		}
		return n.Value
	}
	return "an unsupported YAML value"
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) bool(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	return b, true
}

func (d *decoder) int(n *yaml.Node, what string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var v int64
		if err := n.Decode(&v); err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	}
	d.errorf(n, "%s must be a whole number, got %s", what, describe(n))
	return 0, false
}

func (d *decoder) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if v, err := time.ParseDuration(strings.TrimSpace(n.Value)); err == nil {
			return v, true
		}
	}
	d.errorf(n, "%s must be a duration such as 30s, 10m or 1h30m, got %s", what, describe(n))
	return 0, false
}

// names decodes a list of unique names (assets, plugins).
func (d *decoder) names(n *yaml.Node, what, one string) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list such as [a, b], got %s", what, describe(n))
		return nil, nil
	}
	var names []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		s, ok := d.str(c, one+" name")
		if !ok {
			continue
		}
		if contains(names, s) {
			d.errorf(c, "%s %q is listed twice in %s", one, s, what)
			continue
		}
		names = append(names, s)
		nodes = append(nodes, c)
	}
	return names, nodes
}

func (d *decoder) trigger(n *yaml.Node, t *Trigger) {
	fields, ok := d.mapping(n, "trigger", triggerKeys)
	if !ok {
		return
	}
	if v := fields["timezone"]; v != nil {
		if s, ok := d.str(v, "trigger.timezone"); ok {
			if _, err := sched.LoadLocation(s); err != nil {
				d.errorf(v, "trigger.timezone: %v", err)
			} else {
				t.Timezone = s
			}
		}
	}
	if v := fields["schedule"]; v != nil {
		if s, ok := d.str(v, "trigger.schedule"); ok {
			// A bad timezone was reported above; still check the
			// expression itself, in UTC.
			c, err := sched.ParseCron(s, t.Timezone)
			if err != nil {
				d.errorf(v, "trigger.schedule: %v", err)
			} else {
				t.Schedule, t.Cron = s, c
			}
		}
	}
	if v := fields["every"]; v != nil {
		if dur, ok := d.duration(v, "trigger.every"); ok {
			if _, err := sched.Every(dur); err != nil {
				d.errorf(v, "trigger.every: %v", err)
			} else {
				t.Every = dur
			}
		}
	}
	if v := fields["on_poll"]; v != nil {
		if s, ok := d.str(v, "trigger.on_poll"); ok {
			t.OnPoll = s
			d.onPollNode = v
		}
	}
	if v := fields["webhook"]; v != nil {
		t.Webhook, _ = d.bool(v, "trigger.webhook")
	}
}

func (d *decoder) inputs(n *yaml.Node) []Input {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "inputs must be a mapping of input names to {type, contains, required, default, doc}, got %s", describe(n))
		d.badInputs = true
		return nil
	}
	var inputs []Input
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := d.str(k, "an input name")
		if !ok {
			continue
		}
		if seen[name] {
			d.errorf(k, "input %q is declared twice; keep one", name)
			continue
		}
		seen[name] = true
		if !inputNameRE.MatchString(name) {
			d.errorf(k, "input name %q must be lowercase letters, digits and '_', starting with a letter", name)
			d.badInputs = true
			continue
		}
		if in, ok := d.input(name, k, v); ok {
			inputs = append(inputs, in)
		} else {
			d.badInputs = true
		}
	}
	return inputs
}

func (d *decoder) input(name string, key, n *yaml.Node) (Input, bool) {
	in := Input{Name: name}
	where := fmt.Sprintf("input %q", name)
	if isNull(n) {
		d.errorf(key, "%s needs at least a type, e.g. {type: string}", where)
		return in, false
	}
	fields, ok := d.mapping(n, where, inputKeys)
	if !ok {
		return in, false
	}
	valid := true
	if v := fields["type"]; v == nil {
		d.errorf(n, "%s: missing required key \"type\" (one of %s)", where, strings.Join(typeNames, ", "))
		valid = false
	} else if s, ok := d.str(v, where+" type"); !ok {
		valid = false
	} else if !contains(typeNames, s) {
		d.errorf(v, "%s: unknown type %q%s", where, s, orOneOf(s, typeNames))
		valid = false
	} else {
		in.Type = providers.Type(s)
	}
	if v := fields["contains"]; v != nil {
		kinds, nodes := d.names(v, where+" contains", "contains type")
		for i, c := range kinds {
			if !providers.KnownContains(c) {
				d.errorf(nodes[i], "%s: unknown contains type %q%s", where, c, orOneOf(c, providers.ContainsTypes()))
				valid = false
			}
		}
		if in.Type != "" && in.Type != providers.String && len(kinds) > 0 {
			d.errorf(v, "%s: contains applies to string inputs only, and this one has type %s", where, in.Type)
			valid = false
		}
		in.Contains = kinds
	}
	if v := fields["required"]; v != nil {
		in.Required, _ = d.bool(v, where+" required")
	}
	if v := fields["doc"]; v != nil {
		in.Doc, _ = d.str(v, where+" doc")
	}
	if v := fields["default"]; v != nil && valid && in.Type != "" {
		if in.Required {
			d.errorf(v, "%s is required, so its default is never used; drop one of them", where)
			return in, false
		}
		var raw any
		if err := v.Decode(&raw); err != nil {
			d.errorf(v, "%s default: %v", where, err)
			return in, false
		}
		p := providers.Param{Name: name, Type: in.Type, Contains: in.Contains}
		cv, err := p.Coerce(normalizeYAML(raw))
		if err == nil {
			err = p.CheckValue(cv)
		}
		if err != nil {
			d.errorf(v, "%s default: %v", where, err)
			return in, false
		}
		in.Default = cv
	}
	return in, valid
}

func orOneOf(s string, valid []string) string {
	if h := didYouMean(s, valid); h != "" {
		return h
	}
	return "; use one of " + strings.Join(valid, ", ")
}

// normalizeYAML converts what yaml.v3 decodes into the shapes providers
// values use: map[string]any for mappings (with any keys rendered as
// strings) and []any for lists.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeYAML(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeYAML(e)
		}
		return out
	case int:
		return int64(x)
	}
	return v
}
