// Package redact removes secret values from text in every encoding a secret
// takes on its way back from a server or through a log: as is, JSON-escaped
// (Go, PHP and Python escape different characters: \u0026 for &, \/ for /,
// \u00e9 for é), URL and form encoded (with %20 or +, upper- or lower-case
// hex), HTML-escaped, and base64 (standard and URL alphabets) at any offset,
// which covers an HTTP Basic header of user:password and any JSON document
// that embeds the secret.
//
// Secrets shorter than MinLen are refused where they are configured (see
// providers.Register): they would blank out ordinary text and protect
// nothing. A Replacer given one ignores it.
package redact

import (
	"encoding/base64"
	"fmt"
	"html"
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Marker replaces a secret wherever it appears.
const Marker = "[REDACTED]"

// MinLen is the shortest secret that can be redacted without mangling
// ordinary text.
const MinLen = 4

// minBase64 is the shortest secret whose base64 forms are redacted: a
// shorter one has too few characters that depend only on the secret, and
// would cut ordinary base64 text at random.
const minBase64 = 6

// Variants returns s and every encoded form of it that Replacer looks for,
// longest first, without repeats. It returns nil for a secret shorter than
// MinLen.
func Variants(s string) []string {
	if len(s) < MinLen {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	add(s)
	for _, html := range []bool{false, true} {
		for _, slash := range []bool{false, true} {
			for _, ascii := range []bool{false, true} {
				add(jsonEscape(s, html, slash, ascii, false))
				add(jsonEscape(s, html, slash, ascii, true))
			}
		}
	}
	for _, v := range []string{url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20")} {
		add(v)
		add(lowerHex(v))
	}
	add(html.EscapeString(s))
	if len(s) >= minBase64 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for _, frag := range base64Fragments(enc, s) {
				add(frag)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// jsonEscape escapes s as the body of a JSON string: always " \ and control
// characters; & < > when html; / when slash; every non-ASCII rune as \uXXXX
// (surrogate pairs above the BMP) when ascii; upper-case hex when upper.
func jsonEscape(s string, html, slash, ascii, upper bool) string {
	hex := "%04x"
	if upper {
		hex = "%04X"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, r == 0x2028, r == 0x2029, html && (r == '&' || r == '<' || r == '>'):
			fmt.Fprintf(&b, `\u`+hex, r)
		case slash && r == '/':
			b.WriteString(`\/`)
		case ascii && r > 0x7e && r <= 0xffff:
			fmt.Fprintf(&b, `\u`+hex, r)
		case ascii && r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u`+hex+`\u`+hex, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lowerHex lower-cases the hex digits of percent escapes.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lower(b[i+1])
			b[i+2] = lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// base64Fragments returns, for each of the three byte offsets s can start
// at inside a longer encoded text, the run of base64 characters that depend
// on s alone. Whatever surrounds the secret (user: before it, more JSON
// after it), one of the three is in the encoded text.
func base64Fragments(enc *base64.Encoding, s string) []string {
	var out []string
	for off := 0; off < 3; off++ {
		pad := strings.Repeat("\x00", off)
		e := enc.EncodeToString([]byte(pad + s))
		// Characters wholly inside the secret's bits: skip those that mix
		// in the padding before, drop those that mix in what follows.
		first := (off*8 + 5) / 6
		last := ((off + len(s)) * 8) / 6 // exclusive
		if last-first >= 4 && last <= len(e) {
			out = append(out, e[first:last])
		}
	}
	return out
}

// Replacer replaces the variants of a fixed set of secrets. The zero value
// replaces nothing; it is safe for concurrent use once built.
type Replacer struct {
	r *strings.Replacer
}

// New returns a Replacer for secrets that writes Marker in their place;
// secrets shorter than MinLen are ignored.
func New(secrets ...string) *Replacer { return NewMarked(Marker, secrets...) }

// NewMarked is New with another marker, for outputs whose shape promises
// one (ThreatQ results say [redacted], as the Swimlane connector does).
func NewMarked(marker string, secrets ...string) *Replacer {
	var all []string
	for _, s := range secrets {
		all = append(all, Variants(s)...)
	}
	if len(all) == 0 {
		return &Replacer{}
	}
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, marker)
	}
	return &Replacer{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret replaced, in every encoding. Text
// that holds no secret, nearly all of it, is returned as is, without a
// copy.
func (r *Replacer) String(s string) string {
	if r == nil || r.r == nil || !Changes(r.r, s) {
		return s
	}
	return r.r.Replace(s)
}

// Changes reports whether rep.Replace would change s, without the copy of
// s that Replace always makes. It runs the replacer's own matching, so it
// finds exactly what Replace replaces, into a probe that keeps nothing: a
// replacer that matches nothing writes s in one piece, and one that
// matches writes the text before the match and the replacement, two
// pieces or more.
func Changes(rep *strings.Replacer, s string) bool {
	if s == "" {
		return false
	}
	p := probes.Get().(*probe)
	*p = probe{}
	rep.WriteString(p, s)
	changed := p.writes != 1 || p.first != len(s)
	probes.Put(p)
	return changed
}

// probe counts the pieces a replacer writes and the length of the first.
type probe struct{ writes, first int }

func (p *probe) Write(b []byte) (int, error) { return p.WriteString(string(b)) }

func (p *probe) WriteString(s string) (int, error) {
	if p.writes == 0 {
		p.first = len(s)
	}
	p.writes++
	return len(s), nil
}

var probes = sync.Pool{New: func() any { return new(probe) }}

// Cut redacts s and then cuts it to at most n bytes without splitting a
// UTF-8 sequence, marking the cut with "...". Redacting first means a cut
// can never leave a prefix of a secret behind.
func (r *Replacer) Cut(s string, n int) string {
	s = r.String(s)
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut + "..."
}
