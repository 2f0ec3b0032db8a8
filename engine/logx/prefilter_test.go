package logx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/redact"
)

// TestPrefilterNeverHidesASecret puts every encoded form of the secrets
// into random text at random places: String must redact exactly what the
// replacer alone redacts, whether or not the prefilter lets the text by.
func TestPrefilterNeverHidesASecret(t *testing.T) {
	secrets := []string{"Tr0ub4dor&3", "tc-secret-key-0f1e2d", "p\"a\\ss<w>rd"}
	r := NewRedactor(secrets...)
	var forms []string
	for _, s := range secrets {
		forms = append(forms, redact.Variants(s)...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := `abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "{}:,\%&+=/`
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(200) {
			if rng.IntN(40) == 0 {
				b.WriteString(forms[rng.IntN(len(forms))])
			} else {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
		}
		s := b.String()
		if got, want := r.String(s), r.r.Replace(s); got != want {
			t.Fatalf("String(%q) = %q, the replacer gives %q", s, got, want)
		}
	}
	if r.starts == nil {
		t.Fatal("no prefilter was built for these secrets")
	}
}

func FuzzPrefilterNeverHidesASecret(f *testing.F) {
	r := NewRedactor("Tr0ub4dor&3", "tc-secret-key-0f1e2d")
	f.Add("a Tr0ub4dor&3 b")
	f.Add(`{"p":"Tr0ub4dor\u00263"}`)
	f.Add("VHIwdWI0ZG9yJjM=")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := r.String(s), r.r.Replace(s); got != want {
			t.Fatalf("String(%q) = %q, the replacer gives %q", s, got, want)
		}
	})
}

// BenchmarkRedactorNoSecret is String over 6 kB of JSON without a secret,
// the common case for a run record's step data.
// "replacer" is the same without the prefilter.
func BenchmarkRedactorNoSecret(b *testing.B) {
	s := strings.Repeat(`{"summary":"192.0.2.7","rating":4,"ownerName":"Example Org","tags":{"data":[{"name":"malware"}]}},`, 64)
	for _, prefilter := range []bool{true, false} {
		name := "prefilter"
		if !prefilter {
			name = "replacer"
		}
		b.Run(name, func(b *testing.B) {
			r := NewRedactor("Tr0ub4dor&3", "tc-secret-key-0f1e2d", "client-id-1234")
			if !prefilter {
				r.starts = nil
			}
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				if r.String(s) != s {
					b.Fatal("changed")
				}
			}
		})
	}
}
