package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// encodingJSON returns what encoding/json writes for v with HTML escaping
// off, the form every caller of this package promises.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var stringSeeds = []string{
	"", "plain", `"quoted" \back\slash`, "<a href='x'>&amp;</a>",
	"\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f", "caf\u00e9 \U0001F600",
	"line\u2028sep\u2029para", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate",
	strings.Repeat("long text ", 50),
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := slices.Clone(stringSeeds)
	for c := 0; c < 256; c++ {
		cases = append(cases, "x"+string(rune(c))+string([]byte{byte(c)})+"y")
	}
	for _, s := range cases {
		got := AppendString([]byte("prefix"), s)
		want := append([]byte("prefix"), encodingJSON(t, s)...)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if Plain(s) && !bytes.Equal(got[len("prefix"):], []byte(`"`+s+`"`)) {
			t.Errorf("Plain(%q) but AppendString wrote %s", s, got)
		}
	}
}

func TestAppendStringLeavesHTMLAlone(t *testing.T) {
	if got := string(AppendString(nil, "<&>")); got != `"<&>"` {
		t.Fatalf("AppendString(<&>) = %s, want the characters unescaped", got)
	}
}

var floatSeeds = []float64{
	0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e20, 1e21, -1e21, 1e-6, 1e-7, 9.999e-7,
	123456.789, 3.0e-300, 5e-324, 1.7976931348623157e308, 1 << 53, 12345678901234567890,
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, x := range floatSeeds {
		got, ok := AppendFloat([]byte("p"), x)
		want := append([]byte("p"), encodingJSON(t, x)...)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("AppendFloat(%v) = %s, %v; encoding/json %s", x, got, ok, want)
		}
	}
}

func TestAppendFloatRefusesNaNAndInfinity(t *testing.T) {
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, ok := AppendFloat([]byte("p"), x)
		if ok || string(got) != "p" {
			t.Errorf("AppendFloat(%v) = %q, %v; want b unchanged and false", x, got, ok)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if Plain(s) && string(got) != `"`+s+`"` {
			t.Fatalf("Plain(%q) but AppendString wrote %s", s, got)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range floatSeeds {
		f.Add(math.Float64bits(x))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		got, ok := AppendFloat(nil, x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if ok || len(got) != 0 {
				t.Fatalf("AppendFloat(%v) = %q, %v; want nothing and false", x, got, ok)
			}
			return
		}
		if want := encodingJSON(t, x); !ok || !bytes.Equal(got, want) {
			t.Fatalf("AppendFloat(%v) = %s, %v; encoding/json %s", x, got, ok, want)
		}
	})
}

func TestAppendTimeMatchesEncodingJSON(t *testing.T) {
	zone := time.FixedZone("", -7*3600-30*60)
	for _, tm := range []time.Time{
		{}, time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC), time.Date(2025, 3, 8, 9, 35, 46, 123456789, time.UTC),
		time.Date(2025, 3, 8, 9, 35, 46, 120000000, zone), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, ok := AppendTime([]byte("p"), tm)
		want := append([]byte("p"), encodingJSON(t, tm)...)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("AppendTime(%v) = %s, %v; encoding/json %s", tm, got, ok, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := json.Marshal(tm); err == nil {
			t.Fatalf("encoding/json accepts %v; AppendTime must too", tm)
		}
		if got, ok := AppendTime([]byte("p"), tm); ok || string(got) != "p" {
			t.Errorf("AppendTime(%v) = %q, %v; want b unchanged and false, as encoding/json refuses it", tm, got, ok)
		}
	}
}
