package threatconnect

import (
	"strings"
	"time"
)

// tqlEscaper backslash-escapes the characters ThreatConnect's TQL treats as
// special inside a string literal, so a value can never end the literal early
// and inject query text.
var tqlEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, `"`, `\"`, "`", "\\`")

// tqlQuote returns s as a single-quoted TQL string literal.
func tqlQuote(s string) string { return "'" + tqlEscaper.Replace(s) + "'" }

// huntTQL is the query of a hunt: typeName IN ('<T>') AND summary CONTAINS
// '<v>', and optionally "and ownerName in ('A', 'B')", with \ and ' (and "
// and `) escaped in every string.
func huntTQL(typeName, value string, owners []string) string {
	var b strings.Builder
	b.WriteString("typeName IN (" + tqlQuote(typeName) + ") AND summary CONTAINS " + tqlQuote(value))
	if len(owners) > 0 {
		b.WriteString(" and ownerName in (")
		for i, o := range owners {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tqlQuote(o))
		}
		b.WriteString(")")
	}
	return b.String()
}

// pollTQL selects the indicators added at or after start, to the second.
func pollTQL(start time.Time) string {
	return `dateAdded >= "` + start.UTC().Format(time.RFC3339) + `"`
}

// splitList splits a user's list on commas and semicolons, trims each item
// and drops the empty ones.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
