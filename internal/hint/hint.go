// Package hint builds the "did you mean" hints of every error that names
// something unknown: a config key, an asset, an action, a parameter, a
// playbook, a Lua library function. One rule decides what is close enough
// to be a likely typo, so every message hints the same way.
package hint

import (
	"fmt"
	"slices"
	"strings"
)

// Nearest returns the candidate closest to name by edit distance (ignoring
// case), or "" when none is close enough to be a likely typo.
func Nearest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := max(len(name)/3, 2)
	if bestD < 0 || bestD > limit || bestD >= len(name) {
		return ""
	}
	return best
}

// DidYouMean returns `; did you mean "x"?` for the candidate nearest to
// name, or "" when none is close.
func DidYouMean(name string, candidates []string) string {
	if s := Nearest(name, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// OrList returns the did-you-mean hint for name or, when no candidate is
// close, "; <what> <sorted candidates>", for example
// OrList("x", keys, "valid keys are") = "; valid keys are a, b". With no
// candidates at all it returns "".
func OrList(name string, candidates []string, what string) string {
	if h := DidYouMean(name, candidates); h != "" {
		return h
	}
	if len(candidates) == 0 {
		return ""
	}
	return "; " + what + " " + strings.Join(candidates, ", ")
}

// OrSorted is OrList with the candidates sorted first, for lists whose
// order means nothing to the reader (map keys, registry names).
func OrSorted(name string, candidates []string, what string) string {
	return OrList(name, slices.Sorted(slices.Values(candidates)), what)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
