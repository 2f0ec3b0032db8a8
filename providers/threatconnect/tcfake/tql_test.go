package tcfake

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTQLCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"typeName IN ('Address')", "typeName IN ('Address')"},
		{"typename in ('Address','Host')", "typeName IN ('Address', 'Host')"},
		{`summary contains "a'b"`, `summary CONTAINS 'a\'b'`},
		{"a_b", ""},
		{"typeName IN ('A') AND summary CONTAINS 'x' and ownerName in ('O\\'Brien')",
			`typeName IN ('A') AND summary CONTAINS 'x' AND ownerName IN ('O\'Brien')`},
		{"typeName IN ('A') OR typeName IN ('B') AND summary CONTAINS 'x'",
			"typeName IN ('A') OR typeName IN ('B') AND summary CONTAINS 'x'"},
		{"(typeName IN ('A') OR typeName IN ('B')) AND summary CONTAINS 'x'",
			"(typeName IN ('A') OR typeName IN ('B')) AND summary CONTAINS 'x'"},
		{"((summary CONTAINS 'x'))", "summary CONTAINS 'x'"},
		{`dateAdded >= "2025-03-01T00:00:00Z"`, `dateAdded >= '2025-03-01T00:00:00Z'`},
		{"dateAdded<'2025-03-01'", "dateAdded < '2025-03-01'"},
		{`summary CONTAINS '\\ \' \" \` + "`'", `summary CONTAINS '\\ \' \" \` + "`'"},
	}
	for _, tc := range tests {
		e, err := ParseTQL(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseTQL(%q) = %v, want an error", tc.in, e)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTQL(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("ParseTQL(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseTQLPrecedence(t *testing.T) {
	e, err := ParseTQL("typeName IN ('Host') or typeName IN ('Address') AND summary CONTAINS 'zz'")
	if err != nil {
		t.Fatal(err)
	}
	or, ok := e.(*Or)
	if !ok || len(or.Terms) != 2 {
		t.Fatalf("top node = %#v, want an OR of two terms", e)
	}
	if and, ok := or.Terms[1].(*And); !ok || len(and.Terms) != 2 {
		t.Fatalf("second OR term = %#v, want an AND", or.Terms[1])
	}
	host := &record{ind: Indicator{Type: "Host", Summary: "a.example"}, lowerSummary: "a.example"}
	addr := &record{ind: Indicator{Type: "Address", Summary: "1.2.3.4"}, lowerSummary: "1.2.3.4"}
	if !e.match(host) || e.match(addr) {
		t.Errorf("host matched %v, address matched %v; want true, false", e.match(host), e.match(addr))
	}
}

func TestParseTQLDates(t *testing.T) {
	for in, want := range map[string]time.Time{
		`dateAdded >= '2025-03-01'`:                time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		`dateAdded >= "2025-03-01T10:20:30Z"`:      time.Date(2025, 3, 1, 10, 20, 30, 0, time.UTC),
		`dateAdded >= "2025-03-01T10:20:30+02:00"`: time.Date(2025, 3, 1, 8, 20, 30, 0, time.UTC),
	} {
		e, err := ParseTQL(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := e.(*Compare).Time; !got.Equal(want) {
			t.Errorf("%s: time %v, want %v", in, got, want)
		}
	}
}

func TestParseTQLErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"typeName",
		"typeName IN",
		"typeName IN ()",
		"typeName IN ('a',)",
		"typeName IN ('a'",
		"typeName = 'a'",
		"summary CONTAINS",
		"summary CONTAINS 'open",
		`summary CONTAINS 'lone\`,
		`summary CONTAINS 'a\x'`,
		"summary CONTAINS 'a' AND",
		"summary CONTAINS 'a' summary CONTAINS 'b'",
		"(summary CONTAINS 'a'",
		"summary CONTAINS 'a')",
		"rating >= '3'",
		"dateAdded = '2025-03-01'",
		"dateAdded >= 'March 1'",
		"dateAdded >= '2025-02-30'",
		"summary IN ('a')",
		"typeName CONTAINS 'a'",
		"summary CONTAINS 'a' ; drop",
		strings.Repeat("(", maxTQLDepth+1) + "summary CONTAINS 'a'" + strings.Repeat(")", maxTQLDepth+1),
	} {
		e, err := ParseTQL(in)
		if err == nil {
			t.Errorf("ParseTQL(%q) = %v, want an error", in, e)
			continue
		}
		if !errors.Is(err, ErrTQL) {
			t.Errorf("ParseTQL(%q) error %v does not wrap ErrTQL", in, err)
		}
	}
	deep := strings.Repeat("(", maxTQLDepth) + "summary CONTAINS 'a'" + strings.Repeat(")", maxTQLDepth)
	if _, err := ParseTQL(deep); err != nil {
		t.Errorf("nesting of %d: %v", maxTQLDepth, err)
	}
}

// escapeForTest is an escaper written independently of quoteTQL: the minimal
// one TC requires (\ and ') plus the optional " and ` its docs list.
func escapeForTest(v string, all bool) string {
	r := []string{`\`, `\\`, `'`, `\'`}
	if all {
		r = append(r, `"`, `\"`, "`", "\\`")
	}
	return strings.NewReplacer(r...).Replace(v)
}

func FuzzParseTQL(f *testing.F) {
	for _, s := range []string{
		"typeName IN ('Address') AND summary CONTAINS '1.2.3.4'",
		`dateAdded >= "2025-03-01T00:00:00Z"`,
		"(a", `'\'`, "O'Brien", `C:\temp\"x"`, "`", "\xff\xfe", "漢字", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Arbitrary input never panics; what parses has a canonical form
		// that parses back to itself.
		if e, err := ParseTQL(s); err == nil {
			canon := e.String()
			e2, err := ParseTQL(canon)
			if err != nil {
				t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
			}
			if e2.String() != canon {
				t.Fatalf("canonical form not stable: %q -> %q", canon, e2.String())
			}
		} else if !errors.Is(err, ErrTQL) {
			t.Fatalf("error %v does not wrap ErrTQL", err)
		}

		// An escaped value embedded in a hunt query comes back exactly.
		for _, all := range []bool{false, true} {
			q := "typeName IN ('Address') AND summary CONTAINS '" + escapeForTest(s, all) + "' and ownerName in ('" + escapeForTest(s, all) + "')"
			e, err := ParseTQL(q)
			if err != nil {
				t.Fatalf("escaped %q (all=%v) does not parse: %v", s, all, err)
			}
			terms := e.(*And).Terms
			if got := terms[1].(*Contains).Value; got != s {
				t.Fatalf("CONTAINS literal = %q, want %q", got, s)
			}
			if got := terms[2].(*In).Values[0]; got != s {
				t.Fatalf("IN literal = %q, want %q", got, s)
			}
		}
		if got, err := ParseTQL(`summary CONTAINS "` + escapeForTest(s, true) + `"`); err != nil || got.(*Contains).Value != s {
			t.Fatalf("double-quoted %q: %v, %v", s, got, err)
		}
	})
}
