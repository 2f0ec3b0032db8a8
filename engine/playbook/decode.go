package playbook

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/yamlx"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

// decoder turns a playbook's YAML into a Playbook. It keeps going after a
// problem, so one pass reports every problem it can, each at its node.
type decoder struct {
	*yamlx.Decoder

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

func newDecoder(file string) *decoder {
	return &decoder{Decoder: &yamlx.Decoder{File: file, Kind: Kind}}
}

// The keys of a playbook.
var (
	playbookKeys = yamlx.Names("name", "description", "trigger", "inputs", "assets", "plugins", "script", "lua", "timeout", "concurrency", "queue", "retry_interrupted")
	triggerKeys  = yamlx.Names("schedule", "every", "on_poll", "webhook", "timezone")
	inputKeys    = yamlx.Keys{
		{Name: "type", Required: true, Doc: "one of " + strings.Join(providers.TypeNames(), ", ")},
		{Name: "contains"}, {Name: "required"}, {Name: "default"}, {Name: "doc"},
	}

	// Kind is the playbook document for the YAML decoder.
	Kind = yamlx.Kind{Name: "playbook", Main: []string{"name", "trigger", "script"}}

	// Playbook names appear in URLs and run records, so they are kept to a
	// URL-safe alphabet.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	// Input names become Lua table keys and CLI name=value pairs, and use
	// the rule of action parameter names.
	inputNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// decode parses src into pb. defaultName is used when the file has no name.
func (d *decoder) decode(src []byte, pb *Playbook, defaultName string) {
	pb.Name = defaultName
	pb.Timeout = DefaultTimeout
	pb.Concurrency = DefaultConcurrency
	pb.Queue = DefaultQueue

	root := d.Parse(src)
	if root == nil {
		if !d.HasErrors() {
			d.Errorf(nil, "the playbook is empty; it needs at least a script or lua key")
		}
		return
	}
	fields, ok := d.Mapping(nil, root, "", playbookKeys)
	if !ok {
		return
	}

	if n := fields.Get("name"); n != nil {
		d.nameNode = n
		if s, ok := d.Str(n, "name"); ok {
			pb.Name = s
		}
	}
	if !nameRE.MatchString(pb.Name) {
		if d.nameNode != nil {
			d.Errorf(d.nameNode, "name %q must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", pb.Name)
		} else {
			d.Errorf(root, "the file name gives the playbook name %q, which has characters other than letters, digits, '.', '_' or '-'; rename the file or set name:", pb.Name)
		}
	}
	if n := fields.Get("description"); n != nil {
		pb.Description, _ = d.Str(n, "description")
	}
	if n := fields.Get("trigger"); n != nil {
		d.trigger(fields.Key["trigger"], n, &pb.Trigger)
	}
	if n := fields.Get("inputs"); n != nil {
		pb.Inputs = d.inputs(n)
	}
	if n := fields.Get("assets"); n != nil {
		pb.Assets, d.assetNodes = d.Names(n, "assets", "asset")
	}
	if n := fields.Get("plugins"); n != nil {
		pb.Plugins, d.pluginNodes = d.Names(n, "plugins", "plugin")
	}

	script, lua := fields.Get("script"), fields.Get("lua")
	switch {
	case script != nil && lua != nil:
		later := lua
		if lua.Line < script.Line {
			later = script
		}
		d.Errorf(later, "set either script (a file) or lua (inline), not both")
	case script != nil:
		if s, ok := d.Str(script, "script"); ok {
			if strings.TrimSpace(s) == "" {
				d.Errorf(script, "script must name a Lua file, relative to this file")
			} else {
				pb.ScriptPath = s
				d.scriptNode = script
			}
		}
	case lua != nil:
		if s, ok := d.Str(lua, "lua"); ok {
			pb.Source = []byte(s)
			d.luaNode = lua
		}
	default:
		d.Errorf(root, "missing script or lua: give the Lua file with script: or inline code with lua: |")
	}

	if n := fields.Get("timeout"); n != nil {
		if v, ok := d.Duration(n, "timeout"); ok {
			if v <= 0 {
				d.Errorf(n, "timeout must be positive, got %s", v)
			} else {
				pb.Timeout = v
			}
		}
	}
	if n := fields.Get("concurrency"); n != nil {
		if v, ok := d.Int(n, "concurrency"); ok {
			if v < 1 {
				d.Errorf(n, "concurrency must be at least 1, got %d", v)
			} else {
				pb.Concurrency = v
			}
		}
	}
	if n := fields.Get("queue"); n != nil {
		if v, ok := d.Int(n, "queue"); ok {
			if v < 0 {
				d.Errorf(n, "queue must be 0 or more, got %d", v)
			} else {
				pb.Queue = v
			}
		}
	}
	if n := fields.Get("retry_interrupted"); n != nil {
		if v, ok := d.Bool(n, "retry_interrupted"); ok {
			pb.RetryInterrupted = v
		}
	}
}

func (d *decoder) trigger(key, n *yaml.Node, t *Trigger) {
	fields, ok := d.Mapping(key, n, "trigger", triggerKeys)
	if !ok {
		return
	}
	if v := fields.Get("timezone"); v != nil {
		if s, ok := d.Str(v, "trigger.timezone"); ok {
			if _, err := sched.LoadLocation(s); err != nil {
				d.Errorf(v, "trigger.timezone: %v", err)
			} else {
				t.Timezone = s
			}
		}
	}
	if v := fields.Get("schedule"); v != nil {
		if s, ok := d.Str(v, "trigger.schedule"); ok {
			// A bad timezone was reported above; still check the
			// expression itself, in UTC.
			c, err := sched.ParseCron(s, t.Timezone)
			if err != nil {
				d.Errorf(v, "trigger.schedule: %v", err)
			} else {
				t.Schedule, t.Cron = s, c
			}
		}
	}
	if v := fields.Get("every"); v != nil {
		if dur, ok := d.Duration(v, "trigger.every"); ok {
			if _, err := sched.Every(dur); err != nil {
				d.Errorf(v, "trigger.every: %v", err)
			} else {
				t.Every = dur
			}
		}
	}
	if v := fields.Get("on_poll"); v != nil {
		if s, ok := d.Str(v, "trigger.on_poll"); ok {
			t.OnPoll = s
			d.onPollNode = v
		}
	}
	if v := fields.Get("webhook"); v != nil {
		t.Webhook, _ = d.Bool(v, "trigger.webhook")
	}
}

func (d *decoder) inputs(n *yaml.Node) []Input {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "inputs must be a mapping of input names to {type, contains, required, default, doc}, got %s", yamlx.Describe(n))
		d.badInputs = true
		return nil
	}
	entries, _ := d.Entries(n, "inputs", "input")
	var inputs []Input
	for _, e := range entries {
		if !inputNameRE.MatchString(e.Name) {
			d.Errorf(e.Key, "input name %q must be lowercase letters, digits and '_', starting with a letter", e.Name)
			d.badInputs = true
			continue
		}
		if in, ok := d.input(e.Name, e.Key, e.Value); ok {
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
	if yamlx.IsNull(n) {
		d.Errorf(key, "%s needs at least a type, e.g. {type: string}", where)
		return in, false
	}
	fields, ok := d.Mapping(key, n, where, inputKeys)
	if !ok {
		return in, false
	}
	valid := fields.Get("type") != nil
	if v := fields.Get("type"); v != nil {
		types := providers.TypeNames()
		if s, ok := d.Str(v, where+" type"); !ok {
			valid = false
		} else if !providers.Type(s).Known() {
			d.Errorf(v, "%s: unknown type %q%s", where, s, hint.OrList(s, types, "use one of"))
			valid = false
		} else {
			in.Type = providers.Type(s)
		}
	}
	if v := fields.Get("contains"); v != nil {
		kinds, nodes := d.Names(v, where+" contains", "contains type")
		for i, c := range kinds {
			if !providers.KnownContains(c) {
				d.Errorf(nodes[i], "%s: unknown contains type %q%s", where, c, hint.OrList(c, providers.ContainsTypes(), "use one of"))
				valid = false
			}
		}
		if in.Type != "" && in.Type != providers.String && len(kinds) > 0 {
			d.Errorf(v, "%s: contains applies to string inputs only, and this one has type %s", where, in.Type)
			valid = false
		}
		in.Contains = kinds
	}
	if v := fields.Get("required"); v != nil {
		in.Required, _ = d.Bool(v, where+" required")
	}
	if v := fields.Get("doc"); v != nil {
		in.Doc, _ = d.Str(v, where+" doc")
	}
	if v := fields.Get("default"); v != nil && valid && in.Type != "" {
		if in.Required {
			d.Errorf(v, "%s is required, so its default is never used; drop one of them", where)
			return in, false
		}
		raw, err := yamlx.Plain(v)
		if err != nil {
			d.Errorf(v, "%s default: %v", where, err)
			return in, false
		}
		p := providers.Param{Name: name, Type: in.Type, Contains: in.Contains}
		cv, err := p.Coerce(raw)
		if err == nil {
			err = p.CheckValue(cv)
		}
		if err != nil {
			d.Errorf(v, "%s default: %v", where, err)
			return in, false
		}
		in.Default = cv
	}
	return in, valid
}
