package lua

import (
	"context"
	"strings"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// Lua patterns: string.find, string.match, string.gmatch and string.gsub.
//
// gopher-lua's matcher never looks at the run's context, so a pattern that
// backtracks exponentially (("a-"):rep(5) .. "b" against 300 a's) or a %b()
// over a million '(' ran for minutes past the deadline, and its gsub copies
// the whole subject once per replacement. This matcher is a port of Lua
// 5.1's lstrlib.c: the same pattern language and results, with the 5.2
// limits (at most 200 nested pattern items, 32 captures). It counts its
// steps and, every patternCheckEvery steps, looks at the run's context, so
// the deadline stops a match as it stops any other Lua code. gsub builds
// its result in one pass and honours the string size limit as it goes.

const (
	maxCaptures = 32
	// maxMatchDepth bounds the recursion of the matcher: one level per
	// pattern item that repeats, is optional or opens or closes a capture.
	maxMatchDepth = 200
	// patternCheckEvery is how many matcher steps pass between two looks at
	// the run's context. A step is a few nanoseconds.
	patternCheckEvery = 1 << 10
	capUnfinished     = -1
	capPosition       = -2
	patternSpecials   = "^$*+?.([%-"
)

// matchState is one match of a pattern against a subject.
type matchState struct {
	L       *glua.LState
	src     string
	pat     string
	ctx     context.Context
	done    <-chan struct{}
	steps   int
	depth   int
	level   int
	capture [maxCaptures]struct{ init, len int }
}

func (st *state) newMatch(L *glua.LState, src, pat string) *matchState {
	ms := &matchState{L: L, src: src, pat: pat}
	if st.run != nil {
		ms.ctx, ms.done = st.run.ctx, st.run.ctx.Done()
	}
	return ms
}

// fail raises a pattern error.
func (ms *matchState) fail(msg string) { ms.L.RaiseError("%s", msg) }

// step counts work and raises the context's error once it is done.
func (ms *matchState) step(n int) {
	ms.steps += n
	if ms.steps < patternCheckEvery {
		return
	}
	ms.steps = 0
	if ms.done == nil {
		return
	}
	select {
	case <-ms.done:
		ms.L.RaiseError("%v", ms.ctx.Err())
	default:
	}
}

func (ms *matchState) classEnd(p int) int {
	pat := ms.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p >= len(pat) {
			ms.fail("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		for { // look for a ']'
			if p >= len(pat) {
				ms.fail("malformed pattern (missing ']')")
			}
			c := pat[p]
			p++
			if c == '%' && p < len(pat) {
				p++ // skip escapes (e.g. '%]')
			}
			if p < len(pat) && pat[p] == ']' {
				return p + 1
			}
		}
	}
	return p
}

func isAlpha(c byte) bool  { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLower(c byte) bool  { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool  { return 'A' <= c && c <= 'Z' }
func isSpace(c byte) bool  { return c == ' ' || '\t' <= c && c <= '\r' }
func isCntrl(c byte) bool  { return c < 0x20 || c == 0x7f }
func isPunct(c byte) bool  { return 0x21 <= c && c <= 0x7e && !isAlpha(c) && !isDigit(c) }
func isXDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// matchClass reports whether c is in the class %cl, in the C locale.
func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = isCntrl(c)
	case 'd':
		res = isDigit(c)
	case 'l':
		res = isLower(c)
	case 'p':
		res = isPunct(c)
	case 's':
		res = isSpace(c)
	case 'u':
		res = isUpper(c)
	case 'w':
		res = isAlpha(c) || isDigit(c)
	case 'x':
		res = isXDigit(c)
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if isUpper(cl) {
		return !res
	}
	return res
}

// matchBracketClass matches c against the set pat[p:ec+1], where pat[p] is
// '[' and pat[ec] is ']'.
func matchBracketClass(c byte, pat string, p, ec int) bool {
	sig := true
	if pat[p+1] == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			if matchClass(c, pat[p]) {
				return sig
			}
		case pat[p+1] == '-' && p+2 < ec:
			p += 2
			if pat[p-2] <= c && c <= pat[p] {
				return sig
			}
		case pat[p] == c:
			return sig
		}
	}
	return !sig
}

// singleMatch reports whether src[s] exists and matches the single-char
// class pat[p:ep].
func (ms *matchState) singleMatch(s, p, ep int) bool {
	if s >= len(ms.src) {
		return false
	}
	c := ms.src[s]
	switch ms.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, ms.pat[p+1])
	case '[':
		return matchBracketClass(c, ms.pat, p, ep-1)
	}
	return ms.pat[p] == c
}

func (ms *matchState) matchBalance(s, p int) int {
	if p+1 >= len(ms.pat) {
		ms.fail("malformed pattern (missing arguments to '%b')")
	}
	if s >= len(ms.src) || ms.src[s] != ms.pat[p] {
		return -1
	}
	b, e := ms.pat[p], ms.pat[p+1]
	cont := 1
	for s++; s < len(ms.src); s++ {
		ms.step(1)
		switch ms.src[s] {
		case e:
			if cont--; cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1 // the subject ends out of balance
}

func (ms *matchState) maxExpand(s, p, ep int) int {
	i := 0
	for ms.singleMatch(s+i, p, ep) {
		i++
	}
	ms.step(i)
	// Try the rest with the most repetitions first.
	for ; i >= 0; i-- {
		if res := ms.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (ms *matchState) minExpand(s, p, ep int) int {
	for {
		if res := ms.match(s, ep+1); res != -1 {
			return res
		}
		if !ms.singleMatch(s, p, ep) {
			return -1
		}
		s++ // try with one more repetition
	}
}

func (ms *matchState) startCapture(s, p, what int) int {
	if ms.level >= maxCaptures {
		ms.fail("too many captures")
	}
	ms.capture[ms.level].init = s
	ms.capture[ms.level].len = what
	ms.level++
	res := ms.match(s, p)
	if res == -1 {
		ms.level-- // undo the capture
	}
	return res
}

func (ms *matchState) endCapture(s, p int) int {
	l := ms.captureToClose()
	ms.capture[l].len = s - ms.capture[l].init
	res := ms.match(s, p)
	if res == -1 {
		ms.capture[l].len = capUnfinished
	}
	return res
}

func (ms *matchState) captureToClose() int {
	for level := ms.level - 1; level >= 0; level-- {
		if ms.capture[level].len == capUnfinished {
			return level
		}
	}
	ms.fail("invalid pattern capture")
	return 0
}

func (ms *matchState) checkCapture(l byte) int {
	i := int(l) - '1'
	if i < 0 || i >= ms.level || ms.capture[i].len == capUnfinished {
		ms.fail("invalid capture index")
	}
	return i
}

func (ms *matchState) matchCapture(s int, l byte) int {
	i := ms.checkCapture(l)
	n := ms.capture[i].len
	if n < 0 || len(ms.src)-s < n {
		return -1
	}
	init := ms.capture[i].init
	if ms.src[init:init+n] == ms.src[s:s+n] {
		return s + n
	}
	return -1
}

// match matches the pattern from pat[p] against the subject from src[s]
// and returns where the match ends, or -1.
func (ms *matchState) match(s, p int) int {
	if ms.depth++; ms.depth > maxMatchDepth {
		ms.fail("pattern too complex")
	}
	res := ms.doMatch(s, p)
	ms.depth--
	return res
}

func (ms *matchState) doMatch(s, p int) int {
	pat := ms.pat
	for {
		ms.step(1)
		if p == len(pat) { // end of pattern
			return s
		}
		switch pat[p] {
		case '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return ms.startCapture(s, p+2, capPosition)
			}
			return ms.startCapture(s, p+1, capUnfinished)
		case ')':
			return ms.endCapture(s, p+1)
		case '$':
			if p+1 == len(pat) {
				if s == len(ms.src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 < len(pat) {
				switch c := pat[p+1]; {
				case c == 'b':
					if s = ms.matchBalance(s, p+2); s == -1 {
						return -1
					}
					p += 4
					continue
				case c == 'f':
					p += 2
					if p >= len(pat) || pat[p] != '[' {
						ms.fail("missing '[' after '%f' in pattern")
					}
					ep := ms.classEnd(p)
					var prev, cur byte
					if s > 0 {
						prev = ms.src[s-1]
					}
					if s < len(ms.src) {
						cur = ms.src[s]
					}
					if matchBracketClass(prev, pat, p, ep-1) || !matchBracketClass(cur, pat, p, ep-1) {
						return -1
					}
					p = ep
					continue
				case isDigit(c):
					if s = ms.matchCapture(s, c); s == -1 {
						return -1
					}
					p += 2
					continue
				}
			}
		}
		// A single-char class, maybe followed by a repetition.
		ep := ms.classEnd(p)
		m := ms.singleMatch(s, p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if m {
					if res := ms.match(s+1, ep+1); res != -1 {
						return res
					}
				}
				p = ep + 1
				continue
			case '*':
				return ms.maxExpand(s, p, ep)
			case '+':
				if !m {
					return -1
				}
				return ms.maxExpand(s+1, p, ep)
			case '-':
				return ms.minExpand(s, p, ep)
			}
		}
		if !m {
			return -1
		}
		s++
		p = ep
	}
}

// captureValue is capture i of the match src[s:e]; i 0 with no captures is
// the whole match.
func (ms *matchState) captureValue(i, s, e int) glua.LValue {
	if i >= ms.level {
		if i != 0 {
			ms.fail("invalid capture index")
		}
		return glua.LString(ms.src[s:e])
	}
	c := ms.capture[i]
	switch c.len {
	case capUnfinished:
		ms.fail("unfinished capture")
	case capPosition:
		return glua.LNumber(c.init + 1)
	}
	return glua.LString(ms.src[c.init : c.init+c.len])
}

// pushCaptures pushes the captures of the match src[s:e], or the whole
// match when the pattern has none and whole is set, and returns how many.
func (ms *matchState) pushCaptures(s, e int, whole bool) int {
	n := ms.level
	if n == 0 && whole {
		n = 1
	}
	for i := range n {
		ms.L.Push(ms.captureValue(i, s, e))
	}
	return n
}

// strFind is string.find; strMatch is string.match.
func (st *state) strFind(L *glua.LState) int  { return st.strFindAux(L, true) }
func (st *state) strMatch(L *glua.LState) int { return st.strFindAux(L, false) }

func (st *state) strFindAux(L *glua.LState, find bool) int {
	s := L.CheckString(1)
	pat := L.CheckString(2)
	init := L.OptInt(3, 1)
	if init < 0 {
		init += len(s) + 1
	}
	init = min(max(init-1, 0), len(s))
	if find && (glua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, patternSpecials)) {
		// A plain search.
		if i := strings.Index(s[init:], pat); i >= 0 {
			L.Push(glua.LNumber(init + i + 1))
			L.Push(glua.LNumber(init + i + len(pat)))
			return 2
		}
		L.Push(glua.LNil)
		return 1
	}
	ms := st.newMatch(L, s, pat)
	p, anchor := 0, strings.HasPrefix(pat, "^")
	if anchor {
		p = 1
	}
	for s1 := init; ; s1++ {
		ms.level = 0
		if e := ms.match(s1, p); e != -1 {
			if find {
				L.Push(glua.LNumber(s1 + 1))
				L.Push(glua.LNumber(e))
				return ms.pushCaptures(-1, -1, false) + 2
			}
			return ms.pushCaptures(s1, e, true)
		}
		if anchor || s1 >= len(s) {
			break
		}
	}
	L.Push(glua.LNil)
	return 1
}

// strGmatch is string.gmatch: an iterator over the matches of the pattern.
// A '^' is not an anchor here, as in Lua 5.1.
func (st *state) strGmatch(L *glua.LState) int {
	s := L.CheckString(1)
	pat := L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *glua.LState) int {
		ms := st.newMatch(L, s, pat)
		for src := pos; src <= len(s); src++ {
			ms.level = 0
			if e := ms.match(src, 0); e != -1 {
				pos = e
				if e == src {
					pos++ // an empty match: go on at least one position
				}
				return ms.pushCaptures(src, e, true)
			}
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}

// strGsub is string.gsub, with its result capped at the string limit.
func (st *state) strGsub(L *glua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case glua.LTNumber, glua.LTString, glua.LTTable, glua.LTFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	p, anchor := 0, strings.HasPrefix(pat, "^")
	if anchor {
		p = 1
	}
	ms := st.newMatch(L, src, pat)
	b := gsubBuffer{L: L, limit: st.rt.opts.MaxStringBytes}
	s, n := 0, 0
loop:
	for n < maxN {
		ms.level = 0
		e := ms.match(s, p)
		if e != -1 {
			n++
			ms.addValue(&b, repl, s, e)
		}
		switch {
		case e != -1 && e > s:
			s = e
		case s < len(src):
			b.write(src[s : s+1])
			s++
		default:
			break loop
		}
		if anchor {
			break
		}
	}
	b.write(src[s:])
	L.Push(glua.LString(b.String()))
	L.Push(glua.LNumber(n))
	return 2
}

// gsubBuffer is gsub's result, which raises once it would pass the limit.
type gsubBuffer struct {
	strings.Builder
	L     *glua.LState
	limit int
}

func (b *gsubBuffer) write(s string) {
	if b.Len()+len(s) > b.limit {
		b.L.RaiseError("string.gsub: result %v of %d bytes", errTooLarge, b.limit)
	}
	b.WriteString(s)
}

// addValue appends the replacement of the match src[s:e].
func (ms *matchState) addValue(b *gsubBuffer, repl glua.LValue, s, e int) {
	L := ms.L
	var v glua.LValue
	switch r := repl.(type) {
	case glua.LString:
		ms.addString(b, string(r), s, e)
		return
	case glua.LNumber:
		ms.addString(b, r.String(), s, e)
		return
	case *glua.LFunction:
		L.Push(r)
		L.Call(ms.pushCaptures(s, e, true), 1)
		v = L.Get(-1)
		L.Pop(1)
	case *glua.LTable:
		v = L.GetTable(r, ms.captureValue(0, s, e))
	}
	switch x := v.(type) {
	case glua.LString:
		b.write(string(x))
	case glua.LNumber:
		b.write(x.String())
	default:
		if glua.LVAsBool(v) {
			L.RaiseError("invalid replacement value (a %s)", v.Type())
		}
		b.write(ms.src[s:e]) // nil or false: keep the original text
	}
}

// addString appends a replacement string, expanding %0-%9 and %%.
func (ms *matchState) addString(b *gsubBuffer, repl string, s, e int) {
	for i := 0; i < len(repl); i++ {
		ms.step(1)
		j := strings.IndexByte(repl[i:], '%')
		if j < 0 {
			b.write(repl[i:])
			return
		}
		b.write(repl[i : i+j])
		i += j + 1
		switch {
		case i == len(repl):
			b.write("%")
		case !isDigit(repl[i]):
			b.write(repl[i : i+1])
		case repl[i] == '0':
			b.write(ms.src[s:e])
		default:
			b.write(glua.LVAsString(ms.captureValue(int(repl[i]-'1'), s, e)))
		}
	}
}
