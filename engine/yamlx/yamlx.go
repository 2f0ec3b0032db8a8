// Package yamlx is goshawk's one positioned-YAML decoder. goshawk.yaml,
// playbooks and playbook test files are all read through it, so they share
// the same rules and the same words:
//
//   - one YAML document per file; syntax errors located at line and column;
//     no aliases and no tags beyond the core schema (!!binary, !custom);
//   - mappings are checked against their declared keys (Keys): an unknown
//     key gets a did-you-mean hint or the list of valid keys, a key given
//     twice and a missing required key are reported at their position;
//   - every problem is a diag.Diagnostic at file:line:col, and decoding goes
//     on after one, so a single pass reports all of them.
//
// A new kind of document is a Kind and the Keys of its mappings; its
// decoding is a walk over the fields Mapping returns.
//
// A Decoder with Env set reads scalars the way goshawk.yaml does: any
// scalar's text, with ${VAR} read from the environment ($$ is a literal $).
// Without Env, scalars must have the YAML type asked for (a string must be
// a string), as playbooks are read.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/internal/hint"
)

// Kind describes a kind of document for messages.
type Kind struct {
	// Name is what one document is called: "playbook", "config".
	Name string
	// Main are the top-level keys that show what the document looks like,
	// named when it is not a mapping.
	Main []string
}

// Key declares one key of a mapping.
type Key struct {
	Name     string
	Required bool
	// Doc says what a missing required key holds, in its message.
	Doc string
}

// Keys declares the keys of a mapping, in the order they are documented.
type Keys []Key

// Names declares optional keys by name.
func Names(names ...string) Keys {
	ks := make(Keys, len(names))
	for i, n := range names {
		ks[i] = Key{Name: n}
	}
	return ks
}

// Names returns the key names in declared order.
func (ks Keys) Names() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

func (ks Keys) has(name string) bool {
	for _, k := range ks {
		if k.Name == name {
			return true
		}
	}
	return false
}

// Decoder decodes one file. It keeps going after a problem and collects
// every diagnostic in Diags.
type Decoder struct {
	File string
	Kind Kind
	// Env, when set, resolves ${VAR} in scalars and makes scalars read as
	// their text whatever their YAML type (the config's rules). It reports
	// false for an unset variable.
	Env func(name string) (string, bool)
	// Unset, when set with Env, is called for each ${VAR} whose variable is
	// unset instead of reporting an error; Scalar then reads the text with
	// the variable left empty and Value.Missing naming it, and Bool, Int
	// and Duration report false without a further error.
	Unset func(n *yaml.Node, what, name string)

	Diags []diag.Diagnostic
}

// Errorf reports an error at n (at 1:1 when n is nil).
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) {
	d.add(n, diag.SevError, fmt.Sprintf(format, args...))
}

// Warnf reports a warning at n.
func (d *Decoder) Warnf(n *yaml.Node, format string, args ...any) {
	d.add(n, diag.SevWarning, fmt.Sprintf(format, args...))
}

func (d *Decoder) add(n *yaml.Node, sev, msg string) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, max(n.Column, 1)
	}
	d.Diags = append(d.Diags, diag.Diagnostic{File: d.File, Line: line, Col: col, Severity: sev, Message: msg})
}

// HasErrors reports whether an error (not a warning) was reported.
func (d *Decoder) HasErrors() bool { return diag.HasErrors(d.Diags) }

// ErrorCount returns how many errors were reported so far; compare two
// counts to learn whether a part of the document had problems.
func (d *Decoder) ErrorCount() int {
	n := 0
	for _, x := range d.Diags {
		if !x.IsWarning() {
			n++
		}
	}
	return n
}

// Parse reads src as one YAML document and returns its root node, or nil
// when the document is empty or unusable (the problem is reported). It
// rejects a second document, aliases, and tags outside the core schema.
func (d *Decoder) Parse(src []byte) *yaml.Node {
	if len(src) > MaxFileSize {
		d.Errorf(nil, "%v", TooLarge(d.Kind.Name+" file"))
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := decode(dec, &doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(src, err)
		}
		return nil
	}
	var extra yaml.Node
	if err := decode(dec, &extra); err == nil {
		d.Errorf(&extra, "a %s file holds one YAML document; move this one to its own file", d.Kind.Name)
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(src, err)
	}
	if !d.checkNodes(&doc) {
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if IsNull(root) {
		return nil
	}
	return root
}

// decode is dec.Decode, with any panic of the YAML library turned into an
// error: bad input never takes the process down.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// columnBudget bounds the bytes parsed again to locate a syntax error's
// column, and maxColumn the columns tried; past them the error points at
// the line's first character.
const (
	columnBudget = 4 << 20
	maxColumn    = 512
)

// syntaxError reports a YAML syntax error. yaml.v3 names the line only;
// the column is found as the shortest prefix of that line with which the
// parser reports the same error: the character it stopped at.
func (d *Decoder) syntaxError(src []byte, err error) {
	msg := err.Error()
	line, col := 1, 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		col = errorColumn(src, line, err.Error())
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.Diags = append(d.Diags, diag.Diagnostic{File: d.File, Line: max(line, 1), Col: col, Severity: diag.SevError, Message: "yaml: " + msg})
}

func errorColumn(src []byte, line int, want string) int {
	lines := bytes.SplitAfter(src, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	before := 0
	for _, l := range lines[:line-1] {
		before += len(l)
	}
	text := bytes.TrimRight(lines[line-1], "\r\n")
	first := len(text) - len(bytes.TrimLeft(text, " \t"))
	tries := min(len(text), maxColumn, columnBudget/(before+len(text)+1))
	for c := 1; c <= tries; c++ {
		var n yaml.Node
		err := decode(yaml.NewDecoder(bytes.NewReader(src[:before+c])), &n)
		if err != nil && err.Error() == want {
			return c
		}
	}
	return first + 1
}

// coreTags are the tags a document may spell out.
var coreTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true}

// checkNodes reports aliases, anchors' uses and unsupported tags. Decoding
// by hand and following aliases would open the door to alias bombs and
// cycles, and a tag (!!binary, !custom) would be silently read as text.
func (d *Decoder) checkNodes(n *yaml.Node) bool {
	ok := true
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch {
		case n.Kind == yaml.AliasNode:
			d.Errorf(n, "aliases (*%s) are not supported in %ss; write the value out", n.Value, d.Kind.Name)
			ok = false
			return
		case n.Kind != yaml.DocumentNode && n.Style&yaml.TaggedStyle != 0 && !coreTags[n.ShortTag()]:
			d.Errorf(n, "the YAML tag %s is not supported in %ss; remove it and write the value as plain text", n.Tag, d.Kind.Name)
			ok = false
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return ok
}

// IsNull reports whether n is YAML null (~, null, or nothing).
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Fields are the values of a mapping by key, without null values (a key
// written with no value counts as absent). Key holds the key nodes.
type Fields struct {
	Values map[string]*yaml.Node
	Key    map[string]*yaml.Node
}

// Get returns the value of key, or nil.
func (f Fields) Get(key string) *yaml.Node { return f.Values[key] }

// Mapping checks that n is a mapping with only declared, unique keys and
// every required key, and returns its fields. where names the mapping in
// messages: "" for the top level, else a path such as "trigger",
// "assets.tc" or `input "ip"`. key, when not nil, is the key whose value n
// is; a missing required key of a block mapping is reported there. A null
// n is an empty mapping.
func (d *Decoder) Mapping(key, n *yaml.Node, where string, keys Keys) (Fields, bool) {
	f := Fields{Values: map[string]*yaml.Node{}, Key: map[string]*yaml.Node{}}
	if IsNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
		if key != nil {
			n.Line, n.Column = key.Line, key.Column
		}
	}
	if n.Kind != yaml.MappingNode {
		d.notMapping(n, where)
		return f, false
	}
	in := In(where)
	names := keys.Names()
	d.entries(n, func(k, v *yaml.Node) string { return fmt.Sprintf("key %q%s", k.Value, in) }, where,
		func(k, v *yaml.Node) {
			if !keys.has(k.Value) {
				d.Errorf(k, "unknown key %q%s%s", k.Value, in, hint.OrList(k.Value, names, "valid keys are"))
				return
			}
			f.Key[k.Value] = k
			if !IsNull(v) {
				f.Values[k.Value] = v
			}
		})
	at := n
	if key != nil && n.Style&yaml.FlowStyle == 0 {
		at = key
	}
	for _, k := range keys {
		if k.Required && f.Values[k.Name] == nil {
			doc := ""
			if k.Doc != "" {
				doc = " (" + k.Doc + ")"
			}
			if where == "" {
				d.Errorf(at, "missing required key %q%s", k.Name, doc)
			} else {
				d.Errorf(at, "%s: missing required key %q%s", where, k.Name, doc)
			}
		}
	}
	return f, true
}

// Entry is one key and value of a mapping whose keys are names the user
// chooses (assets, inputs, plugin limits).
type Entry struct {
	Name       string
	Key, Value *yaml.Node
}

// Entries returns the entries of the mapping n in file order, each key
// once: a name given twice is reported as "<one> "x" is given twice". A
// null n has no entries.
func (d *Decoder) Entries(n *yaml.Node, where, one string) ([]Entry, bool) {
	if IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.notMapping(n, where)
		return nil, false
	}
	var out []Entry
	d.entries(n, func(k, _ *yaml.Node) string { return fmt.Sprintf("%s %q", one, k.Value) }, where,
		func(k, v *yaml.Node) { out = append(out, Entry{k.Value, k, v}) })
	return out, true
}

// entries calls fn for each entry of the mapping n whose key is a plain
// scalar seen for the first time, and reports the others.
func (d *Decoder) entries(n *yaml.Node, name func(k, v *yaml.Node) string, where string, fn func(k, v *yaml.Node)) {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, "keys%s must be plain names, got %s", In(where), Describe(k))
			continue
		}
		if seen[k.Value] {
			d.Errorf(k, "%s is given twice; keep one", name(k, v))
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
}

func (d *Decoder) notMapping(n *yaml.Node, where string) {
	if where != "" {
		d.Errorf(n, "%s must be a mapping, got %s", where, Describe(n))
		return
	}
	d.Errorf(n, "a %s must be a mapping of keys (%s, ...), got %s", d.Kind.Name, strings.Join(d.Kind.Main, ", "), Describe(n))
}

// In returns " in where", or "" for the top level.
func In(where string) string {
	if where == "" {
		return ""
	}
	return " in " + where
}

// Join returns where.key, or key at the top level.
func Join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// Describe names the YAML kind and, for a scalar, the value of n, for type
// errors.
func Describe(n *yaml.Node) string {
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

// Value is a scalar as read: its text and whether part of it came from
// the environment, in which case messages must not show it.
type Value struct {
	Text string
	// Vars names the ${VAR}s the text was built from, set or not.
	Vars []string
	// Missing names the unset ones (Decoder.Unset was called for each).
	Missing []string
}

// FromEnv reports whether part of the value came from the environment.
func (v Value) FromEnv() bool { return len(v.Vars) > 0 }

// Got describes the value for "must be ..., got X" messages, never
// showing what came from the environment.
func (v Value) Got(n *yaml.Node) string {
	if v.FromEnv() {
		return fmt.Sprintf("the value of %s (not shown: it comes from the environment)", varList(v.Vars))
	}
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!str" {
		return Describe(n)
	}
	return strconv.Quote(v.Text)
}

func varList(vars []string) string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "${" + v + "}"
	}
	return strings.Join(out, " and ")
}

// Scalar reads n as a single value. With Env set it is the text of any
// scalar, expanded; without, n must be a YAML string. what names the value
// in messages.
func (d *Decoder) Scalar(n *yaml.Node, what string) (Value, bool) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, "%s must be a single value, got %s", what, Describe(n))
		return Value{}, false
	}
	if d.Env == nil {
		if n.ShortTag() != "!!str" {
			d.Errorf(n, "%s must be a string, got %s", what, Describe(n))
			return Value{}, false
		}
		return Value{Text: n.Value}, true
	}
	return d.expand(n, what)
}

// Text reads the text of any scalar that is not null, whatever its YAML
// type: for values whose own syntax is checked afterwards (a time such as
// 2026-01-02T15:04:05Z, which YAML would read as a timestamp).
func (d *Decoder) Text(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		d.Errorf(n, "%s must be a single value, got %s", what, Describe(n))
		return "", false
	}
	if d.Env != nil {
		v, ok := d.Scalar(n, what)
		return v.Text, ok && len(v.Missing) == 0
	}
	return n.Value, true
}

// Str reads a string.
func (d *Decoder) Str(n *yaml.Node, what string) (string, bool) {
	if d.Env == nil && (n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str") {
		d.Errorf(n, "%s must be a string, got %s", what, Describe(n))
		return "", false
	}
	v, ok := d.Scalar(n, what)
	return v.Text, ok
}

// Bool reads true or false.
func (d *Decoder) Bool(n *yaml.Node, what string) (bool, bool) {
	if d.Env != nil {
		v, ok := d.Scalar(n, what)
		if !ok || len(v.Missing) > 0 { // an unset variable was reported
			return false, false
		}
		switch strings.ToLower(strings.TrimSpace(v.Text)) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
		d.Errorf(n, "%s must be true or false, got %s", what, v.Got(n))
		return false, false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.Errorf(n, "%s must be true or false, got %s", what, Describe(n))
		return false, false
	}
	return b, true
}

// Int reads a whole number that fits 32 bits.
func (d *Decoder) Int(n *yaml.Node, what string) (int, bool) {
	got := Describe(n)
	if d.Env != nil {
		v, ok := d.Scalar(n, what)
		if !ok || len(v.Missing) > 0 { // an unset variable was reported
			return 0, false
		}
		if i, err := strconv.ParseInt(strings.TrimSpace(v.Text), 10, 32); err == nil {
			return int(i), true
		}
		got = v.Got(n)
	} else if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var v int64
		if err := n.Decode(&v); err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	}
	d.Errorf(n, "%s must be a whole number, got %s", what, got)
	return 0, false
}

// Duration reads a Go duration such as 30s or 1h30m.
func (d *Decoder) Duration(n *yaml.Node, what string) (time.Duration, bool) {
	got := Describe(n)
	if d.Env != nil {
		v, ok := d.Scalar(n, what)
		if !ok || len(v.Missing) > 0 { // an unset variable was reported
			return 0, false
		}
		if dur, err := time.ParseDuration(strings.TrimSpace(v.Text)); err == nil {
			return dur, true
		}
		got = v.Got(n)
	} else if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if dur, err := time.ParseDuration(strings.TrimSpace(n.Value)); err == nil {
			return dur, true
		}
	}
	d.Errorf(n, "%s must be a duration such as 30s, 10m or 1h30m, got %s", what, got)
	return 0, false
}

// Names reads a list of unique names (assets, plugins, contains types):
// what names the list, one a single element.
func (d *Decoder) Names(n *yaml.Node, what, one string) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list such as [a, b], got %s", what, Describe(n))
		return nil, nil
	}
	var names []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		s, ok := d.Str(c, one+" name")
		if !ok {
			continue
		}
		if contains(names, s) {
			d.Errorf(c, "%s %q is listed twice in %s", one, s, what)
			continue
		}
		names = append(names, s)
		nodes = append(nodes, c)
	}
	return names, nodes
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Plain returns the value of n as plain Go data, in the shapes parameter
// values use: map[string]any, []any, string, int64, float64, bool or nil.
// A timestamp stays the text written; an alias is an error (Parse rejects
// them anyway).
func Plain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return Plain(n.Content[0])
		}
		return nil, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := Plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := Plain(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				return i, nil
			}
			var f float64
			err := n.Decode(&f)
			return f, err
		case "!!float":
			var f float64
			err := n.Decode(&f)
			return f, err
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: aliases are not supported; write the value out", n.Line)
}
