package redact_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/redact"
)

// TestStringFastPathAgrees: Replacer.String, which returns text without a
// secret uncopied, gives what the full replacement gives, for replacers of
// many patterns and of one (strings.Replacer builds those differently),
// on text with and without secrets, at the edges and back to back.
func TestStringFastPathAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 13))
	for _, secrets := range [][]string{{"peers-password", "Tr0ub4dor&3"}, {"abcd"}, {"abcd", "abce"}} {
		rep := redact.NewMarked("[redacted]", secrets...)
		var pairs []string
		var variants []string
		for _, s := range secrets {
			variants = append(variants, redact.Variants(s)...)
		}
		for i := 1; i < len(variants); i++ { // longest first, stable, as NewMarked
			for j := i; j > 0 && len(variants[j]) > len(variants[j-1]); j-- {
				variants[j], variants[j-1] = variants[j-1], variants[j]
			}
		}
		for _, v := range variants {
			pairs = append(pairs, v, "[redacted]")
		}
		full := strings.NewReplacer(pairs...)
		texts := []string{"", "x", "[redacted]", "nothing here at all"}
		for _, v := range variants {
			texts = append(texts, v, v+v, "a"+v+"b", v[1:], v[:len(v)-1])
		}
		for range 3000 {
			var b strings.Builder
			for range rng.IntN(30) {
				if rng.IntN(6) == 0 {
					b.WriteString(variants[rng.IntN(len(variants))])
				} else {
					b.WriteByte("abcdeprsw-&%3 \"<>"[rng.IntN(17)])
				}
			}
			texts = append(texts, b.String())
		}
		for _, s := range texts {
			if got, want := rep.String(s), full.Replace(s); got != want {
				t.Fatalf("secrets %q, text %q: got %q, want %q", secrets, s, got, want)
			}
			if redact.Changes(full, s) != (full.Replace(s) != s) {
				t.Fatalf("secrets %q, text %q: Changes is wrong", secrets, s)
			}
		}
	}
}
