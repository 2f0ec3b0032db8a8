package lua

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
	"github.com/goshawk/goshawk/third_party/gopher-lua/ast"
	"github.com/goshawk/goshawk/third_party/gopher-lua/parse"
)

// Script is a compiled playbook script. Its Proto is immutable and shared by
// every run of the same version; each run wraps it in a fresh closure.
type Script struct {
	File  string
	Proto *glua.FunctionProto
	// reach is what the script's code names; nil (a Script not made by
	// Compile) counts as everything.
	reach *reach
}

// concatName is the global through which every `..` of a script runs, so
// that concatenation honours the string size limit. It is not a valid Lua
// identifier, so no script can name it in source.
const concatName = "goshawk:concat"

// Compile parses and compiles src once. A syntax error reads
// "file:line:col: message".
func Compile(file string, src []byte) (*Script, error) {
	proto, err := compile(file, src)
	if err != nil {
		return nil, err
	}
	return &Script{File: file, Proto: proto, reach: scriptReach(proto)}, nil
}

func compile(file string, src []byte) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), file)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			line, col, msg := locateSyntaxError(src, pe)
			return nil, fmt.Errorf("%s:%d:%d: %s", file, line, col, msg)
		}
		return nil, fmt.Errorf("%s:1:1: %w", file, err)
	}
	if chunk == nil && len(bytes.TrimSpace(src)) > 0 {
		// The parser swallows non-error panics; don't run half a script.
		return nil, fmt.Errorf("%s:1:1: the script could not be parsed", file)
	}
	rewriteConcat(chunk)
	proto, err := compileChunk(chunk, file)
	if err != nil {
		var ce *glua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%s:%d:1: %s", file, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("%s:1:1: %w", file, err)
	}
	// A chunk is a vararg function, and gopher-lua builds Lua 5.0's `arg`
	// table for every call of one that doesn't use `...`. A chunk has no
	// local named arg, so no code can reach that table: don't build it.
	proto.IsVarArg &^= glua.VarArgNeedsArg
	return proto, nil
}

// compileChunk is glua.Compile, which re-panics anything that isn't a
// CompileError; a compiler bug must not take the host down with it.
func compileChunk(chunk []ast.Stmt, file string) (proto *glua.FunctionProto, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the compiler failed (%v); please report this script", r)
		}
	}()
	return glua.Compile(chunk, file)
}

// locateSyntaxError turns a parser error into a position and message. The
// parser reports where its scanner stopped, which is the end of the
// offending token (or the end of the script), so the token is looked up
// backwards from there to point at its start.
func locateSyntaxError(src []byte, pe *parse.Error) (line, col int, msg string) {
	endLine, endCol := endPosition(src)
	line, col = pe.Pos.Line, pe.Pos.Column
	if line == parse.EOF || line > endLine || (line == endLine && col >= endCol) {
		return endLine, endCol, "unexpected end of script; is an end, a closing bracket or a quote missing?"
	}
	msg = pe.Message
	if pe.Token == "" {
		return line, max(col, 1), msg
	}
	msg = fmt.Sprintf("%s near %q", msg, pe.Token)
	lines := bytes.Split(src, []byte{'\n'})
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		if i := bytes.LastIndex(text[:min(max(col, 0), len(text))], []byte(pe.Token)); i >= 0 {
			col = i + 1
		}
	}
	return line, max(col, 1), msg
}

// endPosition returns the line and column just past the end of src.
func endPosition(src []byte) (line, col int) {
	line = 1 + bytes.Count(src, []byte{'\n'})
	last := src[bytes.LastIndexByte(src, '\n')+1:]
	return line, len(last) + 1
}

// rewriteConcat replaces each chain of `..` operators with one call to the
// concatName global. gopher-lua compiles `..` to a VM instruction with no
// hook, so without this a loop of `s = s .. s` could allocate past any limit
// before the run deadline stops it.
func rewriteConcat(stmts []ast.Stmt) {
	for _, s := range stmts {
		rewriteStmt(s)
	}
}

func rewriteStmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		rewriteExprs(s.Lhs)
		rewriteExprs(s.Rhs)
	case *ast.LocalAssignStmt:
		rewriteExprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = rewriteExpr(s.Expr)
	case *ast.DoBlockStmt:
		rewriteConcat(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = rewriteExpr(s.Condition)
		rewriteConcat(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = rewriteExpr(s.Condition)
		rewriteConcat(s.Stmts)
	case *ast.IfStmt:
		s.Condition = rewriteExpr(s.Condition)
		rewriteConcat(s.Then)
		rewriteConcat(s.Else)
	case *ast.NumberForStmt:
		s.Init = rewriteExpr(s.Init)
		s.Limit = rewriteExpr(s.Limit)
		s.Step = rewriteExpr(s.Step)
		rewriteConcat(s.Stmts)
	case *ast.GenericForStmt:
		rewriteExprs(s.Exprs)
		rewriteConcat(s.Stmts)
	case *ast.FuncDefStmt:
		rewriteExpr(s.Func)
	case *ast.ReturnStmt:
		rewriteExprs(s.Exprs)
	}
}

func rewriteExprs(es []ast.Expr) {
	for i := range es {
		es[i] = rewriteExpr(es[i])
	}
}

func rewriteExpr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *ast.StringConcatOpExpr:
		var parts []ast.Expr
		flattenConcat(e, &parts)
		// An operand of `..` yields one value; as the last argument of a
		// call, f() or ... would expand to all of theirs.
		switch last := parts[len(parts)-1].(type) {
		case *ast.FuncCallExpr:
			last.AdjustRet = true
		case *ast.Comma3Expr:
			last.AdjustRet = true
		}
		call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: concatName}, Args: parts}
		call.Func.SetLine(e.Line())
		call.Func.SetLastLine(e.LastLine())
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		return call
	case *ast.AttrGetExpr:
		e.Object = rewriteExpr(e.Object)
		e.Key = rewriteExpr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			f.Key = rewriteExpr(f.Key)
			f.Value = rewriteExpr(f.Value)
		}
	case *ast.FuncCallExpr:
		e.Func = rewriteExpr(e.Func)
		e.Receiver = rewriteExpr(e.Receiver)
		rewriteExprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs = rewriteExpr(e.Lhs)
		e.Rhs = rewriteExpr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs = rewriteExpr(e.Lhs)
		e.Rhs = rewriteExpr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs = rewriteExpr(e.Lhs)
		e.Rhs = rewriteExpr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = rewriteExpr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = rewriteExpr(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = rewriteExpr(e.Expr)
	case *ast.FunctionExpr:
		rewriteConcat(e.Stmts)
	}
	return e
}

// flattenConcat collects the operands of a right-associative chain
// a .. b .. c, rewriting each operand on the way.
func flattenConcat(e ast.Expr, parts *[]ast.Expr) {
	if c, ok := e.(*ast.StringConcatOpExpr); ok {
		flattenConcat(c.Lhs, parts)
		flattenConcat(c.Rhs, parts)
		return
	}
	*parts = append(*parts, rewriteExpr(e))
}

// concat implements the `..` operator for rewritten scripts, as gopher-lua
// does (strings and numbers join; otherwise the __concat metamethod), with
// the result capped at limit bytes.
func concat(L *glua.LState, limit int) int {
	n := L.GetTop()
	if n == 0 {
		L.Push(glua.LString(""))
		return 1
	}
	// Fast path: everything is a string or a number.
	total, plain := 0, true
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case glua.LString:
			total += len(v)
		case glua.LNumber:
			total += len(v.String())
		default:
			plain = false
		}
	}
	if plain {
		if total > limit {
			L.RaiseError("string concatenation %v of %d bytes", errTooLarge, limit)
		}
		var b strings.Builder
		b.Grow(total)
		for i := 1; i <= n; i++ {
			b.WriteString(glua.LVAsString(L.Get(i)))
		}
		L.Push(glua.LString(b.String()))
		return 1
	}
	// Right to left, like the VM, so metamethods see the same operands.
	rhs := L.Get(n)
	for i := n - 1; i >= 1; i-- {
		lhs := L.Get(i)
		if glua.LVCanConvToString(lhs) && glua.LVCanConvToString(rhs) {
			s := glua.LVAsString(lhs) + glua.LVAsString(rhs)
			if len(s) > limit {
				L.RaiseError("string concatenation %v of %d bytes", errTooLarge, limit)
			}
			rhs = glua.LString(s)
			continue
		}
		mm := L.GetMetaField(lhs, "__concat")
		if mm == glua.LNil {
			mm = L.GetMetaField(rhs, "__concat")
		}
		if _, ok := mm.(*glua.LFunction); !ok {
			L.RaiseError("cannot perform concat operation between %v and %v", lhs.Type(), rhs.Type())
		}
		L.Push(mm)
		L.Push(lhs)
		L.Push(rhs)
		L.Call(2, 1)
		rhs = L.Get(-1)
		L.Pop(1)
	}
	L.Push(rhs)
	return 1
}
