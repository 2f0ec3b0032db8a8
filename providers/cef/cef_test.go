package cef_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

func TestContainerJSONShape(t *testing.T) {
	c := cef.Container{
		ID: 7, Asset: "tc", Name: "1.2.3.4", Label: "threatconnect", Severity: "medium", Status: "new",
		Description: "d", SourceDataIdentifier: "42", Created: time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC),
		Artifacts: []cef.Artifact{{
			ID: 9, Name: "IP Artifact", Label: "event", Type: "Address", SourceDataIdentifier: "42",
			CEF: map[string]any{"deviceAddress": "1.2.3.4"}, CEFTypes: map[string][]string{"deviceAddress": {"ip"}},
		}},
	}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"artifacts", "asset", "created", "description", "id", "label", "name", "severity", "source_data_identifier", "status"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("container keys = %v, want %v", keys, want)
	}
	var arts []map[string]json.RawMessage
	if err := json.Unmarshal(got["artifacts"], &arts); err != nil {
		t.Fatal(err)
	}
	wantArt := []string{"cef", "cef_types", "id", "label", "name", "source_data_identifier", "type"}
	if keys := slices.Sorted(maps.Keys(arts[0])); !slices.Equal(keys, wantArt) {
		t.Errorf("artifact keys = %v, want %v", keys, wantArt)
	}

	// Tags and notes appear once a playbook has added them, and round-trip.
	c.Tags = []string{"triaged"}
	c.Notes = []cef.Note{{Text: "looked at it", Created: c.Created}}
	raw, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back cef.Container
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Tags, c.Tags) || !reflect.DeepEqual(back.Notes, c.Notes) {
		t.Errorf("round trip lost tags or notes: %+v", back)
	}
}

func TestCheckSeverityAndStatus(t *testing.T) {
	for _, s := range []string{"low", "medium", "high"} {
		if err := cef.CheckSeverity(s); err != nil {
			t.Errorf("CheckSeverity(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"new", "open", "closed"} {
		if err := cef.CheckStatus(s); err != nil {
			t.Errorf("CheckStatus(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "Medium", "critical"} {
		err := cef.CheckSeverity(s)
		if err == nil || !strings.Contains(err.Error(), "low, medium, high") {
			t.Errorf("CheckSeverity(%q) = %v, want an error listing the choices", s, err)
		}
	}
	for _, s := range []string{"", "resolved"} {
		if err := cef.CheckStatus(s); err == nil {
			t.Errorf("CheckStatus(%q) accepted", s)
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() cef.Container {
		return cef.Container{Name: "x", Severity: "low", Status: "open", SourceDataIdentifier: "1",
			Artifacts: []cef.Artifact{{Name: "IP Artifact"}}}
	}
	c := good()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid container rejected: %v", err)
	}
	cases := map[string]func(*cef.Container){
		"no sdi":           func(c *cef.Container) { c.SourceDataIdentifier = "" },
		"bad severity":     func(c *cef.Container) { c.Severity = "urgent" },
		"bad status":       func(c *cef.Container) { c.Status = "done" },
		"unnamed artifact": func(c *cef.Container) { c.Artifacts[0].Name = "" },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			c := good()
			breakIt(&c)
			if err := c.Validate(); err == nil {
				t.Error("invalid container accepted")
			}
		})
	}
}

func TestFieldCatalogue(t *testing.T) {
	known := map[string]bool{
		cef.ContainsIP: true, cef.ContainsIPv6: true, cef.ContainsEmail: true, cef.ContainsMD5: true,
		cef.ContainsSHA1: true, cef.ContainsSHA256: true, cef.ContainsHash: true, cef.ContainsDomain: true,
		cef.ContainsURL: true, cef.ContainsCIDR: true,
	}
	seen := map[string]bool{}
	for _, f := range cef.Fields() {
		if seen[f.Name] {
			t.Errorf("field %s listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Doc == "" {
			t.Errorf("field %s has no doc", f.Name)
		}
		for _, c := range f.Contains {
			if !known[c] {
				t.Errorf("field %s: unknown contains type %q", f.Name, c)
			}
		}
	}
	f, ok := cef.LookupField(cef.FileHashMd5)
	if !ok || !slices.Equal(f.Contains, []string{"md5"}) {
		t.Errorf("LookupField(fileHashMd5) = %+v, %v", f, ok)
	}
	f.Contains[0] = "changed"
	if again, _ := cef.LookupField(cef.FileHashMd5); again.Contains[0] != "md5" {
		t.Error("LookupField returned shared storage")
	}
	if _, ok := cef.LookupField("nope"); ok {
		t.Error("LookupField found an unknown key")
	}
}

func ExampleCheckSeverity() {
	fmt.Println(cef.CheckSeverity("high"))
	fmt.Println(cef.CheckSeverity("critical"))
	// Output:
	// <nil>
	// cef: invalid severity "critical": use one of low, medium, high
}
