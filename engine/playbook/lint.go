package playbook

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
	"github.com/goshawk/goshawk/third_party/gopher-lua/ast"
	"github.com/goshawk/goshawk/third_party/gopher-lua/parse"

	luabind "github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/providers"
)

// Env is what a playbook is linted against: the configured assets and the
// loaded plugins. A nil *Env skips every check that needs them.
type Env struct {
	// Assets maps each configured asset name to its provider.
	Assets map[string]*providers.Provider
	// Plugins reports the functions of a loaded plugin, and false when no
	// plugin of that name is loaded. Nil means no plugin is loaded.
	Plugins func(name string) (functions []string, ok bool)
}

func (e *Env) plugin(name string) ([]string, bool) {
	if e.Plugins == nil {
		return nil, false
	}
	return e.Plugins(name)
}

// luaGlobals are the globals the playbook sandbox gives every script besides
// the assets, as the Lua runtime itself declares them.
var luaGlobals = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, name := range luabind.Globals() {
		set[name] = true
	}
	return set
})

// removed reports the globals the sandbox leaves out on purpose (io,
// debug, require, ...), as the sandbox itself lists them.
var removed = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for name := range luabind.Removed() {
		if !strings.Contains(name, ".") {
			set[name] = true
		}
	}
	return set
})

// osKept returns the os functions the sandbox keeps, and how to say so.
var osKept = sync.OnceValues(func() ([]string, string) {
	fns := luabind.Members("os")
	words := make([]string, len(fns))
	for i, f := range fns {
		words[i] = "os." + f
	}
	if len(words) > 1 {
		return fns, strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
	}
	return fns, strings.Join(words, "")
})

// luaSource is a Lua chunk and where it sits in the file the user edits: a
// script file, or the inline lua: block of the YAML.
type luaSource struct {
	file    string
	src     []byte
	lineOff int // file line = Lua line + lineOff
	colOff  int // file column = Lua column + colOff
	// inputsKnown is false when some inputs failed to decode, so uses of
	// input.<name> can't be checked.
	inputsKnown bool
}

// linter checks one playbook's Lua against the playbook and the Env.
type linter struct {
	luaSource
	pb  *Playbook
	env *Env

	collecting bool            // first pass: only collect script globals
	globals    map[string]bool // globals the script assigns or defines
	tokens     map[int][]token // by line; built on the first report
	diags      []Diagnostic
}

type token struct {
	typ int
	str string
	col int
}

func lintLua(s luaSource, pb *Playbook, env *Env) []Diagnostic {
	l := &linter{luaSource: s, pb: pb, env: env, globals: map[string]bool{}}
	chunk, err := parseLua(s.src, s.file)
	if err != nil {
		l.syntaxError(err)
		return l.diags
	}
	if err := compileLua(chunk, s.file); err != nil {
		l.compileError(err)
		return l.diags
	}
	l.collecting = true
	l.block(chunk, nil)
	l.collecting = false
	l.block(chunk, nil)
	return l.diags
}

// parseLua parses src, turning any panic of the parser into an error: bad
// input must never take the process down.
func parseLua(src []byte, name string) (chunk []ast.Stmt, err error) {
	defer func() {
		if r := recover(); r != nil {
			chunk, err = nil, fmt.Errorf("lua parser failed: %v", r)
		}
	}()
	return parse.Parse(bytes.NewReader(src), name)
}

func compileLua(chunk []ast.Stmt, name string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lua compiler failed: %v", r)
		}
	}()
	_, err = glua.Compile(chunk, name)
	return err
}

func (l *linter) report(line, col int, format string, args ...any) {
	if l.collecting {
		return
	}
	l.diags = append(l.diags, Diagnostic{
		File:    l.file,
		Line:    line + l.lineOff,
		Col:     col + l.colOff,
		Message: fmt.Sprintf(format, args...),
	})
}

func (l *linter) syntaxError(err error) {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		l.report(1, 1, "lua: %v", err)
		return
	}
	switch {
	case pe.Message != "syntax error" && pe.Message != "parse error":
		// A lexer error (an unterminated string or comment) is detected at
		// its end, often at the end of the script; point at its start.
		line, col := l.tokenStart(pe)
		l.report(line, col, "lua syntax error: %s", pe.Message)
	case pe.Pos.Line == parse.EOF:
		line, col := l.lastToken()
		l.report(line, col, "lua syntax error: unexpected end of script after %q; is an \"end\" or a closing bracket missing?", pe.Token)
	default:
		// The parser reports the position just after the offending token.
		l.report(pe.Pos.Line, max(pe.Pos.Column-len(pe.Token)+1, 1), "lua syntax error near %q", pe.Token)
	}
}

// tokenStart finds where the text of a bad token starts: on the last line,
// at or before the error, that holds it, including its opening quote.
func (l *linter) tokenStart(pe *parse.Error) (int, int) {
	lines := strings.Split(string(l.src), "\n")
	last := len(lines)
	if pe.Pos.Line != parse.EOF {
		last = min(pe.Pos.Line, last)
	}
	for ln := last; ln >= 1 && pe.Token != ""; ln-- {
		if i := strings.LastIndex(lines[ln-1], pe.Token); i >= 0 {
			if i > 0 && strings.ContainsRune(`"'[`, rune(lines[ln-1][i-1])) {
				i--
			}
			return ln, i + 1
		}
	}
	return l.lastToken()
}

var atLineRE = regexp.MustCompile(` at line (\d+)$`)

func (l *linter) compileError(err error) {
	var ce *glua.CompileError
	if errors.As(err, &ce) {
		// Some messages end with the precise line ("at line 3") while
		// ce.Line is the end of the enclosing block; prefer the former, and
		// drop it from the text, where it would be wrong for inline Lua.
		line := ce.Line
		if m := atLineRE.FindStringSubmatch(ce.Message); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		line = min(max(line, 1), bytes.Count(l.src, []byte("\n"))+1)
		l.report(line, 1, "lua: %s", atLineRE.ReplaceAllString(ce.Message, ""))
		return
	}
	l.report(1, 1, "lua: %v", err)
}

// scan tokenizes the source to recover the columns the AST lacks.
func (l *linter) scan() {
	if l.tokens != nil {
		return
	}
	l.tokens = map[int][]token{}
	sc := parse.NewScanner(bytes.NewReader(l.src), l.file)
	lx := &parse.Lexer{}
	for {
		tok, err := sc.Scan(lx)
		if err != nil || tok.Type <= 0 {
			return
		}
		lx.PrevTokenType = tok.Type
		l.tokens[tok.Pos.Line] = append(l.tokens[tok.Pos.Line], token{tok.Type, tok.Str, tok.Pos.Column})
	}
}

func (l *linter) lastToken() (line, col int) {
	l.scan()
	line, col = 1, 1
	for ln, toks := range l.tokens {
		if ln >= line && len(toks) > 0 {
			line, col = ln, toks[len(toks)-1].col
		}
	}
	return line, col
}

// pat is one token of a pattern to find in the source: an identifier when
// typ is parse.TIdent, else the punctuation character typ.
type pat struct {
	typ int
	str string
}

func ident(s string) pat { return pat{parse.TIdent, s} }

var (
	dot   = pat{'.', "."}
	colon = pat{':', ":"}
	eq    = pat{'=', "="}
)

// find locates the first occurrence of the token sequence ps starting on
// line (or a few lines below, for expressions split across lines) and
// returns the position of ps[at]. When the sequence can't be found, it
// falls back to the first token alone, then to column 1.
func (l *linter) find(line, at int, ps ...pat) (int, int) {
	l.scan()
	for _, try := range [][]pat{ps, ps[:1]} {
		if len(try) <= at {
			at = 0
		}
		for ln := line; ln <= line+3; ln++ {
			toks := l.tokens[ln]
			for i := 0; i+len(try) <= len(toks); i++ {
				if matches(toks[i:i+len(try)], try) {
					return ln, toks[i+at].col
				}
			}
		}
	}
	return line, 1
}

func matches(toks []token, ps []pat) bool {
	for i, p := range ps {
		// Punctuation is matched by type alone: the scanner leaves the
		// text of some of it empty.
		if toks[i].typ != p.typ || (p.typ == parse.TIdent && toks[i].str != p.str) {
			return false
		}
	}
	return true
}

// scope is one block's local variables.
type scope struct {
	vars map[string]bool
	up   *scope
}

func (s *scope) declare(names ...string) {
	for _, n := range names {
		s.vars[n] = true
	}
}

func (s *scope) local(name string) bool {
	for ; s != nil; s = s.up {
		if s.vars[name] {
			return true
		}
	}
	return false
}

func newScope(up *scope) *scope { return &scope{vars: map[string]bool{}, up: up} }

func (l *linter) block(stmts []ast.Stmt, up *scope) {
	sc := newScope(up)
	for _, s := range stmts {
		l.stmt(s, sc)
	}
}

func (l *linter) stmt(s ast.Stmt, sc *scope) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		l.exprs(s.Rhs, sc)
		for _, e := range s.Lhs {
			if id, ok := e.(*ast.IdentExpr); ok {
				if l.collecting && !sc.local(id.Value) {
					l.globals[id.Value] = true
				}
				continue
			}
			l.expr(e, sc)
		}
	case *ast.LocalAssignStmt:
		// `local function f` lets f call itself; the parser gives it the
		// same shape as `local f = function`, so both see f.
		if len(s.Exprs) == 1 && len(s.Names) == 1 {
			if _, ok := s.Exprs[0].(*ast.FunctionExpr); ok {
				sc.declare(s.Names...)
			}
		}
		l.exprs(s.Exprs, sc)
		sc.declare(s.Names...)
	case *ast.FuncCallStmt:
		l.expr(s.Expr, sc)
	case *ast.DoBlockStmt:
		l.block(s.Stmts, sc)
	case *ast.WhileStmt:
		l.expr(s.Condition, sc)
		l.block(s.Stmts, sc)
	case *ast.RepeatStmt:
		// The condition of repeat-until sees the body's locals.
		inner := newScope(sc)
		for _, st := range s.Stmts {
			l.stmt(st, inner)
		}
		l.expr(s.Condition, inner)
	case *ast.IfStmt:
		l.expr(s.Condition, sc)
		l.block(s.Then, sc)
		l.block(s.Else, sc)
	case *ast.NumberForStmt:
		l.exprs([]ast.Expr{s.Init, s.Limit, s.Step}, sc)
		inner := newScope(sc)
		inner.declare(s.Name)
		l.block(s.Stmts, inner)
	case *ast.GenericForStmt:
		l.exprs(s.Exprs, sc)
		inner := newScope(sc)
		inner.declare(s.Names...)
		l.block(s.Stmts, inner)
	case *ast.FuncDefStmt:
		self := false
		if s.Name.Func != nil {
			if id, ok := s.Name.Func.(*ast.IdentExpr); ok {
				if l.collecting && !sc.local(id.Value) {
					l.globals[id.Value] = true
				}
			} else {
				l.expr(s.Name.Func, sc)
			}
		} else if s.Name.Receiver != nil {
			l.expr(s.Name.Receiver, sc)
			self = true
		}
		l.function(s.Func, sc, self)
	case *ast.ReturnStmt:
		l.exprs(s.Exprs, sc)
	}
}

func (l *linter) function(f *ast.FunctionExpr, sc *scope, self bool) {
	inner := newScope(sc)
	if f.ParList != nil {
		inner.declare(f.ParList.Names...)
	}
	if self {
		inner.declare("self")
	}
	l.block(f.Stmts, inner)
}

func (l *linter) exprs(es []ast.Expr, sc *scope) {
	for _, e := range es {
		l.expr(e, sc)
	}
}

func (l *linter) expr(e ast.Expr, sc *scope) {
	switch e := e.(type) {
	case nil:
	case *ast.FuncCallExpr:
		l.call(e, sc)
	case *ast.AttrGetExpr:
		l.attr(e, sc, nil)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			l.expr(f.Key, sc)
			l.expr(f.Value, sc)
		}
	case *ast.FunctionExpr:
		l.function(e, sc, false)
	case *ast.LogicalOpExpr:
		l.exprs([]ast.Expr{e.Lhs, e.Rhs}, sc)
	case *ast.RelationalOpExpr:
		l.exprs([]ast.Expr{e.Lhs, e.Rhs}, sc)
	case *ast.StringConcatOpExpr:
		l.exprs([]ast.Expr{e.Lhs, e.Rhs}, sc)
	case *ast.ArithmeticOpExpr:
		l.exprs([]ast.Expr{e.Lhs, e.Rhs}, sc)
	case *ast.UnaryMinusOpExpr:
		l.expr(e.Expr, sc)
	case *ast.UnaryNotOpExpr:
		l.expr(e.Expr, sc)
	case *ast.UnaryLenOpExpr:
		l.expr(e.Expr, sc)
	}
}

// globalName returns the name of e when it is an identifier that is not a
// local variable.
func globalName(e ast.Expr, sc *scope) (string, bool) {
	id, ok := e.(*ast.IdentExpr)
	if !ok || sc.local(id.Value) {
		return "", false
	}
	return id.Value, true
}

func constKey(e ast.Expr) (string, bool) {
	s, ok := e.(*ast.StringExpr)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func (l *linter) call(c *ast.FuncCallExpr, sc *scope) {
	defer l.exprs(c.Args, sc)
	if c.Receiver != nil {
		name, ok := globalName(c.Receiver, sc)
		if !ok {
			l.expr(c.Receiver, sc)
			return
		}
		if slices.Contains(l.pb.Assets, name) {
			line, col := l.find(c.Line(), 2, ident(name), colon, ident(c.Method))
			l.report(line, col, "call actions with a dot, as in %s.%s{...}, not %s:%s", name, c.Method, name, c.Method)
			return
		}
		l.global(name, c.Method, c.Line(), colon, nil)
		return
	}
	if a, ok := c.Func.(*ast.AttrGetExpr); ok {
		l.attr(a, sc, c)
		return
	}
	l.expr(c.Func, sc)
}

// attr checks obj.key, and the call of it when call is not nil.
func (l *linter) attr(a *ast.AttrGetExpr, sc *scope, call *ast.FuncCallExpr) {
	key, isConst := constKey(a.Key)
	// plugins.<name>.<function>
	if inner, ok := a.Object.(*ast.AttrGetExpr); ok && isConst {
		if obj, ok := globalName(inner.Object, sc); ok && obj == "plugins" {
			if plugin, ok := constKey(inner.Key); ok {
				l.pluginUse(plugin, key, inner.Line())
				return
			}
		}
	}
	if obj, ok := globalName(a.Object, sc); ok && isConst {
		l.global(obj, key, a.Line(), dot, call)
		return
	}
	l.expr(a.Object, sc)
	l.expr(a.Key, sc)
}

// global checks the use of obj.key, where obj is a global: an asset's
// action, an input, a library function, or something undeclared.
func (l *linter) global(obj, key string, line int, sep pat, call *ast.FuncCallExpr) {
	switch {
	case slices.Contains(l.pb.Assets, obj):
		l.action(obj, key, line, sep, call)
	case obj == "input":
		if !l.inputsKnown {
			return
		}
		names := make([]string, len(l.pb.Inputs))
		for i, in := range l.pb.Inputs {
			names[i] = in.Name
		}
		if !slices.Contains(names, key) {
			ln, col := l.find(line, 2, ident(obj), sep, ident(key))
			if len(names) == 0 {
				l.report(ln, col, "unknown input %q: the playbook declares no inputs; add it under inputs:", key)
			} else {
				l.report(ln, col, "unknown input %q%s", key, orValidNames(key, names, "declared inputs"))
			}
		}
	case obj == "plugins":
		l.pluginUse(key, "", line)
	case obj == "os":
		if kept, words := osKept(); !slices.Contains(kept, key) {
			ln, col := l.find(line, 2, ident(obj), sep, ident(key))
			l.report(ln, col, "os.%s is not available in playbooks; the sandbox keeps only %s", key, words)
		}
	case luaGlobals()[obj] || l.globals[obj]:
	case removed()[obj]:
		ln, col := l.find(line, 0, ident(obj), sep, ident(key))
		l.report(ln, col, "%s is not available in playbooks; the sandbox has no file, process, module or debug access", obj)
	case l.env != nil && l.env.Assets[obj] != nil:
		ln, col := l.find(line, 0, ident(obj), sep, ident(key))
		l.report(ln, col, "asset %s is not declared in this playbook; add it to assets: to use it", obj)
	default:
		ln, col := l.find(line, 0, ident(obj), sep, ident(key))
		candidates := append([]string(nil), l.pb.Assets...)
		if l.env != nil {
			for name := range l.env.Assets {
				candidates = append(candidates, name)
			}
		}
		if h := didYouMean(obj, candidates); h != "" {
			l.report(ln, col, "undeclared asset %q%s", obj, h)
		} else {
			l.report(ln, col, "undeclared asset %q: it is not in assets: and not a Lua global; declare it in assets:, or as a local", obj)
		}
	}
}

func orValidNames(name string, valid []string, what string) string {
	if h := didYouMean(name, valid); h != "" {
		return h
	}
	sorted := append([]string(nil), valid...)
	sort.Strings(sorted)
	return fmt.Sprintf("; %s are: %s", what, strings.Join(sorted, ", "))
}

// action checks asset.action and, for a call with a literal table, its
// parameters.
func (l *linter) action(asset, action string, line int, sep pat, call *ast.FuncCallExpr) {
	if l.env == nil {
		return
	}
	prov := l.env.Assets[asset]
	if prov == nil {
		return // reported at the assets: entry
	}
	spec, ok := prov.Action(action)
	if !ok {
		ln, col := l.find(line, 2, ident(asset), sep, ident(action))
		l.report(ln, col, "unknown action %q for asset %s (%s)%s", action, asset, prov.Name, orValidNames(action, prov.ActionNames(), "its actions"))
		return
	}
	if call == nil {
		return
	}
	where := asset + "." + action
	var table *ast.TableExpr
	switch len(call.Args) {
	case 0:
		table = &ast.TableExpr{}
	case 1:
		if t, ok := call.Args[0].(*ast.TableExpr); ok {
			table = t
		}
	}
	if table == nil {
		return // parameters computed at run time; the runtime checks them
	}
	given := map[string]bool{}
	computed := false
	for _, f := range table.Fields {
		name, ok := constKey(f.Key)
		if !ok {
			computed = true
			continue
		}
		if slices.Contains(spec.Grouped, name) {
			computed = true // a Swimlane group: its members are checked at run time
			continue
		}
		given[name] = true
		ln, col := l.find(f.Key.Line(), 0, ident(name), eq)
		p, ok := spec.Param(name)
		if !ok {
			names := make([]string, len(spec.Params))
			for i, p := range spec.Params {
				names[i] = p.Name
			}
			if len(names) == 0 {
				l.report(ln, col, "unknown parameter %q for %s: it takes no parameters", name, where)
			} else {
				l.report(ln, col, "unknown parameter %q for %s%s", name, where, orValidNames(name, names, "its parameters"))
			}
			continue
		}
		if v, ok := literal(f.Value); ok {
			if msg := checkLiteral(p, v); msg != "" {
				l.report(ln, col, "%s: %s", where, msg)
			}
		}
	}
	if computed {
		return
	}
	for _, p := range spec.Params {
		if p.Required && !given[p.Name] {
			ln, col := l.find(line, 2, ident(asset), sep, ident(action))
			l.report(ln, col, "%s: missing required parameter %q", where, p.Name)
		}
	}
}

// literal returns the Go value of a constant Lua expression.
func literal(e ast.Expr) (any, bool) {
	switch e := e.(type) {
	case *ast.StringExpr:
		return e.Value, true
	case *ast.NumberExpr:
		f, err := strconv.ParseFloat(e.Value, 64)
		return f, err == nil
	case *ast.TrueExpr:
		return true, true
	case *ast.FalseExpr:
		return false, true
	}
	return nil, false
}

// checkLiteral validates a constant parameter value with the code the
// action itself uses, and returns the problem or "".
func checkLiteral(p *providers.Param, v any) string {
	cv, err := p.Coerce(v)
	if err == nil {
		err = p.CheckValue(cv)
	}
	if err == nil {
		return ""
	}
	msg := err.Error()
	if s, ok := v.(string); ok && len(p.Contains) > 0 && p.Check == nil && !providers.MatchesAny(p.Contains, s) {
		msg += fmt.Sprintf(": %q is not a valid %s", s, strings.Join(p.Contains, " or "))
	}
	return msg
}

// pluginUse checks plugins.<plugin> and, when fn is not "", the function.
func (l *linter) pluginUse(plugin, fn string, line int) {
	if !slices.Contains(l.pb.Plugins, plugin) {
		ln, col := l.find(line, 2, ident("plugins"), dot, ident(plugin))
		l.report(ln, col, "plugin %q is not in this playbook's plugins%s", plugin, orAdd(plugin, l.pb.Plugins, "plugins"))
		return
	}
	if fn == "" || l.env == nil {
		return
	}
	fns, ok := l.env.plugin(plugin)
	if !ok {
		return // reported at the plugins: entry
	}
	if !slices.Contains(fns, fn) {
		ln, col := l.find(line, 4, ident("plugins"), dot, ident(plugin), dot, ident(fn))
		l.report(ln, col, "plugin %s has no function %q%s", plugin, fn, orValidNames(fn, fns, "its functions"))
	}
}

// orAdd hints at a near name, or says to add the name to the list.
func orAdd(name string, list []string, key string) string {
	if h := didYouMean(name, list); h != "" {
		return h
	}
	return fmt.Sprintf("; add it to %s:", key)
}
