package redact_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goshawk/goshawk/providers/redact"
)

func TestVariants(t *testing.T) {
	if v := redact.Variants("abc"); v != nil {
		t.Fatalf("a secret shorter than MinLen has variants %q", v)
	}
	r := redact.New("p@ss/wörd&1")
	for _, text := range []string{
		`"p@ss\/w\u00f6rd\u00261"`, // PHP json_encode
		`"p@ss/w\u00f6rd\u00261"`,  // Python json.dumps
		`"p@ss/wörd\u00261"`,       // Go encoding/json
		"p%40ss%2Fw%C3%B6rd%261",   // form
		"p%40ss%2fw%c3%b6rd%261",   // form, lower-case hex
		"p@ss%2Fw%C3%B6rd&1",       // path
		"p@ss/wörd&amp;1",          // HTML
	} {
		if got := r.String(text); strings.Contains(got, "ss") {
			t.Errorf("%s -> %s", text, got)
		}
	}
}

func TestCutRedactsFirst(t *testing.T) {
	r := redact.New("hunter22")
	if got := r.Cut("xxxx hunter22", 7); got != "xxxx [R..." {
		t.Fatalf("Cut = %q", got)
	}
	if got := r.Cut("é", 1); got != "..." {
		t.Fatalf("Cut split a rune: %q", got)
	}
}

// FuzzRedactsEncodedSecret: whatever surrounds a secret, its JSON, URL and
// base64 encodings are redacted.
func FuzzRedactsEncodedSecret(f *testing.F) {
	f.Add("Tr0ub4dor&3", "analyst@example.com:", "")
	f.Add("correct horse", `{"a":"`, `"}`)
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		// Secrets come from YAML and the environment: valid UTF-8.
		if len(secret) < 6 || len(secret) > 64 || len(before) > 64 || len(after) > 64 || !utf8.ValidString(secret) {
			return
		}
		r := redact.New(secret)
		whole := before + secret + after
		js, _ := json.Marshal(whole)
		for _, enc := range []string{string(js), url.QueryEscape(whole), base64.StdEncoding.EncodeToString([]byte(whole)), base64.RawURLEncoding.EncodeToString([]byte(whole))} {
			if got := r.String(enc); !strings.Contains(got, redact.Marker) {
				t.Fatalf("secret %q in %q: nothing redacted in %q", secret, whole, enc)
			}
		}
	})
}
