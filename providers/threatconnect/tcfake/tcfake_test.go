package tcfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/internal/jsonw"
)

// testNow is the fixed server clock of every test.
var testNow = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func newTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

// call sends a request signed with the default credentials at testNow.
// target is the request-target exactly as it goes on the wire.
func call(t testing.TB, s *Server, method, target, body string) (int, http.Header, []byte) {
	t.Helper()
	return callAs(t, s, method, target, body, DefaultAccessID, DefaultSecretKey, testNow.Unix())
}

func callAs(t testing.TB, s *Server, method, target, body, id, secret string, ts int64) (int, http.Header, []byte) {
	t.Helper()
	req, err := signedRequest(s, method, target, body, id, secret, ts)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

func signedRequest(s *Server, method, target, body, id, secret string, ts int64) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+target, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	tsRaw := strconv.FormatInt(ts, 10)
	req.Header.Set("Timestamp", tsRaw)
	req.Header.Set("Authorization", "TC "+id+":"+signature(secret, req.URL.RequestURI()+":"+method+":"+tsRaw))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func send(t testing.TB, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	code, h, b, err := trySend(req)
	if err != nil {
		t.Fatal(err)
	}
	return code, h, b
}

// trySend is send for goroutines, which must not call t.Fatal.
func trySend(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// decode parses JSON keeping numbers exact, as a careful client must.
func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// list is a decoded list envelope.
type list struct {
	Data   []map[string]any
	Count  *int64
	Next   string
	Prev   string
	Status string
}

func getList(t testing.TB, s *Server, target string) list {
	t.Helper()
	code, _, b := call(t, s, http.MethodGet, target, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", target, code, b)
	}
	m := decode(t, b)
	var l list
	for _, d := range m["data"].([]any) {
		l.Data = append(l.Data, d.(map[string]any))
	}
	if c, ok := m["count"].(json.Number); ok {
		n, _ := c.Int64()
		l.Count = &n
	}
	l.Next, _ = m["next"].(string)
	l.Prev, _ = m["prev"].(string)
	l.Status, _ = m["status"].(string)
	return l
}

func searchPath(prefix string, q url.Values) string {
	if len(q) == 0 {
		return prefix + "/indicators"
	}
	return prefix + "/indicators?" + q.Encode()
}

func wantError(t *testing.T, code int, b []byte, wantStatus int, wantCode string) map[string]any {
	t.Helper()
	if code != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", code, wantStatus, b)
	}
	m := decode(t, b)
	if m["errCode"] != wantCode || m["status"] != "Error" || m["message"] == "" {
		t.Fatalf("error envelope = %s, want errCode %s and status Error with a message", b, wantCode)
	}
	return m
}

func TestSignatureVectors(t *testing.T) {
	const secret = DefaultSecretKey
	tests := []struct{ name, secret, message, want string }{
		{"xsoar", "test", "test:GET:1587340800", "p5a/YiTRs7sNMp/PEDgZxky8lJDRLbza1pi8erjURrU="},
		{"1 owners", secret, "/v3/security/owners:GET:1700000000", "k4djh7nrGDZSEJMDFH16v456gO0eYkHYxSafHN4lihY="},
		{"2 hunt ip", secret, "/v3/indicators?fields=tags&fields=attributes&tql=typeName+IN+%28%27Address%27%29+AND+summary+CONTAINS+%271.2.3.4%27+and+ownerName+in+%28%27Org+A%27%2C+%27Org+B%27%29:GET:1700000000", "5NgT1P16Cyl8U1Ix7Aa4pz2QOjBULbdY+tHoJteH77o="},
		{"3 hunt domain", secret, "/v3/indicators?tql=typeName+IN+%28%27Host%27%29+AND+summary+CONTAINS+%27example.com%27:GET:1700000000", "zPqwQiSz+UNstx0zgrM5ULGlsxSW69ZqfXnmzp4iVT4="},
		{"4 post", secret, "/v3/indicators?fields=securityLabels&fields=tags&fields=attributes:POST:1700000000", "PaH4OipWkCahRcI8o78nOFCXEqGpsMAyUeqST0Kikpg="},
		{"5 poll api", secret, "/api/v3/indicators:GET:1700000000", "+kvMsHRFD+gz29uV3iTdR1M667S92NjN+3GXc8s/c3w="},
		{"6 hunt file", secret, "/api/v3/indicators?fields=securityLabels&fields=tags&fields=attributes&tql=typeName+IN+%28%27File%27%29+AND+summary+CONTAINS+%27AAA0985A485969F70C0B414EF328DAAA%27:GET:1700000000", "SHrMfzpey2fvqfjfehzPzGkm+cgOM/Z74DIHOScI3UE="},
		{"7 poll", secret, "/v3/indicators?fields=tags&fields=attributes&fields=threatAssess&resultLimit=100&resultStart=0&sorting=dateAdded+asc&tql=dateAdded+%3E%3D+%222025-03-01T00%3A00%3A00Z%22:GET:1700000000", "brIVfo/ZCCNUllUDXUzKq25NDc5eK+lPYPJRFHtPUXI="},
		{"8 hunt escaped", secret, "/v3/indicators?tql=typeName+IN+%28%27Address%27%29+AND+summary+CONTAINS+%271.2.3.4%27+and+ownerName+in+%28%27O%5C%27Brien%27%29:GET:1700000000", "/V6jDMc0vkdcBhKIjfSIdfte6UG8dGr1nrfkL/Mvccs="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := signature(tc.secret, tc.message); got != tc.want {
				t.Errorf("signature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAuthAcceptsBothPrefixes(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, prefix := range []string{"/v3", "/api/v3"} {
		code, _, b := call(t, s, http.MethodGet, prefix+"/security/owners", "")
		if code != http.StatusOK {
			t.Errorf("%s: status %d: %s", prefix, code, b)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	s := newTestServer(t, Options{})
	ts := testNow.Unix()
	signed := func(target, secret string, ts int64) (string, string) {
		tsRaw := strconv.FormatInt(ts, 10)
		return "TC " + DefaultAccessID + ":" + signature(secret, target+":GET:"+tsRaw), tsRaw
	}
	goodAuth, goodTS := signed("/v3/security/owners", DefaultSecretKey, ts)
	tests := []struct {
		name, target, auth, ts, want string
	}{
		{"no header", "/v3/security/owners", "", goodTS, msgAccessDenied},
		{"not TC scheme", "/v3/security/owners", "Bearer abc", goodTS, msgAccessDenied},
		{"no colon", "/v3/security/owners", "TC " + DefaultAccessID, goodTS, msgAccessDenied},
		{"empty signature", "/v3/security/owners", "TC " + DefaultAccessID + ":", goodTS, msgAccessDenied},
		{"unknown id", "/v3/security/owners", strings.Replace(goodAuth, DefaultAccessID, "99999999999999999999", 1), goodTS, msgAccessDenied},
		{"wrong secret", "/v3/security/owners", func() string { a, _ := signed("/v3/security/owners", "WRONG", ts); return a }(), goodTS, msgSignatureMismatch},
		{"signed other path", "/api/v3/security/owners", goodAuth, goodTS, msgSignatureMismatch},
		{"missing timestamp", "/v3/security/owners", goodAuth, "", msgTimestampRange},
		{"timestamp 301 s early", "/v3/security/owners", func() string { a, _ := signed("/v3/security/owners", DefaultSecretKey, ts-301); return a }(), strconv.FormatInt(ts-301, 10), msgTimestampRange},
		{"timestamp 301 s late", "/v3/security/owners", func() string { a, _ := signed("/v3/security/owners", DefaultSecretKey, ts+301); return a }(), strconv.FormatInt(ts+301, 10), msgTimestampRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+tc.target, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.ts != "" {
				req.Header.Set("Timestamp", tc.ts)
			}
			code, _, b := send(t, req)
			m := wantError(t, code, b, http.StatusUnauthorized, "0x1002")
			if m["message"] != tc.want {
				t.Errorf("message = %q, want %q", m["message"], tc.want)
			}
			if strings.Contains(string(b), DefaultSecretKey) {
				t.Errorf("response leaks the secret: %s", b)
			}
		})
	}
}

func TestAuthTimestampWindowEdges(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, d := range []int64{-300, 300} {
		code, _, b := callAs(t, s, http.MethodGet, "/v3/security/owners", "", DefaultAccessID, DefaultSecretKey, testNow.Unix()+d)
		if code != http.StatusOK {
			t.Errorf("timestamp %+d s: status %d: %s", d, code, b)
		}
	}
}

func TestAuthCustomCredentials(t *testing.T) {
	s := newTestServer(t, Options{AccessID: "other-id", SecretKey: "other-secret"})
	code, _, _ := call(t, s, http.MethodGet, "/v3/security/owners", "")
	if code != http.StatusUnauthorized {
		t.Errorf("default credentials: status %d, want 401", code)
	}
	code, _, b := callAs(t, s, http.MethodGet, "/v3/security/owners", "", "other-id", "other-secret", testNow.Unix())
	if code != http.StatusOK {
		t.Errorf("configured credentials: status %d: %s", code, b)
	}
}

// TestAuthSignsRawRequestURI shows the check uses the bytes sent: a client
// signing a decoded or differently encoded query is refused.
func TestAuthSignsRawRequestURI(t *testing.T) {
	s := newTestServer(t, Options{})
	sent := "/v3/indicators?tql=summary+CONTAINS+%27vclub%27"
	for _, signed := range []string{
		"/v3/indicators?tql=summary CONTAINS 'vclub'",
		"/v3/indicators?tql=summary%20CONTAINS%20%27vclub%27",
	} {
		tsRaw := strconv.FormatInt(testNow.Unix(), 10)
		req, _ := http.NewRequest(http.MethodGet, s.URL+sent, nil)
		req.Header.Set("Timestamp", tsRaw)
		req.Header.Set("Authorization", "TC "+DefaultAccessID+":"+signature(DefaultSecretKey, signed+":GET:"+tsRaw))
		code, _, b := send(t, req)
		m := wantError(t, code, b, http.StatusUnauthorized, "0x1002")
		if m["message"] != msgSignatureMismatch {
			t.Errorf("signed %q: message %q", signed, m["message"])
		}
	}
	l := getList(t, s, sent)
	if len(l.Data) != 1 || l.Data[0]["summary"] != SeedHost {
		t.Errorf("correctly signed search = %v", l.Data)
	}
}

func TestBadlyEncodedQueryIs401(t *testing.T) {
	s := newTestServer(t, Options{})
	code, _, b := call(t, s, http.MethodGet, "/v3/indicators?tql=%zz", "")
	m := wantError(t, code, b, http.StatusUnauthorized, "0x1002")
	if m["message"] != msgSignatureMismatch {
		t.Errorf("message = %q", m["message"])
	}
}

func TestClockSkew(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SetClockSkew(10 * time.Minute)
	code, _, b := call(t, s, http.MethodGet, "/v3/security/owners", "")
	m := wantError(t, code, b, http.StatusUnauthorized, "0x1002")
	if m["message"] != msgTimestampRange {
		t.Errorf("message = %q", m["message"])
	}
	code, _, _ = callAs(t, s, http.MethodGet, "/v3/security/owners", "", DefaultAccessID, DefaultSecretKey, testNow.Add(10*time.Minute).Unix())
	if code != http.StatusOK {
		t.Errorf("timestamp matching the skewed clock: status %d", code)
	}
	s.SetClockSkew(0)
	if code, _, _ = call(t, s, http.MethodGet, "/v3/security/owners", ""); code != http.StatusOK {
		t.Errorf("after clearing the skew: status %d", code)
	}
}

func TestGetWithBodyIsAccepted(t *testing.T) {
	s := newTestServer(t, Options{})
	code, _, b := call(t, s, http.MethodGet, "/v3/security/owners", "{}")
	if code != http.StatusOK {
		t.Fatalf("GET with {} body: status %d: %s", code, b)
	}
	reqs := s.Requests()
	if got := string(reqs[len(reqs)-1].Body); got != "{}" {
		t.Errorf("recorded body = %q", got)
	}
}

func TestOwners(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, target := range []string{"/v3/security/owners", "/v3/security/owners?count=true"} {
		l := getList(t, s, target)
		if l.Count == nil || *l.Count != 2 || len(l.Data) != 2 || l.Status != "Success" {
			t.Fatalf("%s: count %v, %d owners, status %q", target, l.Count, len(l.Data), l.Status)
		}
		first := l.Data[0]
		if first["id"].(json.Number).String() != strconv.FormatInt(SeedOwnerID, 10) {
			t.Errorf("owner id = %v, want %d exactly", first["id"], int64(SeedOwnerID))
		}
		if first["name"] != SeedOwnerName || first["type"] != "Organization" || first["ownerRole"] != "Organization Administrator" {
			t.Errorf("first owner = %v", first)
		}
		for _, p := range permNames {
			if _, ok := first[p].(string); !ok {
				t.Errorf("owner lacks %s", p)
			}
		}
		if first["permIndicator"] != "FULL" || first["permMembers"] != "READ" || first["permApps"] != "BUILD" {
			t.Errorf("perms = %v %v %v", first["permIndicator"], first["permMembers"], first["permApps"])
		}
		if l.Data[1]["name"] != SeedPartnerOwnerName {
			t.Errorf("second owner = %v", l.Data[1]["name"])
		}
	}
}

func TestRoutesAndMethods(t *testing.T) {
	s := newTestServer(t, Options{})
	code, _, b := call(t, s, http.MethodGet, "/v3/groups", "")
	wantError(t, code, b, http.StatusNotFound, "0x1004")
	code, _, b = call(t, s, http.MethodGet, "/v2/indicators", "")
	wantError(t, code, b, http.StatusNotFound, "0x1004")
	code, _, b = call(t, s, http.MethodDelete, "/v3/indicators", "")
	wantError(t, code, b, http.StatusMethodNotAllowed, "0x1005")
}

func TestIndicatorJSONShape(t *testing.T) {
	s := newTestServer(t, Options{})
	q := url.Values{"tql": {"summary CONTAINS '" + SeedIPv4 + "'"}}
	_, _, raw := call(t, s, http.MethodGet, searchPath("/v3", q), "")
	for _, want := range []string{
		`"id":11111797252348113,`,
		`"ownerId":11111797252348111,`,
		`"rating":3.00,`,
		`"confidence":23,`,
		`"type":"Address",`,
		`"ip":"123.23.124.32"`,
		`"summary":"123.23.124.32"`,
		`"active":true`,
		`"webLink":"https://testxyz.threatconnect.com/#/details/indicators/11111797252348113"`,
	} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("response lacks %s:\n%s", want, raw)
		}
	}
	for _, absent := range []string{`"tags"`, `"attributes"`, `"securityLabels"`, `"threatAssessRating"`} {
		if bytes.Contains(raw, []byte(absent)) {
			t.Errorf("response has %s without fields=:\n%s", absent, raw)
		}
	}
	ind := decode(t, raw)["data"].([]any)[0].(map[string]any)
	added, err := time.Parse(dateLayout, ind["dateAdded"].(string))
	if err != nil {
		t.Fatalf("dateAdded %q is not in TC's format: %v", ind["dateAdded"], err)
	}
	if !strings.HasSuffix(ind["dateAdded"].(string), "Z") || added.After(testNow) {
		t.Errorf("dateAdded = %v", ind["dateAdded"])
	}

	q["fields"] = []string{"tags", "attributes", "securityLabels", "threatAssess"}
	_, _, raw = call(t, s, http.MethodGet, searchPath("/v3", q), "")
	ind = decode(t, raw)["data"].([]any)[0].(map[string]any)
	tags := ind["tags"].(map[string]any)["data"].([]any)
	if tags[0].(map[string]any)["name"] != "testing" {
		t.Errorf("tags = %v", tags)
	}
	attr := ind["attributes"].(map[string]any)["data"].([]any)[0].(map[string]any)
	if attr["type"] != "Description" || attr["value"] != "This is testing data" || attr["default"] != true {
		t.Errorf("attribute = %v", attr)
	}
	if cb := attr["createdBy"].(map[string]any); cb["pseudonym"] != "APIUserYSRPA" || cb["owner"] != SeedOwnerName {
		t.Errorf("createdBy = %v", cb)
	}
	label := ind["securityLabels"].(map[string]any)["data"].([]any)[0].(map[string]any)
	if label["name"] != "TLP:AMBER" || label["color"] != "FFC000" || label["owner"] != "System" || label["dateAdded"] != "2016-08-31T00:00:00Z" {
		t.Errorf("label = %v", label)
	}
	for _, k := range []string{"threatAssessRating", "threatAssessConfidence", "threatAssessScore", "calScore"} {
		if _, ok := ind[k].(json.Number); !ok {
			t.Errorf("%s = %v, want a number", k, ind[k])
		}
	}
	if !bytes.Contains(raw, []byte(`"threatAssessRating":3.50`)) {
		t.Errorf("threatAssessRating not two decimals:\n%s", raw)
	}
}

// TestSeedCoversEveryType checks the seed has every row of the CEF table and
// each type serialises its value under TC's field name.
func TestSeedCoversEveryType(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct{ typ, summary, field, value string }{
		{"Address", SeedIPv4, "ip", SeedIPv4},
		{"Address", SeedIPv6, "ip", SeedIPv6},
		{"EmailAddress", SeedEmail, "address", SeedEmail},
		{"File", SeedMD5, "md5", SeedMD5},
		{"File", SeedFileSummary, "sha256", SeedFileSHA256},
		{"Host", SeedHost, "hostName", SeedHost},
		{"URL", SeedURL, "text", SeedURL},
		{"CIDR", SeedCIDRv4, "Block", SeedCIDRv4},
		{"CIDR", SeedCIDRv6, "Block", SeedCIDRv6},
		{"Mutex", SeedMutex, "Mutex", SeedMutex},
		{"Registry Key", SeedRegistryKey, "Value Name", "Updater"},
		{"Registry Key", SeedRegistryKeyNoValue, "Value Name", ""},
		{"ASN", SeedASN, "AS Number", SeedASN},
		{"User Agent", SeedUserAgent, "User Agent String", SeedUserAgent},
		{"Email Subject", SeedEmailSubject, "Subject", SeedEmailSubject},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.summary, func(t *testing.T) {
			q := url.Values{"tql": {"typeName IN (" + quoteTQL(tc.typ) + ") AND summary CONTAINS " + quoteTQL(tc.summary)}}
			l := getList(t, s, searchPath("/v3", q))
			if len(l.Data) != 1 {
				t.Fatalf("found %d, want 1", len(l.Data))
			}
			got := l.Data[0]
			if got["summary"] != tc.summary || got["type"] != tc.typ || got[tc.field] != tc.value {
				t.Errorf("indicator = %v, want summary %q and %s %q", got, tc.summary, tc.field, tc.value)
			}
			added, _ := time.Parse(dateLayout, got["dateAdded"].(string))
			if age := testNow.Sub(added); age <= 0 || age > 72*time.Hour {
				t.Errorf("dateAdded %v is not within the last three days", added)
			}
		})
	}
	file, ok := s.Find("File", SeedFileSHA1)
	if !ok || file.Summary != SeedFileSummary || file.Size == nil || *file.Size != 10 {
		t.Errorf("multi-hash file = %+v, %v", file, ok)
	}
}

func TestSeedShape(t *testing.T) {
	s := newTestServer(t, Options{})
	all := s.Indicators()
	if !slices.IsSortedFunc(all, func(a, b Indicator) int { return int(a.ID - b.ID) }) {
		t.Error("Indicators is not sorted by id")
	}
	var inactive, big, partner int
	perSecond := map[time.Time]int{}
	for _, ind := range all {
		if !ind.Active {
			inactive++
		}
		if ind.ID > 1<<53 {
			big++
		}
		if ind.OwnerName == SeedPartnerOwnerName {
			partner++
		}
		perSecond[ind.DateAdded]++
	}
	burstAt := testNow.Add(-SeedBurstAge)
	if inactive != 1 || big != 1 || partner != 1 || perSecond[burstAt] != SeedBurstCount || SeedBurstCount <= 100 {
		t.Errorf("inactive %d, ids above 2^53 %d, partner %d, burst %d at %v", inactive, big, partner, perSecond[burstAt], burstAt)
	}
	email, _ := s.Find("EmailAddress", SeedEmail)
	if !slices.ContainsFunc(email.Tags, func(tg Tag) bool { return tg.Name == SeedUnicodeTag }) {
		t.Errorf("email tags = %v", email.Tags)
	}
}

func TestEmptyOption(t *testing.T) {
	s := newTestServer(t, Options{Empty: true})
	if n := len(s.Indicators()); n != 0 {
		t.Errorf("Empty server has %d indicators", n)
	}
	l := getList(t, s, "/v3/indicators")
	if len(l.Data) != 0 || l.Next != "" || l.Status != "Success" {
		t.Errorf("empty search = %+v", l)
	}
}

func TestSearchReturnsActiveOnly(t *testing.T) {
	s := newTestServer(t, Options{})
	q := url.Values{"tql": {"summary CONTAINS '" + SeedInactiveIP + "'"}}
	if l := getList(t, s, searchPath("/v3", q)); len(l.Data) != 0 {
		t.Errorf("inactive indicator returned: %v", l.Data)
	}
	if _, ok := s.Find("Address", SeedInactiveIP); !ok {
		t.Error("Find does not see the inactive indicator")
	}
	q = url.Values{"resultLimit": {"10000"}, "count": {"true"}}
	l := getList(t, s, searchPath("/v3", q))
	if want := int64(len(s.Indicators()) - 1); *l.Count != want || int64(len(l.Data)) != want {
		t.Errorf("count %d, data %d, want %d active", *l.Count, len(l.Data), want)
	}
}

// count comes only when asked for with count=true, and counts every match,
// not the page: a client asks the total of a search with resultLimit=1.
func TestSearchCountOnlyWhenAsked(t *testing.T) {
	s := newTestServer(t, Options{})
	tql := "summary CONTAINS '192.0.2.'"
	for _, q := range []url.Values{{"tql": {tql}}, {"tql": {tql}, "count": {"false"}}} {
		if l := getList(t, s, searchPath("/v3", q)); l.Count != nil {
			t.Errorf("%s: count %d without count=true", q.Encode(), *l.Count)
		}
	}
	for _, v := range []string{"true", "TRUE"} {
		q := url.Values{"tql": {tql}, "count": {v}, "resultLimit": {"1"}}
		l := getList(t, s, searchPath("/api/v3", q))
		got := int64(-1) // absent
		if l.Count != nil {
			got = *l.Count
		}
		if got != SeedBurstCount || len(l.Data) != 1 || l.Next == "" {
			t.Errorf("count=%s&resultLimit=1: count %d, %d items, next %q; want %d, 1 and a next link", v, got, len(l.Data), l.Next, SeedBurstCount)
		}
	}
}

func TestSearchTQL(t *testing.T) {
	s := newTestServer(t, Options{})
	s.AddIndicator(Indicator{Type: "Mutex", Custom: map[string]string{"Mutex": "O'Brien \"`x`\""}, Active: true})
	burst := testNow.Add(-SeedBurstAge)
	tests := []struct {
		name, tql string
		want      int
	}{
		{"type", "typeName IN ('Host')", 1},
		{"keywords any case", "TYPENAME in ('host') and Summary contains 'VCLUB'", 1},
		{"contains case-insensitive", "summary CONTAINS 'aaa0985a'", 1},
		{"several types", "typeName IN ('CIDR', 'Mutex')", 4},
		{"owner", "ownerName IN ('partner community')", 1},
		{"owner and type", "typeName IN ('Address') AND ownerName IN ('TestUser', 'Nobody')", 1 + 1 + SeedBurstCount},
		{"and binds tighter than or", "typeName IN ('Host') OR typeName IN ('Address') AND summary CONTAINS 'no-such'", 1},
		{"parentheses", "(typeName IN ('Host') OR typeName IN ('Address')) AND summary CONTAINS 'vclub'", 1},
		{"escaped backslash", `summary CONTAINS 'Global\\Zeus'`, 1},
		{"double quotes", `summary CONTAINS "EvilBot"`, 1},
		{"escaped quotes", "summary CONTAINS 'o\\'brien \\\"\\`X'", 1},
		{"unescaped double quote inside single", `summary CONTAINS 'brien "'`, 1},
		{"date only at midnight UTC", "dateAdded >= '2025-03-09'", SeedBurstCount + 5},
		{"date only today", "dateAdded >= '2025-03-10'", 1},
		{"rfc3339 at burst", `dateAdded >= "` + burst.Format(time.RFC3339) + `" AND dateAdded <= "` + burst.Format(time.RFC3339) + `"`, SeedBurstCount},
		{"strictly after burst", `dateAdded > "` + burst.Format(time.RFC3339) + `" AND typeName IN ('Address') AND summary CONTAINS '192.0.2.'`, 0},
		{"before", `dateAdded < "` + testNow.Add(-70*time.Hour).Format(time.RFC3339) + `"`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"tql": {tc.tql}, "resultLimit": {"10000"}}
			if l := getList(t, s, searchPath("/api/v3", q)); len(l.Data) != tc.want {
				t.Errorf("%s: %d results, want %d", tc.tql, len(l.Data), tc.want)
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		name  string
		q     url.Values
		want  int
		ecode string
	}{
		{"tql syntax", url.Values{"tql": {"typeName IN 'Host'"}}, 400, "0x2001"},
		{"tql unknown field", url.Values{"tql": {"rating > '3'"}}, 400, "0x2001"},
		{"tql bad escape", url.Values{"tql": {`summary CONTAINS 'a\nb'`}}, 400, "0x2001"},
		{"tql bad date", url.Values{"tql": {"dateAdded >= 'yesterday'"}}, 400, "0x2001"},
		{"unknown fields value", url.Values{"fields": {"tags", "bogus"}}, 400, "0x1001"},
		{"bad sorting field", url.Values{"sorting": {"color asc"}}, 400, "0x1001"},
		{"bad sorting direction", url.Values{"sorting": {"dateAdded up"}}, 400, "0x1001"},
		{"limit too large", url.Values{"resultLimit": {"10001"}}, 400, "0x1001"},
		{"limit zero", url.Values{"resultLimit": {"0"}}, 400, "0x1001"},
		{"negative start", url.Values{"resultStart": {"-1"}}, 400, "0x1001"},
		{"start not a number", url.Values{"resultStart": {"ten"}}, 400, "0x1001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := call(t, s, http.MethodGet, searchPath("/v3", tc.q), "")
			wantError(t, code, b, tc.want, tc.ecode)
		})
	}
}

func TestSearchSorting(t *testing.T) {
	s := newTestServer(t, Options{})
	dates := func(l list) []string {
		var out []string
		for _, d := range l.Data {
			out = append(out, d["dateAdded"].(string))
		}
		return out
	}
	asc := getList(t, s, searchPath("/v3", url.Values{"sorting": {"dateAdded asc"}, "resultLimit": {"10000"}}))
	if !slices.IsSorted(dates(asc)) {
		t.Errorf("dateAdded asc not sorted: %v", dates(asc))
	}
	desc := getList(t, s, searchPath("/v3", url.Values{"sorting": {"DATEADDED DESC"}, "resultLimit": {"10000"}}))
	d := dates(desc)
	slices.Reverse(d)
	if !slices.IsSorted(d) {
		t.Errorf("dateAdded DESC not sorted descending")
	}
	// Ties (the burst second) are ordered by id ascending in both directions.
	for _, l := range []list{asc, desc} {
		var burstIDs []string
		for _, ind := range l.Data {
			if strings.HasPrefix(ind["summary"].(string), "192.0.2.") {
				burstIDs = append(burstIDs, ind["id"].(json.Number).String())
			}
		}
		if len(burstIDs) != SeedBurstCount || !slices.IsSorted(burstIDs) {
			t.Errorf("burst ties not by id asc: %d ids", len(burstIDs))
		}
	}
}

func TestSearchPaging(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, prefix := range []string{"/v3", "/api/v3"} {
		t.Run(prefix, func(t *testing.T) {
			q := url.Values{"tql": {"summary CONTAINS '192.0.2.'"}, "sorting": {"dateAdded asc"}, "fields": {"tags"}, "count": {"true"}}
			first := searchPath(prefix, q)
			l := getList(t, s, first)
			if len(l.Data) != defaultResultLimit || l.Prev != "" || *l.Count != SeedBurstCount {
				t.Fatalf("first page: %d items, prev %q, count %v", len(l.Data), l.Prev, *l.Count)
			}
			wantNext := s.URL + first + "&resultStart=100&resultLimit=100"
			if l.Next != wantNext {
				t.Fatalf("next = %s\nwant   %s", l.Next, wantNext)
			}
			// The link is followed verbatim: its path and query are signed as received.
			next := strings.TrimPrefix(l.Next, s.URL)
			l2 := getList(t, s, next)
			if len(l2.Data) != SeedBurstCount-defaultResultLimit || l2.Next != "" {
				t.Fatalf("second page: %d items, next %q", len(l2.Data), l2.Next)
			}
			if l2.Prev != s.URL+first+"&resultStart=0&resultLimit=100" {
				t.Errorf("prev = %s", l2.Prev)
			}
			seen := map[string]bool{}
			for _, d := range append(l.Data, l2.Data...) {
				seen[d["summary"].(string)] = true
			}
			if len(seen) != SeedBurstCount {
				t.Errorf("two pages hold %d distinct indicators, want %d", len(seen), SeedBurstCount)
			}
		})
	}
	t.Run("explicit window", func(t *testing.T) {
		q := url.Values{"tql": {"summary CONTAINS '192.0.2.'"}, "resultStart": {"115"}, "resultLimit": {"10"}}
		l := getList(t, s, searchPath("/v3", q))
		if len(l.Data) != 5 || l.Next != "" || !strings.Contains(l.Prev, "resultStart=105&resultLimit=10") || strings.Count(l.Prev, "resultStart") != 1 {
			t.Errorf("window: %d items, next %q, prev %q", len(l.Data), l.Next, l.Prev)
		}
		q.Set("resultStart", "500")
		if l := getList(t, s, searchPath("/v3", q)); len(l.Data) != 0 || l.Next != "" {
			t.Errorf("past the end: %d items, next %q", len(l.Data), l.Next)
		}
	})
}

func TestNewHandlerAndSetURL(t *testing.T) {
	h := NewHandler(Options{Now: func() time.Time { return testNow }})
	if h.URL != "" {
		t.Fatalf("NewHandler URL = %q, want empty", h.URL)
	}
	// Mount it under a sub-path, as an embedding server would.
	mux := http.NewServeMux()
	mux.Handle("/tc/", http.StripPrefix("/tc", h.Handler()))
	srv := &http.Server{Handler: mux}
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String() + "/tc"

	fetch := func() string {
		target := "/tc/v3/indicators?tql=summary+CONTAINS+%27192.0.2.%27"
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+target, nil)
		tsRaw := strconv.FormatInt(testNow.Unix(), 10)
		req.Header.Set("Timestamp", tsRaw)
		req.Header.Set("Authorization", "TC "+DefaultAccessID+":"+signature(DefaultSecretKey, target+":GET:"+tsRaw))
		code, _, b := send(t, req)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, b)
		}
		next, _ := decode(t, b)["next"].(string)
		return next
	}
	if next := fetch(); !strings.HasPrefix(next, "http://"+ln.Addr().String()+"/v3/indicators?") {
		t.Errorf("next without SetURL = %s, want the request's host", next)
	}
	h.SetURL(base + "/")
	if next := fetch(); !strings.HasPrefix(next, base+"/v3/indicators?tql=") || h.URL != base {
		t.Errorf("next with SetURL = %s (URL %q)", next, h.URL)
	}
	h.Close() // a no-op for a handler that New did not start
}

func TestPostCreateThenUpdate(t *testing.T) {
	s := newTestServer(t, Options{})
	target := "/v3/indicators?fields=securityLabels&fields=tags&fields=attributes"
	body := `{"type":"Address","ip":"1.2.3.4","rating":3,"confidence":50,` +
		`"attributes":{"data":[{"type":"Description","value":"seen in phishing","default":true}]},` +
		`"tags":{"data":[{"name":"phishing"}]},"securityLabels":{"data":[{"name":"TLP:AMBER"}]}}`
	code, _, raw := call(t, s, http.MethodPost, target, body)
	if code != http.StatusCreated {
		t.Fatalf("create: status %d: %s", code, raw)
	}
	m := decode(t, raw)
	if m["message"] != "Created" || m["status"] != "Success" {
		t.Fatalf("create envelope = %s", raw)
	}
	if !bytes.Contains(raw, []byte(`"rating":3.00`)) {
		t.Errorf("rating not serialised with two decimals: %s", raw)
	}
	data := m["data"].(map[string]any)
	if data["summary"] != "1.2.3.4" || data["ip"] != "1.2.3.4" || data["ownerName"] != SeedOwnerName || data["active"] != true || data["description"] != "seen in phishing" {
		t.Errorf("created = %v", data)
	}
	for _, k := range []string{"tags", "attributes", "securityLabels"} {
		if _, ok := data[k].(map[string]any)["data"].([]any); !ok {
			t.Errorf("created indicator lacks %s", k)
		}
	}
	created, ok := s.Find("Address", "1.2.3.4")
	if !ok || !created.DateAdded.Equal(testNow) || created.Attributes[0].CreatedBy.UserName != DefaultAccessID {
		t.Fatalf("stored = %+v", created)
	}

	code, _, raw = call(t, s, http.MethodPost, "/v3/indicators?fields=tags", `{"type":"Address","ip":"1.2.3.4","rating":0,"tags":{"data":[{"name":"second"}]}}`)
	if code != http.StatusOK {
		t.Fatalf("update: status %d: %s", code, raw)
	}
	m = decode(t, raw)
	data = m["data"].(map[string]any)
	if m["message"] != "Updated" || data["id"].(json.Number).String() != strconv.FormatInt(created.ID, 10) {
		t.Errorf("update envelope = %s", raw)
	}
	if !bytes.Contains(raw, []byte(`"rating":0.00`)) || !bytes.Contains(raw, []byte(`"confidence":50`)) {
		t.Errorf("update did not keep confidence or set rating 0: %s", raw)
	}
	if bytes.Contains(raw, []byte(`"attributes"`)) {
		t.Errorf("attributes returned without fields=attributes: %s", raw)
	}
	updated, _ := s.Find("Address", "1.2.3.4")
	if len(updated.Tags) != 2 || len(updated.Attributes) != 1 {
		t.Errorf("tags %v, attributes %v after update", updated.Tags, updated.Attributes)
	}
	if n := len(s.Indicators()); n != len(seedIndicators(testNow))+1 {
		t.Errorf("%d indicators after create+update", n)
	}
}

func TestPostFileMergesHashes(t *testing.T) {
	s := newTestServer(t, Options{Empty: true})
	code, _, raw := call(t, s, http.MethodPost, "/v3/indicators", `{"type":"File","md5":"aaaaf2db1295fa419b190bd7478daaab","size":10}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	sha1 := strings.Repeat("b", 40)
	code, _, raw = call(t, s, http.MethodPost, "/v3/indicators", `{"type":"File","md5":"AAAAF2DB1295FA419B190BD7478DAAAB","sha1":"`+sha1+`"}`)
	if code != http.StatusOK {
		t.Fatalf("update by md5: %d %s", code, raw)
	}
	want := "AAAAF2DB1295FA419B190BD7478DAAAB : " + strings.ToUpper(sha1)
	if got := decode(t, raw)["data"].(map[string]any)["summary"]; got != want {
		t.Errorf("summary = %v, want %s", got, want)
	}
	if ind, ok := s.Find("File", sha1); !ok || ind.Summary != want || *ind.Size != 10 {
		t.Errorf("Find by sha1 = %+v %v", ind, ok)
	}
}

func TestPostEveryType(t *testing.T) {
	s := newTestServer(t, Options{Empty: true})
	tests := []struct{ body, summary string }{
		{`{"type":"EmailAddress","address":"a@b.example"}`, "a@b.example"},
		{`{"type":"Host","hostName":"evil.example","dnsActive":true,"whoisActive":false}`, "evil.example"},
		{`{"type":"URL","text":"https://evil.example/x?y=1"}`, "https://evil.example/x?y=1"},
		{`{"type":"File","sha256":"` + strings.Repeat("c", 64) + `"}`, strings.Repeat("C", 64)},
		{`{"type":"CIDR","Block":"192.168.0.0/16"}`, "192.168.0.0/16"},
		{`{"type":"Registry Key","Key Name":"HKEY_CURRENT_USER\\Run","Value Type":"REG_SZ"}`, `HKEY_CURRENT_USER\Run :  : REG_SZ`},
		{`{"type":"ASN","summary":"ASN64500"}`, "ASN64500"},
		{`{"type":"email subject","Subject":"hello"}`, "hello"},
	}
	for _, tc := range tests {
		code, _, raw := call(t, s, http.MethodPost, "/v3/indicators", tc.body)
		if code != http.StatusCreated {
			t.Errorf("%s: status %d: %s", tc.body, code, raw)
			continue
		}
		if got := decode(t, raw)["data"].(map[string]any)["summary"]; got != tc.summary {
			t.Errorf("%s: summary %v, want %q", tc.body, got, tc.summary)
		}
	}
}

func TestPostRejects(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"missing value", "/v3/indicators", `{"type":"Address","rating":3}`, 400, "0x1001"},
		{"missing type", "/v3/indicators", `{"ip":"1.2.3.4"}`, 400, "0x1001"},
		{"unknown type", "/v3/indicators", `{"type":"Ipaddress","ip":"1.2.3.4"}`, 400, "0x1001"},
		{"not json", "/v3/indicators", `type=Address`, 400, "0x1001"},
		{"empty body", "/v3/indicators", ``, 400, "0x1001"},
		{"bad ip", "/v3/indicators", `{"type":"Address","ip":"1.2.3"}`, 400, "0x1001"},
		{"bad md5", "/v3/indicators", `{"type":"File","md5":"xyz"}`, 400, "0x1001"},
		{"url without scheme", "/v3/indicators", `{"type":"URL","text":"evil.example/x"}`, 400, "0x1001"},
		{"rating out of range", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","rating":7}`, 400, "0x1001"},
		{"confidence not integer", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","confidence":50.5}`, 400, "0x1001"},
		{"size on address", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","size":3}`, 400, "0x1001"},
		{"unknown key", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","dns_active":true}`, 400, "0x1001"},
		{"tags not wrapped", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","tags":[{"name":"x"}]}`, 400, "0x1001"},
		{"unknown attribute type", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","attributes":{"data":[{"type":"Colour","value":"red"}]}}`, 400, "0x1001"},
		{"bad registry value type", "/v3/indicators", `{"type":"Registry Key","Key Name":"HKLM\\x","Value Type":"REG_BOGUS"}`, 400, "0x1001"},
		{"unknown fields", "/v3/indicators?fields=bogus", `{"type":"Address","ip":"1.2.3.4"}`, 400, "0x1001"},
		{"unknown owner", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","ownerName":"Nobody"}`, 400, "0x1001"},
		{"read-only owner", "/v3/indicators", `{"type":"Address","ip":"1.2.3.4","ownerName":"` + SeedPartnerOwnerName + `"}`, 403, "0x1003"},
	}
	before := len(s.Indicators())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := call(t, s, http.MethodPost, tc.target, tc.body)
			wantError(t, code, b, tc.status, tc.code)
		})
	}
	if after := len(s.Indicators()); after != before {
		t.Errorf("rejected posts changed the dataset: %d -> %d", before, after)
	}
}

func TestPostNullIsUnset(t *testing.T) {
	s := newTestServer(t, Options{Empty: true})
	code, _, raw := call(t, s, http.MethodPost, "/v3/indicators", `{"type":"File","md5":"`+strings.Repeat("a", 32)+`","size":null,"rating":null}`)
	if code != http.StatusCreated || bytes.Contains(raw, []byte(`"size"`)) || bytes.Contains(raw, []byte(`"rating"`)) {
		t.Errorf("status %d: %s", code, raw)
	}
}

func TestFailNext(t *testing.T) {
	s := newTestServer(t, Options{})
	s.FailNext(2, http.StatusTooManyRequests, "7")
	for i := range 2 {
		code, h, b := call(t, s, http.MethodGet, "/v3/security/owners", "")
		m := wantError(t, code, b, http.StatusTooManyRequests, "0x1001")
		if h.Get("Retry-After") != "7" || m["message"] != "Too Many Requests" {
			t.Errorf("attempt %d: Retry-After %q, message %q", i, h.Get("Retry-After"), m["message"])
		}
	}
	if code, _, _ := call(t, s, http.MethodGet, "/v3/security/owners", ""); code != http.StatusOK {
		t.Errorf("after the failures: status %d", code)
	}
	s.FailNext(1, http.StatusServiceUnavailable, "")
	code, h, b := call(t, s, http.MethodGet, "/v3/security/owners", "")
	wantError(t, code, b, http.StatusServiceUnavailable, "0x1007")
	if h.Get("Retry-After") != "" {
		t.Errorf("Retry-After = %q, want none", h.Get("Retry-After"))
	}
	// Faults come before authentication, like a proxy in front of TC.
	s.FailNext(1, http.StatusInternalServerError, "")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v3/security/owners", nil)
	code, _, b = send(t, req)
	wantError(t, code, b, http.StatusInternalServerError, "0x1007")
	if got := s.RequestCount(); got != 5 {
		t.Errorf("RequestCount = %d, want 5", got)
	}
}

func TestResetNext(t *testing.T) {
	s := newTestServer(t, Options{})
	s.ResetNext(1)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v3/security/owners", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reset request got status %d, want a transport error", resp.StatusCode)
	}
	if code, _, _ := call(t, s, http.MethodGet, "/v3/security/owners", ""); code != http.StatusOK {
		t.Errorf("after the reset: status %d", code)
	}
	if s.RequestCount() != 2 {
		t.Errorf("RequestCount = %d, want 2", s.RequestCount())
	}
}

func TestLatency(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v3/security/owners", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// The request cannot finish before the hour is up, so cancelling it
	// must end it with the client's own error.
	for s.RequestCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("delayed request ended with %v, want context.Canceled", err)
	}
	s.SetLatency(0)
	if code, _, _ := call(t, s, http.MethodGet, "/v3/security/owners", ""); code != http.StatusOK {
		t.Errorf("without latency: status %d", code)
	}
}

func TestRequestsRecorded(t *testing.T) {
	s := newTestServer(t, Options{})
	call(t, s, http.MethodPost, "/v3/indicators?fields=tags", `{"type":"Host","hostName":"rec.example"}`)
	reqs := s.Requests()
	if len(reqs) != 1 || s.RequestCount() != 1 {
		t.Fatalf("%d requests recorded, count %d", len(reqs), s.RequestCount())
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.RequestURI != "/v3/indicators?fields=tags" || string(r.Body) != `{"type":"Host","hostName":"rec.example"}` {
		t.Errorf("recorded %+v", r)
	}
	if got := r.Header.Get("Authorization"); got != "[REDACTED]" {
		t.Errorf("Authorization recorded as %q", got)
	}
	if r.Header.Get("Timestamp") == "" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", r.Header)
	}
	reqs[0].Body[0] = 'X'
	if s.Requests()[0].Body[0] != '{' {
		t.Error("Requests shares memory with the log")
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 || s.RequestCount() != 0 {
		t.Errorf("after reset: %d requests, count %d", len(s.Requests()), s.RequestCount())
	}
}

func TestAddIndicatorAndGenerate(t *testing.T) {
	s := newTestServer(t, Options{Empty: true})
	start := testNow.Add(-2 * time.Hour).Add(300 * time.Millisecond)
	gen := GenerateIndicators(250, 200, start)
	var ids []int64
	for _, ind := range gen {
		ids = append(ids, s.AddIndicator(ind).ID)
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 250 {
		t.Errorf("assigned ids not distinct and growing")
	}
	all := s.Indicators()
	sec := start.Truncate(time.Second)
	ips := map[string]bool{}
	same := 0
	for i, ind := range all {
		ips[ind.IP] = true
		if ind.DateAdded.Equal(sec) {
			same++
		} else if want := sec.Add(time.Duration(i-199) * time.Minute); !ind.DateAdded.Equal(want) {
			t.Fatalf("indicator %d dateAdded %v, want %v", i, ind.DateAdded, want)
		}
		if !ind.Active || ind.Summary != ind.IP || ind.Tags[0].ID == 0 || ind.OwnerID != SeedOwnerID {
			t.Fatalf("indicator %d = %+v", i, ind)
		}
	}
	if same != 200 || len(ips) != 250 {
		t.Errorf("%d share the second, %d distinct IPs", same, len(ips))
	}
	q := url.Values{"tql": {`dateAdded >= "` + sec.Format(time.RFC3339) + `"`}, "count": {"true"}}
	if l := getList(t, s, searchPath("/v3", q)); *l.Count != 250 {
		t.Errorf("search count = %d", *l.Count)
	}

	planted := s.AddIndicator(Indicator{Type: "Weird Thing", Summary: "x", Custom: map[string]string{"Thing": "x"}, Active: true})
	if planted.ID == 0 || !planted.DateAdded.Equal(testNow) || planted.OwnerName != SeedOwnerName {
		t.Errorf("planted = %+v", planted)
	}
	odd := s.AddIndicator(Indicator{Type: "File", Summary: "not-a-hash", Active: true})
	if odd.Summary != "not-a-hash" || odd.MD5 != "" {
		t.Errorf("planted odd File = %+v, want it kept as given", odd)
	}
	replaced := s.AddIndicator(Indicator{ID: planted.ID, Type: "Address", IP: "9.9.9.9", Active: true})
	if got, _ := s.Find("Address", "9.9.9.9"); got.ID != planted.ID || replaced.Summary != "9.9.9.9" {
		t.Errorf("replace by id: %+v", got)
	}
	if _, ok := s.Find("Weird Thing", "x"); ok {
		t.Error("replaced indicator still found")
	}
	// The returned copy is the caller's own.
	replaced.Tags = append(replaced.Tags, Tag{Name: "mutated"})
	if got, _ := s.Find("Address", "9.9.9.9"); len(got.Tags) != 0 {
		t.Error("AddIndicator result shares memory with the dataset")
	}
}

func TestGenerateIndicatorsBounds(t *testing.T) {
	if got := GenerateIndicators(-1, 5, testNow); len(got) != 0 {
		t.Errorf("n=-1 gave %d", len(got))
	}
	got := GenerateIndicators(3, 10, testNow)
	for _, ind := range got {
		if !ind.DateAdded.Equal(testNow) {
			t.Errorf("sameSecond > n: dateAdded %v", ind.DateAdded)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newTestServer(t, Options{})
	var wg sync.WaitGroup
	do := func(method, target, body string, want int) {
		req, err := signedRequest(s, method, target, body, DefaultAccessID, DefaultSecretKey, testNow.Unix())
		if err != nil {
			t.Error(err)
			return
		}
		if code, _, b, err := trySend(req); err != nil || code != want {
			t.Errorf("%s %s: %d %s %v", method, target, code, b, err)
		}
	}
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if w%2 == 0 {
					body := `{"type":"Address","ip":"10.9.` + strconv.Itoa(w) + `.` + strconv.Itoa(i) + `","tags":{"data":[{"name":"c"}]}}`
					do(http.MethodPost, "/v3/indicators", body, http.StatusCreated)
				} else {
					do(http.MethodGet, "/v3/indicators?fields=tags&tql=summary+CONTAINS+%2710.9.%27", "", http.StatusOK)
					s.Indicators()
					s.AddIndicator(Indicator{Type: "Host", HostName: "h" + strconv.Itoa(w*100+i) + ".example", Active: true})
				}
			}
		})
	}
	wg.Wait()
	l := getList(t, s, "/v3/indicators?count=true&tql=summary+CONTAINS+%2710.9.%27")
	if *l.Count != 40 {
		t.Errorf("count = %d, want 40", *l.Count)
	}
}

func TestRatingFormatting(t *testing.T) {
	for _, r := range []float64{0, 1, 2.5, 3, 4.75, 5} {
		ind := Indicator{ID: 1, Type: "Address", IP: "1.1.1.1", Summary: "1.1.1.1", Rating: &r}
		raw := appendIndicator(nil, &ind, 0)
		want := `"rating":` + strconv.FormatFloat(r, 'f', 2, 64) + ","
		if !bytes.Contains(raw, []byte(want)) || !json.Valid(raw) {
			t.Errorf("rating %v: %s", r, raw)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x1f\n\t\r", "bad\xffutf8", "sep\u2028\u2029", SeedUnicodeTag} {
		raw := jsonw.AppendString(nil, s)
		want, _ := json.Marshal(s)
		var back string
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Errorf("%q: invalid JSON %s: %v", s, raw, err)
			continue
		}
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q decodes to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestIndicatorMarshalJSON(t *testing.T) {
	s := newTestServer(t, Options{})
	ind, _ := s.Find("Address", SeedIPv4)
	if viaJSON, err := json.Marshal(ind); err != nil || !json.Valid(viaJSON) {
		t.Fatalf("json.Marshal: %v: %s", err, viaJSON)
	}
	raw, _ := ind.MarshalJSON()
	q := url.Values{"tql": {"summary CONTAINS '" + SeedIPv4 + "'"}, "fields": {"tags", "attributes", "securityLabels", "threatAssess"}}
	_, _, page := call(t, s, http.MethodGet, searchPath("/v3", q), "")
	if !bytes.Contains(page, raw) {
		t.Errorf("MarshalJSON differs from the served object:\n%s\n%s", raw, page)
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := newTestServer(t, Options{})
	code, _, b := call(t, s, http.MethodPost, "/v3/indicators", `{"type":"Address","description":"`+strings.Repeat("x", maxBody)+`"}`)
	wantError(t, code, b, http.StatusRequestEntityTooLarge, "0x1001")
}
