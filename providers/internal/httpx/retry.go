package httpx

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NewTransport is the HTTP transport of one asset: keep-alive with up to
// idlePerHost idle connections, TLS 1.2 or later, and certificate checks
// unless the asset's config turned them off. proxy nil uses the
// environment's HTTP(S)_PROXY.
func NewTransport(verifyTLS bool, idlePerHost int, proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if proxy != nil {
		tr.Proxy = proxy
	}
	tr.MaxIdleConnsPerHost = idlePerHost
	// Turning verification off is for lab instances with self-signed
	// certificates, and only when the asset asks for it.
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verifyTLS}
	return tr
}

// Connectors share one retry discipline (exponential backoff with full
// jitter, honouring Retry-After); these are its parts.

// ParseRetryAfter reads a Retry-After header value, either delay seconds or
// an HTTP date, as the wait from now. A date in the past is no wait.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<20)) * time.Second, true // capped far from overflow
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// BackoffCeiling is the upper bound of the full-jitter wait after the
// given failed attempt (1-based): min(limit, base*2^(attempt-1)). The wait
// itself is drawn uniformly below it.
func BackoffCeiling(base, limit time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	if d > limit || d <= 0 || attempt > 62 {
		d = limit
	}
	return d
}

// SleepContext waits d, or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
