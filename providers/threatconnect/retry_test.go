package threatconnect

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// The retry policy: three attempts in all, full-jitter backoff from 500ms
// up to 8s, and 500 retried besides 429, 502, 503 and 504. The schedule
// itself is tested with the transport.
func TestRetryPolicy(t *testing.T) {
	c, err := NewClient(ClientConfig{BaseURL: "https://tc.example", AccessID: "id", SecretKey: "secret-key", Timeout: time.Second, MaxContainers: 1, IntervalDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := c.http.Policy
	if p.Attempts != 3 || p.Base != 500*time.Millisecond || p.Cap != 8*time.Second || p.MaxRetryAfter != time.Minute {
		t.Errorf("policy = %+v", p)
	}
	for _, s := range []int{429, 500, 502, 503, 504} {
		if !slices.Contains(p.RetryStatus, s) {
			t.Errorf("status %d is not retried", s)
		}
	}
	if slices.Contains(p.RetryStatus, http.StatusUnauthorized) {
		t.Error("401 is retried")
	}
}
