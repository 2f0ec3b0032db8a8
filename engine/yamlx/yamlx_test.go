package yamlx

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var testKind = Kind{Name: "widget", Main: []string{"name", "size"}}

var testKeys = Keys{{Name: "name", Required: true, Doc: "what to call it"}, {Name: "size"}, {Name: "color"}}

// decodeWidget is a whole document kind in a few lines: what a third kind
// (playbook test files) needs from this package.
func decodeWidget(src string, env map[string]string) (*Decoder, Fields) {
	d := &Decoder{File: "w.yaml", Kind: testKind}
	if env != nil {
		d.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	}
	var f Fields
	if root := d.Parse([]byte(src)); root != nil {
		f, _ = d.Mapping(nil, root, "", testKeys)
	}
	return d, f
}

func diagStrings(d *Decoder) []string {
	var out []string
	for _, x := range d.Diags {
		out = append(out, x.String())
	}
	return out
}

func TestDocumentRules(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"valid", "name: a\nsize: 3\n", nil},
		{"empty is no error", "", nil},
		{"not a mapping", "- a\n", []string{`w.yaml:1:1: a widget must be a mapping of keys (name, size, ...), got a list`}},
		{"unknown key with hint", "name: a\ncolour: red\n", []string{`w.yaml:2:1: unknown key "colour"; did you mean "color"?`}},
		{"unknown key without hint", "name: a\nweight: 3\n", []string{`w.yaml:2:1: unknown key "weight"; valid keys are name, size, color`}},
		{"key given twice", "name: a\nname: b\n", []string{`w.yaml:2:1: key "name" is given twice; keep one`}},
		{"missing required", "size: 3\n", []string{`w.yaml:1:1: missing required key "name" (what to call it)`}},
		{"null counts as missing", "name:\n", []string{`w.yaml:1:1: missing required key "name" (what to call it)`}},
		{"complex key", "? [a]\n: 1\nname: a\n", []string{`w.yaml:1:3: keys must be plain names, got a list`}},
		{"second document", "name: a\n---\nname: b\n", []string{`w.yaml:2:1: a widget file holds one YAML document; move this one to its own file`}},
		{"alias", "name: &n a\nsize: *n\n", []string{`w.yaml:2:7: aliases (*n) are not supported in widgets; write the value out`}},
		{"binary tag", "name: !!binary aGVsbG8=\n", []string{`w.yaml:1:7: the YAML tag !!binary is not supported in widgets; remove it and write the value as plain text`}},
		{"custom tag", "name: !secret a\n", []string{`w.yaml:1:7: the YAML tag !secret is not supported in widgets; remove it and write the value as plain text`}},
		{"custom tag on a mapping", "name: a\nsize: !box {w: 1}\n", []string{`w.yaml:2:7: the YAML tag !box is not supported in widgets; remove it and write the value as plain text`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := decodeWidget(tt.src, nil)
			if got := diagStrings(d); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCoreTagsAreAccepted(t *testing.T) {
	d, f := decodeWidget("name: !!str 12\nsize: !!int 3\n", nil)
	if len(d.Diags) > 0 {
		t.Fatalf("diags: %v", d.Diags)
	}
	if s, ok := d.Str(f.Get("name"), "name"); !ok || s != "12" {
		t.Fatalf("name = %q, %v", s, ok)
	}
}

// TestSyntaxErrorsHaveAColumn guards that a YAML syntax error points at the
// character the parser stopped at, not at column 1 of its line.
func TestSyntaxErrorsHaveAColumn(t *testing.T) {
	tests := []struct{ src, want string }{
		{"name: a\n  bad: x\n", "w.yaml:2:6: yaml: mapping values are not allowed in this context"},
		{"name: [a, b\n", "w.yaml:1:8: yaml: did not find expected ',' or ']'"},
		{"name: a\nsize: \"3\n", "w.yaml:2:7: yaml: found unexpected end of stream"},
		{"name: a\n\tsize: 3\n", "w.yaml:2:1: yaml: found a tab character that violates indentation"},
	}
	for _, tt := range tests {
		d, _ := decodeWidget(tt.src, nil)
		got := diagStrings(d)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%q: got %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestStrictScalars(t *testing.T) {
	d, f := decodeWidget("name: [x]\nsize: four\ncolor: 30\n", nil)
	d.Str(f.Get("name"), "name")
	d.Int(f.Get("size"), "size")
	d.Duration(f.Get("color"), "color")
	d.Bool(f.Get("color"), "color")
	want := []string{
		`w.yaml:1:7: name must be a string, got a list`,
		`w.yaml:2:7: size must be a whole number, got the string "four"`,
		`w.yaml:3:8: color must be a duration such as 30s, 10m or 1h30m, got the number 30`,
		`w.yaml:3:8: color must be true or false, got the number 30`,
	}
	if got := diagStrings(d); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEnvScalars(t *testing.T) {
	env := map[string]string{"N": "3", "T": "2m", "SECRET": "hunter2-value", "B": "yes"}
	d, f := decodeWidget("name: x-${N}-$$-$5\nsize: ${N}\ncolor: ${T}\n", env)
	if len(d.Diags) > 0 {
		t.Fatalf("diags: %v", d.Diags)
	}
	if s, _ := d.Str(f.Get("name"), "name"); s != "x-3-$-$5" {
		t.Errorf("name = %q", s)
	}
	if n, ok := d.Int(f.Get("size"), "size"); !ok || n != 3 {
		t.Errorf("size = %d, %v", n, ok)
	}
	if v, ok := d.Duration(f.Get("color"), "color"); !ok || v != 2*time.Minute {
		t.Errorf("color = %v, %v", v, ok)
	}
}

// TestMalformedReferences guards that ${}, ${1X} and an unclosed ${X are
// errors at their column instead of being kept as text.
func TestMalformedReferences(t *testing.T) {
	tests := []struct{ src, want string }{
		{"name: ${}\n", `w.yaml:1:7: name: "${}" names no variable; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)`},
		{"name: ab${1X}\n", `w.yaml:1:9: name: "${1X}" is not a variable name; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)`},
		{"name: \"${A-B}\"\n", `w.yaml:1:8: name: "${A-B}" is not a variable name; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)`},
		{"name: ${TC_SECRET\n", `w.yaml:1:7: name: ${ is not closed; write ${NAME} (or $$ for a literal $)`},
		{"name: ${UNSET}\n", `w.yaml:1:7: name: environment variable UNSET is not set; export it or write the value in the file`},
	}
	for _, tt := range tests {
		d, f := decodeWidget(tt.src, map[string]string{})
		d.Str(f.Get("name"), "name")
		got := diagStrings(d)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%q:\ngot  %q\nwant %q", tt.src, got, tt.want)
		}
	}
}

func TestUnsetIsReportedOnce(t *testing.T) {
	d, f := decodeWidget("name: a${X}b${Y}\n", map[string]string{"Y": "y"})
	var unset []string
	d.Unset = func(n *yaml.Node, what, name string) { unset = append(unset, what+":"+name) }
	v, ok := d.Scalar(f.Get("name"), "name")
	if !ok || v.Text != "aby" || !reflect.DeepEqual(v.Missing, []string{"X"}) || !reflect.DeepEqual(v.Vars, []string{"X", "Y"}) {
		t.Fatalf("value %+v, %v", v, ok)
	}
	if !reflect.DeepEqual(unset, []string{"name:X"}) || len(d.Diags) > 0 {
		t.Fatalf("unset %v, diags %v", unset, d.Diags)
	}
}

// TestEnvValuesAreNeverShown guards that a type error on a value read from
// the environment names the variable, not its value.
func TestEnvValuesAreNeverShown(t *testing.T) {
	env := map[string]string{"SECRET": "hunter2-value"}
	d, f := decodeWidget("name: a\nsize: ${SECRET}\ncolor: ${SECRET}\n", env)
	d.Int(f.Get("size"), "size")
	d.Duration(f.Get("color"), "color")
	d.Bool(f.Get("color"), "color")
	if len(d.Diags) != 3 {
		t.Fatalf("diags: %v", d.Diags)
	}
	for _, x := range d.Diags {
		if strings.Contains(x.Message, "hunter2") || !strings.Contains(x.Message, "the value of ${SECRET} (not shown: it comes from the environment)") {
			t.Errorf("message %q", x.Message)
		}
	}
}

func TestEntries(t *testing.T) {
	d := &Decoder{File: "w.yaml", Kind: testKind}
	root := d.Parse([]byte("a: 1\nb: 2\na: 3\n"))
	es, ok := d.Entries(root, "things", "thing")
	if !ok || len(es) != 2 || es[0].Name != "a" || es[1].Name != "b" {
		t.Fatalf("entries %+v", es)
	}
	if got := diagStrings(d); !reflect.DeepEqual(got, []string{`w.yaml:3:1: thing "a" is given twice; keep one`}) {
		t.Fatalf("diags %q", got)
	}
}

func TestMissingRequiredKeyPosition(t *testing.T) {
	// A block mapping is reported at the key that opens it, a flow mapping
	// at its brace.
	d := &Decoder{File: "w.yaml", Kind: testKind}
	root := d.Parse([]byte("block:\n  size: 1\nflow: {size: 1}\n"))
	es, _ := d.Entries(root, "", "widget")
	for _, e := range es {
		d.Mapping(e.Key, e.Value, e.Name, testKeys)
	}
	want := []string{
		`w.yaml:1:1: block: missing required key "name" (what to call it)`,
		`w.yaml:3:7: flow: missing required key "name" (what to call it)`,
	}
	if got := diagStrings(d); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestNames(t *testing.T) {
	d, f := decodeWidget("name: [a, b, a, 3]\n", nil)
	names, nodes := d.Names(f.Get("name"), "name", "thing")
	if !reflect.DeepEqual(names, []string{"a", "b"}) || len(nodes) != 2 {
		t.Fatalf("names %v", names)
	}
	want := []string{`w.yaml:1:14: thing "a" is listed twice in name`, `w.yaml:1:17: thing name must be a string, got the number 3`}
	if got := diagStrings(d); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestPlain(t *testing.T) {
	d := &Decoder{File: "w.yaml", Kind: testKind}
	root := d.Parse([]byte("m: {a: 1, b: [x, 2.5, true, null, 2024-01-02]}\nbig: 99999999999999999999\n"))
	v, err := Plain(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"m":   map[string]any{"a": int64(1), "b": []any{"x", 2.5, true, nil, "2024-01-02"}},
		"big": 1e20,
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("Plain = %#v", v)
	}
}

// TestFileSizeIsBounded guards that an oversized file is refused before it
// is read whole or parsed.
func TestFileSizeIsBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	data := bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1)
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big, "playbook"); err == nil || err.Error() != "the playbook is larger than 4 MiB, the most goshawk reads; split it or remove what it doesn't need" {
		t.Fatalf("ReadFile = %v", err)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, data[:MaxFileSize], 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(ok, "playbook"); err != nil || len(got) != MaxFileSize {
		t.Fatalf("ReadFile of the largest allowed file: %d bytes, %v", len(got), err)
	}
	d := &Decoder{File: "w.yaml", Kind: testKind}
	if d.Parse(data) != nil || len(d.Diags) != 1 || !strings.Contains(d.Diags[0].Message, "the widget file is larger than 4 MiB") {
		t.Fatalf("Parse: %v", d.Diags)
	}
}

func TestText(t *testing.T) {
	d, f := decodeWidget("name: 2026-01-02T15:04:05Z\nsize: 3\ncolor: [x]\n", nil)
	if s, ok := d.Text(f.Get("name"), "name"); !ok || s != "2026-01-02T15:04:05Z" {
		t.Fatalf("name = %q", s)
	}
	if s, ok := d.Text(f.Get("size"), "size"); !ok || s != "3" {
		t.Fatalf("size = %q", s)
	}
	d.Text(f.Get("color"), "color")
	if got := diagStrings(d); !reflect.DeepEqual(got, []string{"w.yaml:3:8: color must be a single value, got a list"}) {
		t.Fatalf("diags %q", got)
	}
}
