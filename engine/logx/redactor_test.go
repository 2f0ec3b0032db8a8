package logx_test

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/providers/redact"
)

// naiveRedact is what Redactor.String must return: every variant of every
// secret replaced, longest first, by the plain strings.Replacer the
// redactor builds, with no fast path in front of it.
func naiveRedact(secrets []string, s string) string {
	var variants []string
	for _, sec := range secrets {
		variants = append(variants, redact.Variants(sec)...)
	}
	// The same order as Redactor.Add: longest first, stable.
	for i := 1; i < len(variants); i++ {
		for j := i; j > 0 && len(variants[j]) > len(variants[j-1]); j-- {
			variants[j], variants[j-1] = variants[j-1], variants[j]
		}
	}
	var pairs []string
	for _, v := range variants {
		pairs = append(pairs, v, logx.Redacted)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// TestRedactorFastPathAgrees checks the redactor's fast path (text with no
// secret is returned without a copy) against the full replacement, on text
// with and without secrets in their encoded forms, at the edges, and for a
// single short secret (a replacer of one pattern, which strings.Replacer
// builds differently).
func TestRedactorFastPathAgrees(t *testing.T) {
	sets := [][]string{
		{"peers-secret", "peers-password"},
		{"Tr0ub4dor&3"},
		{"abcd"}, // one variant only: the single-pattern replacer
		{"abcd", "wxyz"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "abcdwxyz-&%3 \"\\<>:/=+_0123456789[]{}REDACTED"
	for _, secrets := range sets {
		r := logx.NewRedactor(secrets...)
		var texts []string
		texts = append(texts, "", "a", "no secret at all", logx.Redacted)
		for _, sec := range secrets {
			for _, v := range redact.Variants(sec) {
				texts = append(texts, v, "x"+v, v+"x", "pre "+v+" mid "+v+" post", v[:len(v)-1], v[1:])
			}
			texts = append(texts, url.QueryEscape(sec), base64.StdEncoding.EncodeToString([]byte("user:"+sec)))
		}
		for range 2000 {
			var b strings.Builder
			for range rng.IntN(40) {
				if rng.IntN(8) == 0 {
					vs := redact.Variants(secrets[rng.IntN(len(secrets))])
					b.WriteString(vs[rng.IntN(len(vs))])
				} else {
					b.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
			}
			texts = append(texts, b.String())
		}
		for _, s := range texts {
			if got, want := r.String(s), naiveRedact(secrets, s); got != want {
				t.Fatalf("secrets %q, text %q: got %q, want %q", secrets, s, got, want)
			}
		}
	}
}

func TestRedactorReturnsCleanTextUncopied(t *testing.T) {
	r := logx.NewRedactor("peers-secret")
	s := strings.Repeat(`{"ip":"198.51.100.7","rating":3.5}`, 4)
	if got := r.String(s); got != s {
		t.Fatalf("got %q", got)
	}
	// Less than one allocation a call on average: the probe is pooled, and
	// the race detector's pool drops some of them on purpose.
	if n := testing.AllocsPerRun(100, func() { _ = r.String(s) }); n >= 1 {
		t.Fatalf("redacting text without a secret allocated %v times a call, want none", n)
	}
}

// BenchmarkRedactorString measures the redaction of a run record's usual
// text: JSON without any secret, and the same with one.
func BenchmarkRedactorString(b *testing.B) {
	r := logx.NewRedactor("peers-secret", "peers-password", "peers-client")
	clean := `{"status":"success","message":"1 indicator","summary":{"total_objects":1},"data":[{"data":[{"id":1,"type":"Address","summary":"198.51.100.7","rating":3,"confidence":50,"ownerName":"Demo","dateAdded":"2026-01-02T03:04:05Z"}]}]}`
	for _, c := range []struct{ name, text string }{
		{"clean", clean},
		{"secret", strings.Replace(clean, "Demo", "peers-secret", 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				_ = r.String(c.text)
			}
		})
	}
}
