package runner

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/providers"
)

// TestStepTruncationKeepsTheDataItemsThatFit cuts a list of items: the
// first ones stay whole, and the note says from which index on the rest
// were left out.
func TestStepTruncationKeepsTheDataItemsThatFit(t *testing.T) {
	r := New(Options{StepBytes: 2 << 10})
	var data []any
	for i := range 40 {
		data = append(data, map[string]any{"i": int64(i), "pad": strings.Repeat("x", 90)})
	}
	st := r.stepRecord(lua.Step{
		Asset: "tc", Action: "list", Status: "success", Message: "40 items", Duration: time.Millisecond,
		Params: map[string]any{"limit": int64(40)},
		Result: &providers.Result{Status: "success", Message: "40 items", Summary: map[string]any{"total": int64(40)}, Data: data},
	})
	tr := st.Truncated
	if tr == nil || tr.Limit != 2<<10 || len(tr.Omitted) != 1 || !strings.HasPrefix(tr.Omitted[0], "data[") {
		t.Fatalf("truncation %+v", tr)
	}
	var kept []map[string]any
	if err := json.Unmarshal(st.Result.Data, &kept); err != nil {
		t.Fatalf("kept data is not JSON: %v: %s", err, st.Result.Data)
	}
	if len(kept) == 0 || len(kept) >= 40 || tr.Omitted[0] != "data["+itoa(len(kept))+":]" {
		t.Errorf("kept %d items, note %q", len(kept), tr.Omitted[0])
	}
	for i, item := range kept {
		if item["i"] != float64(i) {
			t.Errorf("item %d is %v", i, item["i"])
		}
	}
	size := len(st.Message) + len(st.Params) + len(st.Result.Summary) + len(st.Result.Data)
	if size > 2<<10 || string(st.Params) != `{"limit":40}` || string(st.Result.Summary) != `{"total":40}` {
		t.Errorf("kept %d bytes: params %s summary %s", size, st.Params, st.Result.Summary)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// FuzzRecordEncoderMatchesEncodingJSON: whatever JSON an action returns,
// the record's encoder writes valid JSON that decodes to the same value as
// encoding/json's, with secrets redacted.
func FuzzRecordEncoderMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-7,1e21,true,null,"x\u2028y"]}`, `"<&>\"\\\n\t\u0001"`, `[{"k":{"n":12345678901234567890}}]`, `"caf\u00e9 \ud83d\ude00"`, `0.000001`, `{"SECRETX":"SECRETX"}`, `{"a":"xSECRETX\"q","n":12345}`, `["SECRETX\u2028", "caf\u00e9SECRETX"]`} {
		f.Add([]byte(s))
	}
	redact := logx.NewRedactor("SECRETX")
	f.Fuzz(func(t *testing.T, doc []byte) {
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return
		}
		e := recordEncoder{redact: redact}
		parts, _ := e.encode(v)
		out := parts[0]
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, doc)
		}
		if bytes.Contains(out, []byte("SECRETX")) {
			t.Fatalf("secret in %q", out)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		json.Unmarshal(out, &a)
		json.Unmarshal([]byte(redact.String(string(want))), &b)
		if !bytes.Contains(want, []byte("SECRETX")) && !reflect.DeepEqual(a, b) {
			t.Fatalf("encoder wrote %s, encoding/json %s", out, want)
		}
	})
}

// TestRecordEncoderFloatsLikeEncodingJSON compares the text of numbers,
// which DeepEqual of decoded values would not see.
func TestRecordEncoderFloatsLikeEncodingJSON(t *testing.T) {
	for _, x := range []float64{0, 1, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456.789, 3.0e-300, 1.7976931348623157e308} {
		e := recordEncoder{redact: logx.NewRedactor()}
		parts, _ := e.encode(x)
		got := parts[0]
		want, _ := json.Marshal(x)
		if string(got) != string(want) {
			t.Errorf("%v: %s, encoding/json %s", x, got, want)
		}
	}
}
