package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestScore(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  ScoreResult
	}{
		{
			name:  "no data",
			input: `{"indicator": "1.2.3.4"}`,
			want: ScoreResult{Indicator: "1.2.3.4", Verdict: "unknown", Rating: 0, Confidence: 0,
				Reasons: []string{"neither ThreatConnect nor ThreatQ has a rating or score"}},
		},
		{
			name:  "whitelisted wins",
			input: `{"indicator": "8.8.8.8", "tc": {"rating": 5, "confidence": 100}, "tq": {"score": 10, "status": "Whitelisted"}}`,
			want: ScoreResult{Indicator: "8.8.8.8", Verdict: "benign", Rating: 0, Confidence: 90,
				Reasons: []string{"whitelisted in ThreatQ"}},
		},
		{
			name:  "both sources agree on a threat",
			input: `{"indicator": "1.2.3.4", "tc": {"rating": 4.5, "confidence": 60}, "tq": {"score": 9, "status": {"id": 1, "name": "Active"}}}`,
			// rating (0.6*4.5 + 0.8*4.5) / 1.4 = 4.5; confidence 1 - 0.4*0.2 = 0.92.
			want: ScoreResult{Indicator: "1.2.3.4", Verdict: "malicious", Rating: 4.5, Confidence: 92,
				Reasons: []string{"ThreatConnect rating 4.5 at confidence 60", "ThreatQ score 9/10 with status Active"}},
		},
		{
			name:  "weighted mean",
			input: `{"indicator": "evil.example", "tc": {"rating": "1.00", "confidence": 20}, "tq": {"score": 8, "status": "Review"}}`,
			// rating (0.2*1 + 0.5*4) / 0.7 = 3.142...; confidence 1 - 0.8*0.5 = 0.6.
			want: ScoreResult{Indicator: "evil.example", Verdict: "suspicious", Rating: 3.1, Confidence: 60,
				Reasons: []string{"ThreatConnect rating 1 at confidence 20", "ThreatQ score 8/10 with status Review"}},
		},
		{
			name:  "threat tag raises the rating",
			input: `{"indicator": "1.2.3.4", "tc": {"rating": 1, "confidence": 50, "tags": {"data": [{"name": "C2"}]}}}`,
			// rating max(1, 4); confidence 1 - 0.5*0.7 = 0.65.
			want: ScoreResult{Indicator: "1.2.3.4", Verdict: "malicious", Rating: 4, Confidence: 65,
				Reasons: []string{"ThreatConnect rating 1 at confidence 50", `tagged "C2"`}},
		},
		{
			name:  "inactive and expired count less",
			input: `{"indicator": "1.2.3.4", "tc": {"rating": 1, "confidence": 40, "active": false}, "tq": {"score": {"generated_score": 2, "manual_score": null}, "status": "Expired"}}`,
			// weights 0.2 and 0.2; rating 1; confidence 1 - 0.8*0.8 = 0.36.
			want: ScoreResult{Indicator: "1.2.3.4", Verdict: "benign", Rating: 1, Confidence: 36,
				Reasons: []string{"ThreatConnect rating 1 at confidence 40 (inactive, counted at half weight)", "ThreatQ score 2/10 with status Expired"}},
		},
		{
			name:  "low confidence is unknown",
			input: `{"indicator": "1.2.3.4", "tc": {"rating": 0, "confidence": 10}, "tq": null}`,
			want: ScoreResult{Indicator: "1.2.3.4", Verdict: "unknown", Rating: 0, Confidence: 10,
				Reasons: []string{"ThreatConnect rating 0 at confidence 10"}},
		},
		{
			name:  "manual score wins and values are clamped",
			input: `{"indicator": "x", "tq": {"score": {"manual_score": 15, "generated_score": 1}}, "tc": {"threatAssessRating": 9}}`,
			// tc rating 5 at weight 0.5, tq rating 5 at weight 0.5.
			want: ScoreResult{Indicator: "x", Verdict: "malicious", Rating: 5, Confidence: 75,
				Reasons: []string{"ThreatConnect rating 5 at confidence 50", "ThreatQ score 10/10"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := scoreJSON(json.RawMessage(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(ScoreResult); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Score() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestScoreBadInput(t *testing.T) {
	for _, input := range []string{`[]`, `{"tc": {"rating": "high"}}`, `{"tq": {"status": 3}}`, `{"tc": {"tags": 7}}`} {
		if _, err := scoreJSON(json.RawMessage(input)); err == nil {
			t.Errorf("scoreJSON(%s) succeeded, want an error", input)
		}
	}
}

func TestExtract(t *testing.T) {
	text := `Beacon to hxxps://evil[.]example/gate.php?id=1, then 45.33.32[.]156 and 10.0.0.1.
Mail from Mallory.Smith[@]phish[.]example. Payload invoice.pdf dropped, md5 D41D8CD98F00B204E9800998ECF8427E,
sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 and sha256
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855. C2 over 2001:db8::1 at 12:30:45 sharp.
Again: evil.example and 10.0.0.1.`
	got := Extract(text)
	want := Indicators{
		IP:     []string{"45.33.32.156", "10.0.0.1"},
		IPv6:   []string{"2001:db8::1"},
		Domain: []string{"evil.example", "phish.example"},
		URL:    []string{"https://evil.example/gate.php?id=1"},
		Email:  []string{"mallory.smith@phish.example"},
		MD5:    []string{"d41d8cd98f00b204e9800998ecf8427e"},
		SHA1:   []string{"da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		SHA256: []string{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Extract() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestExtractEmpty(t *testing.T) {
	b, err := json.Marshal(Extract("nothing to see here"))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"ip":[],"ipv6":[],"domain":[],"url":[],"email":[],"md5":[],"sha1":[],"sha256":[]}`
	if string(b) != want {
		t.Errorf("Extract(no indicators) = %s, want %s", b, want)
	}
}

func TestDefang(t *testing.T) {
	tests := map[string]string{
		"http://evil.example/a.b":  "hxxp://evil[.]example/a[.]b",
		"https://evil.example":     "hxxps://evil[.]example",
		"1.2.3.4":                  "1[.]2[.]3[.]4",
		"user@evil.example":        "user[@]evil[.]example",
		"hxxp://evil[.]example":    "hxxp://evil[.]example",
		"d41d8cd98f00b204e9800998": "d41d8cd98f00b204e9800998",
	}
	for in, want := range tests {
		if got := Defang(in); got != want {
			t.Errorf("Defang(%q) = %q, want %q", in, got, want)
		}
		if again := Defang(Defang(in)); again != want {
			t.Errorf("Defang is not idempotent on %q: %q", in, again)
		}
		if back := Extract(Defang(in)); strings.Contains(in, "://") && (len(back.URL) != 1 || back.URL[0] != Refang(in)) {
			t.Errorf("Extract(Defang(%q)).URL = %v, want [%s]", in, back.URL, Refang(in))
		}
	}
}
