package threatconnect

import (
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

// TestSignerMatchesSign: the signer's pooled HMAC gives Sign's header for
// every request, reused across keys' requests in any order.
func TestSignerMatchesSign(t *testing.T) {
	s := &signer{accessID: "12345678901234567890", secretKey: "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789+/="}
	for i, r := range []*httpx.Request{
		{Method: "GET", Path: "/v3/indicators", Query: "tql=typeName%20IN%20%28%27Address%27%29&fields=tags"},
		{Method: "POST", Path: "/v3/indicators"},
		{Method: "GET", Path: "/api/v3/indicators/a%2Fb", Query: "x=" + strings.Repeat("y", 600)},
		{Method: "DELETE", Path: "/v3/groups/1"},
	} {
		for range 3 {
			ts := int64(1700000000 + i)
			if got, want := s.sign(r, ts), Sign(s.accessID, s.secretKey, r.Target(), r.Method, ts); got != want {
				t.Fatalf("%s %s: %s, want %s", r.Method, r.Target(), got, want)
			}
		}
	}
}
