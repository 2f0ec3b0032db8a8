package lua

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// model is the upstream bookkeeping of a table's hash part: every key ever
// set keeps its first position, and a traversal visits the keys whose value
// is not nil, in that order.
type model struct {
	order []LValue
	pos   map[LValue]int
	vals  map[LValue]LValue
}

func newModel() *model { return &model{pos: map[LValue]int{}, vals: map[LValue]LValue{}} }

func (m *model) set(k, v LValue) {
	if v == LNil {
		delete(m.vals, k)
		return
	}
	if _, ok := m.pos[k]; !ok {
		m.pos[k] = len(m.order)
		m.order = append(m.order, k)
	}
	m.vals[k] = v
}

func (m *model) traversal() []string {
	var out []string
	for _, k := range m.order {
		if v, ok := m.vals[k]; ok {
			out = append(out, fmt.Sprintf("%v=%v", k, v))
		}
	}
	return out
}

func traverse(tb *LTable) []string {
	var out []string
	k, v := tb.Next(LNil)
	for k != LNil {
		out = append(out, fmt.Sprintf("%v=%v", k, v))
		k, v = tb.Next(k)
	}
	return out
}

// entries is traverse by position, with Entry.
func entries(tb *LTable) []string {
	var out []string
	for k, v, pos, ok := tb.Entry(0); ok; k, v, pos, ok = tb.Entry(pos) {
		out = append(out, fmt.Sprintf("%v=%v", k, v))
	}
	return out
}

// TestTableKeysMatchUpstreamOrder drives tables and the model with the same
// random sets and deletions of string and non-string keys, traversing at
// random points, and compares every traversal and every value.
func TestTableKeysMatchUpstreamOrder(t *testing.T) {
	keys := []LValue{LString("a"), LString("b"), LString("c"), LString("d"), LString("e"),
		LNumber(1.5), LNumber(-3), LTrue, LString("f"), LString("g")}
	for seed := uint64(0); seed < 500; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		var tb *LTable
		if r.IntN(2) == 0 {
			tb = newLTable(0, 0)
		} else {
			tb = newLTable(0, r.IntN(8))
		}
		m := newModel()
		for step := 0; step < 60; step++ {
			k := keys[r.IntN(len(keys))]
			switch r.IntN(5) {
			case 0, 1, 2:
				v := LNumber(r.IntN(100))
				tb.RawSetH(k, v)
				m.set(k, v)
			case 3:
				tb.RawSetH(k, LNil)
				m.set(k, LNil)
			case 4:
				if got, want := traverse(tb), m.traversal(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seed %d step %d: traversal %v, want %v", seed, step, got, want)
				}
				if got, want := entries(tb), m.traversal(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seed %d step %d: traversal by Entry %v, want %v", seed, step, got, want)
				}
			}
			for _, k := range keys {
				want, ok := m.vals[k]
				if !ok {
					want = LNil
				}
				if got := tb.RawGetH(k); got != want {
					t.Fatalf("seed %d step %d: t[%v] = %v, want %v", seed, step, k, got, want)
				}
			}
		}
		if got, want := traverse(tb), m.traversal(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: final traversal %v, want %v", seed, got, want)
		}
	}
}

// TestClearingFieldsDuringTraversal is the Lua idiom the manual allows:
// assigning nil to fields while walking with next.
func TestClearingFieldsDuringTraversal(t *testing.T) {
	L := NewState()
	defer L.Close()
	err := L.DoString(`
local t = {}
for i = 1, 50 do t["k" .. i] = i end
local seen = 0
for k, v in pairs(t) do
  seen = seen + 1
  t[k] = nil
end
assert(seen == 50, "seen " .. seen)
assert(next(t) == nil)
t.k7 = 7; t.z = 1
local n = 0
for k in pairs(t) do n = n + 1 end
assert(n == 2)
`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestEntryWalksAsNext: with an array part, holes in it, numbers beyond it
// and string keys, some deleted, Entry visits what Next visits, in order.
func TestEntryWalksAsNext(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 2))
		tb := newLTable(r.IntN(4), r.IntN(4))
		for step := 0; step < 40; step++ {
			var k LValue = LNumber(1 + r.IntN(12))
			if r.IntN(2) == 0 {
				k = LString(string(rune('a' + r.IntN(8))))
			}
			var v LValue = LNumber(r.IntN(100))
			if r.IntN(4) == 0 {
				v = LNil
			}
			tb.RawSet(k, v)
		}
		if got, want := entries(tb), traverse(tb); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: Entry walks %v, Next %v", seed, got, want)
		}
	}
}
