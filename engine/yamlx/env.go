package yamlx

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// expand reads the text of the scalar n with ${VAR} replaced by the
// variable's value and $$ by $. A malformed reference (${}, ${1X}, an
// unclosed ${X) is an error at its column; an unset variable is passed to
// d.Unset, or is an error when Unset is nil. Messages never show a value
// that came from the environment.
func (d *Decoder) expand(n *yaml.Node, what string) (Value, bool) {
	s := n.Value
	if !strings.Contains(s, "$") {
		return Value{Text: s}, true
	}
	var b strings.Builder
	var v Value
	ok := true
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		at := d.at(n, i)
		if end < 0 {
			d.Errorf(at, "%s: ${ is not closed; write ${NAME} (or $$ for a literal $)", what)
			return Value{}, false
		}
		name := s[i+2 : i+end]
		ref := s[i : i+end+1]
		i += end + 1
		if msg := checkVarName(name); msg != "" {
			d.Errorf(at, "%s: %s %s; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)", what, quoteRef(ref), msg)
			ok = false
			continue
		}
		v.Vars = append(v.Vars, name)
		val, set := d.Env(name)
		if !set {
			if d.Unset == nil {
				d.Errorf(at, "%s: environment variable %s is not set; export it or write the value in the file", what, name)
				ok = false
				continue
			}
			d.Unset(at, what, name)
			v.Missing = append(v.Missing, name)
		}
		b.WriteString(val)
	}
	v.Text = b.String()
	return v, ok
}

// quoteRef shows a malformed reference, shortened: it is the user's text,
// not a value from the environment.
func quoteRef(ref string) string {
	if len(ref) > 40 {
		ref = ref[:37] + "..."
	}
	return "\"" + ref + "\""
}

func checkVarName(name string) string {
	if name == "" {
		return "names no variable"
	}
	for i, r := range name {
		switch {
		case r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9':
			if i == 0 {
				return "is not a variable name"
			}
		default:
			return "is not a variable name"
		}
	}
	return ""
}

// at returns a node positioned at byte i of the scalar n's value, when the
// value sits on one line as written (plain or quoted, no escapes before
// i); otherwise n itself.
func (d *Decoder) at(n *yaml.Node, i int) *yaml.Node {
	prefix := n.Value[:i]
	if strings.ContainsAny(prefix, "\n\\'\"") || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n
	}
	col := n.Column + i
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return &yaml.Node{Line: n.Line, Column: col}
}
