package threatconnect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// The signing vectors: signatures computed independently with HMAC-SHA256
// over "<target>:<METHOD>:<timestamp>". Each request target is built by the
// code that builds the real request, so a change of encoding fails here.
func TestSignVectors(t *testing.T) {
	const (
		id     = "12345678901234567890"
		secret = "SECRETKEY"
		ts     = 1700000000
	)
	newClient := func(t *testing.T, base string) *Client {
		t.Helper()
		c, err := NewClient(ClientConfig{BaseURL: base, AccessID: id, SecretKey: secret, Timeout: time.Second, MaxContainers: 100, IntervalDays: 7})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	public := newClient(t, "https://api.threatconnect.com")
	tenant := newClient(t, "https://companyabc.threatconnect.com/api/")
	sandbox := newClient(t, "https://sandbox.threatconnect.com")

	tests := []struct {
		name, target, method, want string
	}{
		{"1 owners", public.ownersTarget(), "GET", "k4djh7nrGDZSEJMDFH16v456gO0eYkHYxSafHN4lihY="},
		// goshawk-only shapes, computed the same way: list_owners asks for
		// the count, and a truncated hunt asks how many match in all.
		{"list owners with count", public.listOwnersTarget(), "GET", "xMA4/WhYxBeSJr3s4ILPGYuHNHSNT39AFqUC0PcRGpU="},
		{"hunt ip count with owners", public.countTarget(huntTQL("Address", "1.2.3.4", splitList("Org A, Org B"))), "GET",
			"4JPhDn+Xvlh3LxaFp+MtUJw4n8ba7Yi6SIr1lT5yvfA="},
		{"2 hunt ip with owners", public.huntTarget(huntTQL("Address", "1.2.3.4", splitList("Org A, Org B")), []string{"tags", "attributes"}), "GET",
			"5NgT1P16Cyl8U1Ix7Aa4pz2QOjBULbdY+tHoJteH77o="},
		{"3 hunt domain", public.huntTarget(huntTQL("Host", "example.com", nil), nil), "GET", "zPqwQiSz+UNstx0zgrM5ULGlsxSW69ZqfXnmzp4iVT4="},
		{"4 post data", public.postTarget(), "POST", "PaH4OipWkCahRcI8o78nOFCXEqGpsMAyUeqST0Kikpg="},
		{"5 sandbox root", sandbox.rootPath + "/indicators", "GET", "+kvMsHRFD+gz29uV3iTdR1M667S92NjN+3GXc8s/c3w="},
		{"5 tenant api root", tenant.rootPath + "/indicators", "GET", "+kvMsHRFD+gz29uV3iTdR1M667S92NjN+3GXc8s/c3w="},
		{"6 hunt file all flags", tenant.huntTarget(huntTQL("File", "AAA0985A485969F70C0B414EF328DAAA", nil), []string{"securityLabels", "tags", "attributes"}), "GET",
			"SHrMfzpey2fvqfjfehzPzGkm+cgOM/Z74DIHOScI3UE="},
		{"7 poll first page", public.pollTarget(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 0), "GET", "brIVfo/ZCCNUllUDXUzKq25NDc5eK+lPYPJRFHtPUXI="},
		{"8 hunt ip escaped owner", public.huntTarget(huntTQL("Address", "1.2.3.4", splitList("O'Brien")), nil), "GET",
			"/V6jDMc0vkdcBhKIjfSIdfte6UG8dGr1nrfkL/Mvccs="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sign(id, secret, tt.target, tt.method, ts)
			if want := "TC " + id + ":" + tt.want; got != want {
				t.Errorf("Sign(%q, %s) = %q, want %q", tt.target, tt.method, got, want)
			}
		})
	}

	t.Run("public XSOAR vector", func(t *testing.T) {
		if got, want := Sign("test", "test", "test", "GET", 1587340800), "TC test:p5a/YiTRs7sNMp/PEDgZxky8lJDRLbza1pi8erjURrU="; got != want {
			t.Errorf("Sign = %q, want %q", got, want)
		}
	})
}

func TestAPIRoot(t *testing.T) {
	tests := []struct{ base, want string }{
		{"https://api.threatconnect.com", "https://api.threatconnect.com/v3"},
		{"https://api.threatconnect.com/", "https://api.threatconnect.com/v3"},
		{"https://companyabc.threatconnect.com/api//", "https://companyabc.threatconnect.com/api/v3"},
		{"https://sandbox.threatconnect.com", "https://sandbox.threatconnect.com/api/v3"},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/v3"},
	}
	for _, tt := range tests {
		got, err := APIRoot(tt.base)
		if err != nil || got != tt.want {
			t.Errorf("APIRoot(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "api.threatconnect.com", "ftp://x.example", "https://", "https://x.example/api?x=1", "https://u:p@x.example"} {
		if got, err := APIRoot(bad); err == nil {
			t.Errorf("APIRoot(%q) = %q, want an error", bad, got)
		}
	}
}

// The signature covers the Timestamp header, so the client clock and the
// server clock must agree within five minutes.
func TestSignUsesInjectedClock(t *testing.T) {
	fixed := time.Unix(1700000000, 0)
	f := newFixture(t, tcfake.Options{Now: func() time.Time { return fixed }}, nil)
	r := f.invoke(t, "test_connectivity", nil)
	if !r.OK() {
		t.Fatalf("test_connectivity with agreeing clocks: %s", r.Message)
	}
	if got := f.srv.Requests()[0].Header.Get("Timestamp"); got != "1700000000" {
		t.Errorf("Timestamp = %q, want 1700000000", got)
	}
	f.client.signer.now = func() time.Time { return fixed.Add(6 * time.Minute) }
	r = f.invoke(t, "test_connectivity", nil)
	if r.OK() || !strings.Contains(r.Message, "Timestamp out of acceptable time range") {
		t.Errorf("with a skewed clock got %s %q", r.Status, r.Message)
	}
}

func ExampleSign() {
	fmt.Println(Sign("test", "test", "test", "GET", 1587340800))
	// Output: TC test:p5a/YiTRs7sNMp/PEDgZxky8lJDRLbza1pi8erjURrU=
}
