package threatconnect

import (
	"reflect"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

func TestTQLQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3.4", `'1.2.3.4'`},
		{"O'Brien", `'O\'Brien'`},
		{`a\b`, `'a\\b'`},
		{`say "hi"`, `'say \"hi\"'`},
		{"back`tick", "'back\\`tick'"},
		{`\'`, `'\\\''`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := tqlQuote(tt.in); got != tt.want {
			t.Errorf("tqlQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" Org A, ;Org B;; ,Org C ")
	if want := []string{"Org A", "Org B", "Org C"}; !reflect.DeepEqual(got, want) {
		t.Errorf("splitList = %q, want %q", got, want)
	}
	if got := splitList(" , ; "); got != nil {
		t.Errorf("splitList of separators = %q, want none", got)
	}
}

func TestPollTQL(t *testing.T) {
	start := time.Date(2025, 3, 1, 1, 2, 3, 999, time.FixedZone("CET", 3600))
	if got, want := pollTQL(start), `dateAdded >= "2025-03-01T00:02:03Z"`; got != want {
		t.Errorf("pollTQL = %s, want %s", got, want)
	}
}

// FuzzTQLEscape checks that any value, embedded in a hunt query as the
// summary and as an owner, parses back to itself with the emulator's parser:
// no value can end its literal early and change the query.
func FuzzTQLEscape(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "O'Brien", `\`, `\'`, `'); typeName IN ('Host`, "\"`\\'", "a\x00b", "\xff\xfe", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q := huntTQL("Address", v, []string{v, "Org B"})
		e, err := tcfake.ParseTQL(q)
		if err != nil {
			t.Fatalf("ParseTQL(%q): %v", q, err)
		}
		and, ok := e.(*tcfake.And)
		if !ok || len(and.Terms) != 3 {
			t.Fatalf("ParseTQL(%q) = %s, want three terms joined by AND", q, e)
		}
		typ, _ := and.Terms[0].(*tcfake.In)
		sum, _ := and.Terms[1].(*tcfake.Contains)
		own, _ := and.Terms[2].(*tcfake.In)
		if typ == nil || sum == nil || own == nil {
			t.Fatalf("ParseTQL(%q) = %s, want typeName IN, summary CONTAINS, ownerName IN", q, e)
		}
		if typ.Field != "typeName" || !reflect.DeepEqual(typ.Values, []string{"Address"}) {
			t.Errorf("type term = %s", typ)
		}
		if sum.Field != "summary" || sum.Value != v {
			t.Errorf("summary value = %q, want %q", sum.Value, v)
		}
		if own.Field != "ownerName" || !reflect.DeepEqual(own.Values, []string{v, "Org B"}) {
			t.Errorf("owner values = %q, want %q", own.Values, []string{v, "Org B"})
		}
	})
}
