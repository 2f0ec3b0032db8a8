package threatconnect

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden tests share the package's -update flag with the other golden
// tests here; whichever file registers it first wins, so neither depends on
// the other being present.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata from the current output")
	}
}

func updateGoldenFiles() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	v, _ := g.Get().(bool)
	return v
}

// TestMapIndicatorGolden maps each testdata/cef/<case>.json, an indicator as
// the v3 API returns it with tags, attributes and threatAssess, and compares
// the container with <case>.golden.json. Run with -update to rewrite the
// golden files, then review the diff.
func TestMapIndicatorGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "cef", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c, err := MapIndicator(raw)
			if err != nil {
				t.Fatalf("MapIndicator: %v", err)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(in, ".json") + ".golden.json"
			if updateGoldenFiles() {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run MapIndicatorGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("container differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
	if n < 30 {
		t.Errorf("found %d cases under testdata/cef, want every row of the mapping table and the bad-data cases", n)
	}
}

// TestMapIndicatorFacts pins the facts the golden files rest on, so that a
// careless -update cannot bless a regression in them.
func TestMapIndicatorFacts(t *testing.T) {
	load := func(t *testing.T, name string) map[string]any {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("testdata", "cef", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := MapIndicator(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Artifacts) != 1 {
			t.Fatalf("%d artifacts, want 1", len(c.Artifacts))
		}
		a := c.Artifacts[0]
		if c.Label != "threatconnect" || c.Severity != "medium" || a.Label != "event" || a.SourceDataIdentifier != c.SourceDataIdentifier {
			t.Errorf("fixed fields wrong: %+v", c)
		}
		m := map[string]any{"sdi": c.SourceDataIdentifier, "name": a.Name, "type": a.Type}
		for k, v := range a.CEF {
			m[k] = v
		}
		for k, v := range a.CEFTypes {
			m["types."+k] = strings.Join(v, ",")
		}
		return m
	}
	cases := []struct {
		file string
		want map[string]any
		none []string
	}{
		{"big_id", map[string]any{"sdi": "9007199254740993"}, nil},
		{"address_v4", map[string]any{"name": "IP Artifact", "deviceAddress": "123.23.124.32", "types.deviceAddress": "ip",
			"rating": 3.0, "confidence": 23.0, "threatAssessRating": 2.5, "threatAssessConfidence": 40.0}, nil},
		{"address_v6", map[string]any{"deviceCustomIPv6Address1": "2001:db8::1", "types.deviceCustomIPv6Address1": "ipv6"}, []string{"deviceAddress"}},
		{"date_offset", map[string]any{"deviceCustomDate1": "2025-03-08T09:35:46Z", "deviceCustomDate1Label": "Date Created",
			"deviceCustomDate2": "2025-03-09T04:30:00Z", "deviceCustomDate2Label": "Last Modified"}, nil},
		{"missing_date_added", map[string]any{"deviceAddress": "203.0.113.10"}, []string{"deviceCustomDate1", "deviceCustomDate1Label"}},
		{"rating_confidence_zero", map[string]any{"rating": 0.0, "confidence": 0.0, "threatAssessRating": 0.0}, []string{"threatAssessConfidence"}},
		{"rating_confidence_absent", nil, []string{"rating", "confidence", "threatAssessRating", "threatAssessConfidence"}},
		{"file_all_hashes", map[string]any{"fileHash": "AAA0985A485969F70C0B414EF328DAAA", "types.fileHash": "md5",
			"fileHashSha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", "types.fileHashSha1": "sha1"}, nil},
		{"file_summary_only", map[string]any{"fileHash": "3F786850E387550FDAB836ED7E6DC881DE23001B", "types.fileHash": "sha1"}, []string{"fileHashMd5"}},
		{"cidr_v4_host_bits", map[string]any{"deviceAddress": "192.168.10.0", "cidrPrefix": "24", "cidr": "192.168.10.77/24", "types.cidr": "CIDR"}, nil},
		{"cidr_v6", map[string]any{"deviceAddress": "2001:db8::", "cidrPrefix": "32", "types.deviceAddress": "ipv6"}, nil},
		{"registry_key_no_value_name", map[string]any{"registryKey": `HKEY_CURRENT_USER\Software\Evil`, "registryType": "REG_DWORD"}, []string{"registryValue"}},
		{"registry_key_missing_parts", map[string]any{"registryKey": `HKEY_CURRENT_USER\Software\Evil\Persist`}, []string{"registryValue", "registryType"}},
		{"registry_key_malformed", map[string]any{"name": "Registry Key Artifact", "cn1": ": Updater : REG_SZ", "cn1Label": "Registry Key"}, []string{"registryKey"}},
		{"unknown_type", map[string]any{"name": "Hashtag Artifact", "type": "Hashtag", "cn1": "#evilcampaign", "cn1Label": "Hashtag"}, nil},
		{"address_not_ip", map[string]any{"name": "Address Artifact", "cn1": "not-an-ip.example.com", "cn1Label": "Address"}, []string{"deviceAddress"}},
		{"type_field_wrong_json_type", map[string]any{"deviceAddress": "192.0.2.2"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got := load(t, tc.file)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
			for _, k := range tc.none {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %#v, want it absent", k, v)
				}
			}
		})
	}
}

func TestMapIndicatorRejects(t *testing.T) {
	cases := []struct {
		name, raw, want string
	}{
		{"not json", `{"id":`, "not a JSON object"},
		{"array", `[1,2]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"no id", `{"type":"Address","summary":"1.2.3.4"}`, "no id"},
		{"null id", `{"id":null,"type":"Address","summary":"1.2.3.4"}`, "no id"},
		{"fractional id", `{"id":1.5,"type":"Address","summary":"1.2.3.4"}`, `id "1.5" is not a positive integer`},
		{"negative id", `{"id":-4,"type":"Address","summary":"1.2.3.4"}`, "not a positive integer"},
		{"id beyond int64", `{"id":99999999999999999999,"type":"Address","summary":"1.2.3.4"}`, "not a positive integer"},
		{"no type", `{"id":1111799822086111,"summary":"1.2.3.4"}`, "map indicator 1111799822086111: no type"},
		{"no value", `{"id":1111799822086112,"type":"Address"}`, "map indicator 1111799822086112: Address indicator has no summary or value"},
		{"custom without value", `{"id":1111799822086113,"type":"Email Subject","summary":"  "}`, "1111799822086113"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MapIndicator(json.RawMessage(tc.raw))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "skipping it") {
				t.Errorf("error %q, want it to contain %q and say the indicator is skipped", err, tc.want)
			}
		})
	}
}

// TestMapIndicatorQuotedID accepts an id sent as a JSON string, which some
// proxies in front of TC produce, without losing precision.
func TestMapIndicatorQuotedID(t *testing.T) {
	c, err := MapIndicator(json.RawMessage(`{"id":"11111797252348111","type":"Host","summary":"a.example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceDataIdentifier != "11111797252348111" {
		t.Errorf("sdi = %q", c.SourceDataIdentifier)
	}
}

func FuzzMapIndicator(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "cef", "*.json"))
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		if raw, err := os.ReadFile(in); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte(`{"id":1,"type":"CIDR","summary":"::ffff:1.2.3.4/120"}`))
	f.Add([]byte(`{"id":1,"type":"Registry Key","summary":" :  : "}`))
	f.Add([]byte(`{"id":1,"type":"File","summary":" : : ","rating":"NaN"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := MapIndicator(raw)
		if err != nil {
			return
		}
		if c.SourceDataIdentifier == "" || c.Name == "" || len(c.Artifacts) != 1 {
			t.Fatalf("incomplete container: %+v", c)
		}
		a := c.Artifacts[0]
		if a.Name == "" || a.Type == "" || len(a.CEF) == 0 {
			t.Fatalf("incomplete artifact: %+v", a)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("mapped container does not validate: %v", err)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("mapped container does not encode: %v", err)
		}
	})
}

// TestMapIndicatorValueFromField covers indicators without a summary, whose
// value only sits in the type's own field.
func TestMapIndicatorValueFromField(t *testing.T) {
	cases := []struct {
		raw, key, want string
	}{
		{`{"id":1,"type":"Address","ip":"192.0.2.9"}`, "deviceAddress", "192.0.2.9"},
		{`{"id":2,"type":"Email Subject","Email Subject":"Invoice overdue"}`, "cn1", "Invoice overdue"},
		{`{"id":3,"type":"CIDR","Block":"198.51.100.0/24"}`, "cidr", "198.51.100.0/24"},
		{`{"id":4,"type":"Registry Key","Key Name":"HKLM\\Run","Value Type":"REG_SZ"}`, "registryKey", `HKLM\Run`},
		{`{"id":5,"type":"ASN","AS Number":"ASN204288"}`, "asn", "ASN204288"},
	}
	for _, tc := range cases {
		c, err := MapIndicator(json.RawMessage(tc.raw))
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got := c.Artifacts[0].CEF[tc.key]; got != tc.want || c.Name != tc.want {
			t.Errorf("%s: %s = %v, name %q; want %q for both", tc.raw, tc.key, got, c.Name, tc.want)
		}
	}
}
