package threatconnect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

func TestProviderRegisters(t *testing.T) {
	r, err := providers.NewRegistry(Provider())
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	p, _ := r.Provider("threatconnect")
	want := []string{"on_poll", "test_connectivity", "list_owners", "post_data", "hunt_ip", "hunt_file", "hunt_email", "hunt_domain", "hunt_url"}
	if got := p.ActionNames(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
}

func TestHuntIPWithTags(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4, "tag": true})
	if !r.OK() {
		t.Fatalf("hunt_ip failed: %s", r.Message)
	}
	list := indicators(t, r)
	if len(list) == 0 {
		t.Fatal("hunt_ip found nothing for the seeded address")
	}
	if got := r.Summary["total_objects"]; got != len(list) {
		t.Errorf("summary.total_objects = %v, want %d", got, len(list))
	}
	if want := fmt.Sprintf("Found %d indicator(s)", len(list)); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	for _, item := range list {
		ind := item.(map[string]any)
		tags, _ := ind["tags"].(map[string]any)
		if _, ok := tags["data"].([]any); !ok {
			t.Errorf("indicator %v has no tags.data: %v", ind["id"], ind)
		}
		if _, ok := ind["attributes"]; ok {
			t.Errorf("indicator %v has attributes, which were not asked for", ind["id"])
		}
	}
	// The id exceeds 2^53 and must come through intact.
	if got := list[0].(map[string]any)["id"]; got != json.Number(strconv.FormatInt(tcfake.SeedBigID, 10)) {
		t.Errorf("id = %v, want %d", got, tcfake.SeedBigID)
	}

	reqs := f.srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	req := reqs[0]
	wantURI := "/v3/indicators?fields=tags&tql=typeName+IN+%28%27Address%27%29+AND+summary+CONTAINS+%27123.23.124.32%27"
	if req.Method != "GET" || req.RequestURI != wantURI {
		t.Errorf("request = %s %s, want GET %s", req.Method, req.RequestURI, wantURI)
	}
	if len(req.Body) != 0 || req.Header.Get("Content-Type") != "" {
		t.Errorf("GET sent a body %q or a Content-Type %q", req.Body, req.Header.Get("Content-Type"))
	}
	if req.Header.Get("Accept") != "application/json" || req.Header.Get("Timestamp") == "" {
		t.Errorf("headers = %v, want Accept: application/json and a Timestamp", req.Header)
	}
}

func TestHunts(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	tests := []struct {
		action   string
		params   map[string]any
		wantType string
		wantURI  string // the start of the request target
	}{
		{"hunt_ip", map[string]any{"ip": tcfake.SeedIPv6}, "Address", "/v3/indicators?tql=typeName+IN+%28%27Address%27%29"},
		{"hunt_file", map[string]any{"hash": tcfake.SeedFileSHA1, "attribute": true, "security_label": true, "tag": true}, "File",
			"/v3/indicators?fields=securityLabels&fields=tags&fields=attributes&tql=typeName+IN+%28%27File%27%29"},
		{"hunt_file", map[string]any{"hash": tcfake.SeedMD5}, "File", "/v3/indicators?tql=typeName+IN+%28%27File%27%29"},
		{"hunt_email", map[string]any{"email": tcfake.SeedEmail, "attribute": true}, "EmailAddress", "/v3/indicators?fields=attributes&tql=typeName+IN+%28%27EmailAddress%27%29"},
		{"hunt_domain", map[string]any{"domain": tcfake.SeedHost}, "Host", "/v3/indicators?tql=typeName+IN+%28%27Host%27%29"},
		{"hunt_domain", map[string]any{"domain": tcfake.SeedURL}, "URL", "/v3/indicators?tql=typeName+IN+%28%27URL%27%29"},
		{"hunt_url", map[string]any{"url": tcfake.SeedURL}, "URL", "/v3/indicators?tql=typeName+IN+%28%27URL%27%29"},
		{"hunt_ip", map[string]any{"ip": tcfake.SeedPartnerIP, "owner": " ; " + tcfake.SeedPartnerOwnerName + ", Nobody"}, "Address", "/v3/indicators?tql=typeName"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.action, tt.params), func(t *testing.T) {
			f.srv.ResetRequests()
			r := f.invoke(t, tt.action, tt.params)
			if !r.OK() {
				t.Fatalf("%s failed: %s", tt.action, r.Message)
			}
			list := indicators(t, r)
			if len(list) == 0 || r.Summary["total_objects"] != len(list) {
				t.Fatalf("found %d, summary %v; want at least one", len(list), r.Summary)
			}
			for _, item := range list {
				if typ := item.(map[string]any)["type"]; typ != tt.wantType {
					t.Errorf("indicator type %v, want %s", typ, tt.wantType)
				}
			}
			if reqs := f.srv.Requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0].RequestURI, tt.wantURI) {
				t.Errorf("requests = %+v, want one starting %s", reqs, tt.wantURI)
			}
		})
	}

	t.Run("owner filter excludes", func(t *testing.T) {
		r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedPartnerIP, "owner": tcfake.SeedOwnerName})
		if !r.OK() || r.Message != "Found 0 indicator(s)" || len(indicators(t, r)) != 0 || r.Summary["total_objects"] != 0 {
			t.Errorf("got %s %q %v, want success with Found 0 indicator(s)", r.Status, r.Message, r.Summary)
		}
	})
}

func TestHuntFollowsNextUpToMaxResults(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, nil)
	for _, ind := range tcfake.GenerateIndicators(250, 0, time.Now().Add(-24*time.Hour)) {
		f.srv.AddIndicator(ind)
	}
	// 100.64.0.1 is contained in 100.64.0.1, .10-.19 and .100-.199: 111 in all.
	tests := []struct {
		maxResults   any
		want, reqs   int
		wantOnePrefx bool
	}{
		// A hunt that stops at max_results with a next page left asks the
		// count once more (TestHuntCountsWhatItLeftOut).
		{nil, 100, 2, true},
		{105, 105, 2, false},
		{"500", 111, 2, false},
		{1, 1, 2, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxResults), func(t *testing.T) {
			f.srv.ResetRequests()
			params := map[string]any{"ip": "100.64.0.1"}
			if tt.maxResults != nil {
				params["max_results"] = tt.maxResults
			}
			r := f.invoke(t, "hunt_ip", params)
			if !r.OK() {
				t.Fatalf("hunt_ip failed: %s", r.Message)
			}
			if got := len(indicators(t, r)); got != tt.want || r.Summary["total_objects"] != tt.want {
				t.Errorf("found %d (summary %v), want %d", got, r.Summary, tt.want)
			}
			if got := f.srv.RequestCount(); got != int64(tt.reqs) {
				t.Errorf("%d requests, want %d", got, tt.reqs)
			}
		})
	}

	t.Run("next link to another host is refused", func(t *testing.T) {
		f.srv.ResetRequests()
		f.srv.SetURL("http://elsewhere.example")
		defer f.srv.SetURL(f.client.scheme + "://" + f.client.host)
		r := f.invoke(t, "hunt_ip", map[string]any{"ip": "100.64.0.1", "max_results": 500})
		if r.OK() || !strings.Contains(r.Message, "refusing to follow the next link to http://elsewhere.example") {
			t.Errorf("got %s %q, want a refusal of the foreign next link", r.Status, r.Message)
		}
		if got := f.srv.RequestCount(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
}

func TestOwnersAndConnectivity(t *testing.T) {
	for _, base := range []string{"", "/api", "/api/"} {
		t.Run("base"+base, func(t *testing.T) {
			f := newFixture(t, tcfake.Options{}, nil)
			if base != "" {
				f = newFixture(t, tcfake.Options{}, map[string]any{})
				a, err := providers.OpenAsset("tc", Provider(), map[string]any{
					"base_url": f.srv.URL + base, "access_id": tcfake.DefaultAccessID, "secret_key": testSecret})
				if err != nil {
					t.Fatal(err)
				}
				f.asset = a
			}
			r := f.invoke(t, "test_connectivity", nil)
			if !r.OK() || r.Message != "Test Connectivity Passed" {
				t.Errorf("test_connectivity = %s %q", r.Status, r.Message)
			}
			r = f.invoke(t, "list_owners", nil)
			if !r.OK() || r.Message != "List owners succeeded" {
				t.Fatalf("list_owners = %s %q", r.Status, r.Message)
			}
			if r.Summary["num_owners"] != int64(2) {
				t.Errorf("num_owners = %v, want 2", r.Summary["num_owners"])
			}
			env := roundTrip(t, r.Data[0]).(map[string]any)
			owners := env["data"].([]any)
			if len(owners) != 2 || owners[0].(map[string]any)["id"] != json.Number(strconv.FormatInt(tcfake.SeedOwnerID, 10)) {
				t.Errorf("owners = %v", owners)
			}
			// test_connectivity sends the app's request as is; list_owners
			// asks for the count, which TC sends only with count=true.
			prefix := "/v3"
			if base != "" {
				prefix = "/api/v3"
			}
			reqs := f.srv.Requests()
			want := []string{prefix + "/security/owners", prefix + "/security/owners?count=true"}
			if len(reqs) != len(want) {
				t.Fatalf("%d requests, want %d", len(reqs), len(want))
			}
			for i, req := range reqs {
				if req.RequestURI != want[i] {
					t.Errorf("request %d: %s, want %s", i, req.RequestURI, want[i])
				}
			}
		})
	}
}

func TestPostDataCreatesThenUpdates(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	params := map[string]any{"primary_field": "198.18.0.7", "rating": 3, "confidence": 50,
		"attribute_name": "Description", "attribute_value": "seen in phishing", "tag": "phishing"}
	for i, want := range []string{"Created", "Updated"} {
		if i == 1 {
			params["rating"] = "0" // a given 0 is sent
		}
		r := f.invoke(t, "post_data", params)
		if !r.OK() || r.Message != "Data successfully posted to ThreatConnect" {
			t.Fatalf("post_data #%d = %s %q", i+1, r.Status, r.Message)
		}
		env := roundTrip(t, r.Data[0]).(map[string]any)
		if env["message"] != want {
			t.Errorf("post_data #%d: data[0].message = %v, want %s", i+1, env["message"], want)
		}
		wantSummary := map[string]any{"total_objects": 1, "indicator_created/updated": true, "attribute_added": true}
		if fmt.Sprint(r.Summary) != fmt.Sprint(wantSummary) {
			t.Errorf("post_data #%d: summary = %v, want %v", i+1, r.Summary, wantSummary)
		}
	}
	ind, ok := f.srv.Find("Address", "198.18.0.7")
	if !ok || ind.Rating == nil || *ind.Rating != 0 || ind.Confidence == nil || *ind.Confidence != 50 || len(ind.Tags) != 1 {
		t.Errorf("stored indicator = %+v, want rating 0, confidence 50 and one tag", ind)
	}
	if n := len(f.srv.Indicators()); n == 0 {
		t.Fatal("no indicators stored")
	}
	count := 0
	for _, ind := range f.srv.Indicators() {
		if ind.Summary == "198.18.0.7" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d indicators 198.18.0.7 stored, want 1 (update, not a second create)", count)
	}
}

// TestPostDataGolden compares the bytes post_data sends with
// testdata/post_data/<case>.golden.json. Run with -update to rewrite them.
func TestPostDataGolden(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
	}{
		{"ip", map[string]any{"primary_field": "1.2.3.4", "rating": 3}},
		{"ip_zero_rating_confidence", map[string]any{"primary_field": "1.2.3.4", "rating": 0, "confidence": 0}},
		{"ipv6", map[string]any{"primary_field": "2001:db8::1", "confidence": 80, "tag": "ipv6"}},
		{"email", map[string]any{"primary_field": "phisher@example.com", "attribute_name": "Source", "attribute_value": "user report"}},
		{"md5", map[string]any{"primary_field": "AAA0985A485969F70C0B414EF328DBBB", "size": 1024}},
		{"sha1", map[string]any{"primary_field": "aaa1c4d2e3f405162738495a6b7c8d9eaf0b1bbb", "security_label": "TLP:AMBER"}},
		{"sha256", map[string]any{"primary_field": "AAAA30BA2F79F45ED475BA35205D6332ABF201830A4979355C53C66F3220BBBB", "rating": 4.5, "dns_active": true}},
		{"hashes", map[string]any{"primary_field": "AAA0985A485969F70C0B414EF328DCCC; AAA1C4D2E3F405162738495A6B7C8D9EAF0B1CCC,AAAA30BA2F79F45ED475BA35205D6332ABF201830A4979355C53C66F3220CCCC, AAA0985A485969F70C0B414EF328DDDD", "size": 2048, "tag": "dropper"}},
		{"url", map[string]any{"primary_field": "https://evil.example/login?a=1&b=<2>", "rating": 5, "confidence": 100, "tag": "phishing", "security_label": "TLP:RED"}},
		{"host", map[string]any{"primary_field": "evil.example", "dns_active": true, "whois_active": false, "size": 10}},
		{"host_all_fields", map[string]any{"primary_field": "bad.example", "rating": 2, "confidence": 60, "attribute_name": "Description", "attribute_value": "C2 \"panel\"",
			"tag": "c2", "security_label": "TLP:GREEN", "dns_active": false, "whois_active": true}},
		{"attribute_name_only", map[string]any{"primary_field": "5.6.7.8", "attribute_name": "Description"}},
	}
	f := newFixture(t, tcfake.Options{}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ResetRequests()
			r := f.invoke(t, "post_data", tt.params)
			if !r.OK() {
				t.Fatalf("post_data failed: %s", r.Message)
			}
			reqs := f.srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if req.Method != "POST" || req.RequestURI != "/v3/indicators?fields=securityLabels&fields=tags&fields=attributes" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request = %s %s (Content-Type %q)", req.Method, req.RequestURI, req.Header.Get("Content-Type"))
			}
			golden := filepath.Join("testdata", "post_data", tt.name+".golden.json")
			if updateGoldenFiles() {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(req.Body, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run PostDataGolden -update to create it)", err)
			}
			if got := string(req.Body) + "\n"; got != string(want) {
				t.Errorf("body sent:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}
