package tcfake

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Expr is a parsed TQL expression. The node types (*And, *Or, *In,
// *Contains, *Compare) are exported so that tests can inspect the literal
// values a query carries; String renders the canonical form, which parses
// back to the same expression.
type Expr interface {
	String() string
	match(r *record) bool
}

// And matches when every term matches. AND binds tighter than OR.
type And struct{ Terms []Expr }

// Or matches when any term matches.
type Or struct{ Terms []Expr }

// In is `<Field> IN ('a', 'b')`, compared case-insensitively. Field is
// "typeName" or "ownerName".
type In struct {
	Field  string
	Values []string
}

// Contains is `summary CONTAINS '<Value>'`, a case-insensitive substring test.
type Contains struct {
	Field string
	Value string
	lower string
}

// Compare is `dateAdded <Op> '<Value>'`; Time is Value parsed as RFC 3339 or
// as a YYYY-MM-DD date at midnight UTC.
type Compare struct {
	Field string
	Op    string
	Value string
	Time  time.Time
}

// ErrTQL is wrapped by every error ParseTQL returns.
var ErrTQL = errors.New("tql parse error")

// maxTQLDepth bounds parenthesis nesting so hostile input cannot recurse deeply.
const maxTQLDepth = 64

// ParseTQL parses the TQL subset the emulator understands:
//
//	expr := and {OR and}
//	and  := term {AND term}
//	term := "(" expr ")" | typeName IN list | ownerName IN list
//	      | summary CONTAINS str | dateAdded (>= | > | < | <=) str
//	list := "(" str {"," str} ")"
//
// Keywords and field names are case-insensitive. Strings are single- or
// double-quoted, with the escapes \' \" \` and \\ and no others.
func ParseTQL(s string) (Expr, error) {
	p := &parser{lex: lexer{src: s}}
	p.next()
	e, err := p.parseOr(0)
	if err == nil {
		err = p.err
	}
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after a complete expression: join terms with AND or OR", p.tok)
	}
	return e, nil
}

func (e *And) String() string { return joinTerms(e.Terms, " AND ", true) }
func (e *Or) String() string  { return joinTerms(e.Terms, " OR ", false) }

func joinTerms(terms []Expr, sep string, parenOr bool) string {
	var sb strings.Builder
	for i, t := range terms {
		if i > 0 {
			sb.WriteString(sep)
		}
		if _, isOr := t.(*Or); isOr && parenOr {
			sb.WriteString("(" + t.String() + ")")
			continue
		}
		sb.WriteString(t.String())
	}
	return sb.String()
}

func (e *In) String() string {
	q := make([]string, len(e.Values))
	for i, v := range e.Values {
		q[i] = quoteTQL(v)
	}
	return e.Field + " IN (" + strings.Join(q, ", ") + ")"
}

func (e *Contains) String() string { return e.Field + " CONTAINS " + quoteTQL(e.Value) }
func (e *Compare) String() string  { return e.Field + " " + e.Op + " " + quoteTQL(e.Value) }

func (e *And) match(r *record) bool {
	for _, t := range e.Terms {
		if !t.match(r) {
			return false
		}
	}
	return true
}

func (e *Or) match(r *record) bool {
	for _, t := range e.Terms {
		if t.match(r) {
			return true
		}
	}
	return false
}

func (e *In) match(r *record) bool {
	v := r.ind.Type
	if e.Field == "ownerName" {
		v = r.ind.OwnerName
	}
	for _, want := range e.Values {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

func (e *Contains) match(r *record) bool {
	needle := e.lower
	if needle == "" && e.Value != "" {
		needle = strings.ToLower(e.Value)
	}
	return strings.Contains(r.lowerSummary, needle)
}

func (e *Compare) match(r *record) bool {
	d := r.ind.DateAdded
	switch e.Op {
	case ">=":
		return !d.Before(e.Time)
	case ">":
		return d.After(e.Time)
	case "<=":
		return !d.After(e.Time)
	default:
		return d.Before(e.Time)
	}
}

// quoteTQL single-quotes v with the four escapes TQL documents.
func quoteTQL(v string) string {
	var sb strings.Builder
	sb.Grow(len(v) + 2)
	sb.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '\'', '"', '`':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('\'')
	return sb.String()
}

// fieldCanon maps the lower-cased field names to their canonical spelling.
var fieldCanon = map[string]string{
	"typename":  "typeName",
	"ownername": "ownerName",
	"summary":   "summary",
	"dateadded": "dateAdded",
}

type parser struct {
	lex lexer
	tok token
	err error
}

func (p *parser) next() {
	if p.err != nil {
		return
	}
	p.tok, p.err = p.lex.next()
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrTQL, p.tok.pos, fmt.Sprintf(format, args...))
}

func (p *parser) parseOr(depth int) (Expr, error) {
	var terms []Expr
	for {
		t, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		if or, ok := t.(*Or); ok {
			terms = append(terms, or.Terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.tok.isKeyword("or") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) parseAnd(depth int) (Expr, error) {
	var terms []Expr
	for {
		t, err := p.parseTerm(depth)
		if err != nil {
			return nil, err
		}
		if and, ok := t.(*And); ok {
			terms = append(terms, and.Terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.tok.isKeyword("and") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &And{Terms: terms}, nil
}

func (p *parser) parseTerm(depth int) (Expr, error) {
	if p.err != nil {
		return nil, p.err
	}
	switch p.tok.kind {
	case tokLParen:
		if depth >= maxTQLDepth {
			return nil, p.errorf("parentheses nested deeper than %d: simplify the query", maxTQLDepth)
		}
		p.next()
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.err != nil {
			return nil, p.err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("expected ')' but found %s", p.tok)
		}
		p.next()
		return e, nil
	case tokIdent:
	default:
		return nil, p.errorf("expected a field name or '(' but found %s", p.tok)
	}
	field, ok := fieldCanon[strings.ToLower(p.tok.text)]
	if !ok {
		return nil, p.errorf("unknown field %q: use typeName, ownerName, summary or dateAdded", p.tok.text)
	}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	switch field {
	case "typeName", "ownerName":
		if !p.tok.isKeyword("in") {
			return nil, p.errorf("expected IN after %s but found %s", field, p.tok)
		}
		p.next()
		values, err := p.parseList()
		if err != nil {
			return nil, err
		}
		return &In{Field: field, Values: values}, nil
	case "summary":
		if !p.tok.isKeyword("contains") {
			return nil, p.errorf("expected CONTAINS after summary but found %s", p.tok)
		}
		p.next()
		v, err := p.parseString()
		if err != nil {
			return nil, err
		}
		return &Contains{Field: field, Value: v, lower: strings.ToLower(v)}, nil
	default:
		if p.tok.kind != tokOp {
			return nil, p.errorf("expected >=, >, < or <= after dateAdded but found %s", p.tok)
		}
		op := p.tok.text
		p.next()
		pos := p.tok.pos
		v, err := p.parseString()
		if err != nil {
			return nil, err
		}
		t, err := parseTQLDate(v)
		if err != nil {
			return nil, fmt.Errorf("%w: offset %d: %w", ErrTQL, pos, err)
		}
		return &Compare{Field: field, Op: op, Value: v, Time: t}, nil
	}
}

func (p *parser) parseList() ([]string, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind != tokLParen {
		return nil, p.errorf("expected '(' to open a list but found %s", p.tok)
	}
	p.next()
	var values []string
	for {
		v, err := p.parseString()
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		if p.err != nil {
			return nil, p.err
		}
		if p.tok.kind == tokRParen {
			p.next()
			return values, nil
		}
		if p.tok.kind != tokComma {
			return nil, p.errorf("expected ',' or ')' in a list but found %s", p.tok)
		}
		p.next()
	}
}

func (p *parser) parseString() (string, error) {
	if p.err != nil {
		return "", p.err
	}
	if p.tok.kind != tokString {
		return "", p.errorf("expected a quoted string but found %s", p.tok)
	}
	v := p.tok.text
	p.next()
	return v, nil
}

func parseTQLDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("date %q is neither RFC 3339 (2025-03-01T00:00:00Z) nor YYYY-MM-DD", v)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokLParen
	tokRParen
	tokComma
	tokOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) isKeyword(kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the query"
	case tokString:
		return "a string"
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer works on bytes, so a string literal round-trips byte for byte even
// when it is not valid UTF-8.
type lexer struct {
	src string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, text: "(", pos: start}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, text: ")", pos: start}, nil
	case c == ',':
		l.pos++
		return token{kind: tokComma, text: ",", pos: start}, nil
	case c == '>' || c == '<':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '=' {
			l.pos++
		}
		return token{kind: tokOp, text: l.src[start:l.pos], pos: start}, nil
	case c == '\'' || c == '"':
		return l.lexString(c)
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
	}
	return token{}, fmt.Errorf("%w: offset %d: unexpected character %q", ErrTQL, start, c)
}

func (l *lexer) lexString(quote byte) (token, error) {
	start := l.pos
	l.pos++
	var sb strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case quote:
			l.pos++
			return token{kind: tokString, text: sb.String(), pos: start}, nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return token{}, fmt.Errorf("%w: offset %d: string ends in a lone backslash: write \\\\ for a backslash", ErrTQL, l.pos)
			}
			switch e := l.src[l.pos+1]; e {
			case '\'', '"', '`', '\\':
				sb.WriteByte(e)
				l.pos += 2
			default:
				return token{}, fmt.Errorf("%w: offset %d: unknown escape \\%c: only \\' \\\" \\` and \\\\ are allowed", ErrTQL, l.pos, e)
			}
		default:
			sb.WriteByte(c)
			l.pos++
		}
	}
	return token{}, fmt.Errorf("%w: offset %d: unterminated string: close it with %c", ErrTQL, start, quote)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
