package server

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

// stdJSON is the answer writeJSON gives for v.
func stdJSON(t testing.TB, v any) (string, bool) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return buf.String(), true
}

// handRun is appendRun's answer, as writeRun sends it.
func handRun(r *store.Run) (string, bool) {
	b, ok := appendRun(nil, r)
	return string(append(b, '\n')), ok
}

var awkward = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<html> & 'amp'", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate",
}

func randString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return awkward[rng.IntN(len(awkward))]
	}
	var b strings.Builder
	for range rng.IntN(12) {
		if rng.IntN(2) == 0 {
			b.WriteString(awkward[rng.IntN(len(awkward))])
		} else {
			b.WriteByte(byte(rng.IntN(256)))
		}
	}
	return b.String()
}

var floats = []float64{0, math.Copysign(0, -1), 1, -1, 3.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789e15, -2.5e-10, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3}

func randFloat(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return floats[rng.IntN(len(floats))]
	}
	return (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(60)-30))
}

func randValue(rng *rand.Rand, depth int) any {
	n := 7
	if depth > 2 {
		n = 5 // no more containers
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return randString(rng)
	case 2:
		return rng.IntN(2) == 0
	case 3:
		return randFloat(rng)
	case 4:
		return []any{json.Number("12"), json.Number("-0.5e3"), 7, int64(-9)}[rng.IntN(4)]
	case 5:
		m := map[string]any{}
		for range rng.IntN(5) {
			m[randString(rng)] = randValue(rng, depth+1)
		}
		return m
	default:
		l := make([]any, rng.IntN(4))
		for i := range l {
			l[i] = randValue(rng, depth+1)
		}
		return l
	}
}

// randRaw is a compact JSON text, as the runner writes a step's parts.
func randRaw(rng *rand.Rand) json.RawMessage {
	if rng.IntN(5) == 0 {
		return nil
	}
	b, err := json.Marshal(randValue(rng, 0))
	if err != nil {
		panic(err)
	}
	return b
}

func randTime(rng *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
	if rng.IntN(4) == 0 {
		t = t.Truncate(time.Second)
	}
	return t
}

func randRun(rng *rand.Rand) *store.Run {
	r := &store.Run{
		ID: rng.Int64N(1 << 40), Playbook: randString(rng), Version: randString(rng), Trigger: randString(rng),
		Status: randString(rng), Error: randString(rng), Started: randTime(rng),
	}
	if rng.IntN(4) > 0 {
		r.Inputs = map[string]any{}
		for range rng.IntN(4) {
			r.Inputs[randString(rng)] = randValue(rng, 1)
		}
	}
	r.Result = randValue(rng, 0)
	if rng.IntN(4) > 0 {
		r.Steps = []store.Step{}
	}
	for range rng.IntN(4) {
		st := store.Step{Asset: randString(rng), Action: randString(rng), Status: randString(rng),
			Message: randString(rng), DurationMS: math.Abs(randFloat(rng)), Params: randRaw(rng)}
		if rng.IntN(3) > 0 {
			st.Started = randTime(rng)
		}
		if rng.IntN(4) > 0 {
			st.Result = &store.StepResult{Status: randString(rng), Message: randString(rng), Summary: randRaw(rng), Data: randRaw(rng)}
		}
		if rng.IntN(4) == 0 {
			st.Truncated = &store.Truncation{Bytes: rng.IntN(1 << 20), Limit: rng.IntN(1 << 16)}
			if rng.IntN(2) == 0 {
				st.Truncated.Omitted = []string{"params", randString(rng)}
			}
		}
		r.Steps = append(r.Steps, st)
	}
	if rng.IntN(2) == 0 {
		fin := randTime(rng)
		r.Finished = &fin
	}
	if rng.IntN(3) == 0 {
		r.ContainerID = rng.Int64N(1000)
	}
	for range rng.IntN(4) {
		r.Log = append(r.Log, store.LogLine{Time: randTime(rng), Level: randString(rng), Message: randString(rng), Fields: randRaw(rng)})
	}
	return r
}

// TestRunRecordEncodingMatchesEncodingJSON checks the hand-written run
// record encoder against encoding/json, byte for byte, on random records
// with every awkward string, number and time, and that a record JSON
// cannot hold (NaN) is left to encoding/json.
func TestRunRecordEncodingMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for i := range 3000 {
		r := randRun(rng)
		want, wok := stdJSON(t, r)
		got, ok := handRun(r)
		if !ok {
			t.Fatalf("record %d: the hand encoder left an encodable record to encoding/json: %s", i, want)
		}
		if !wok {
			t.Fatalf("record %d: encoding/json refuses it, the hand encoder wrote %s", i, got)
		}
		if got != want {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), map[string]any{"x": []any{math.Inf(-1)}}, json.Number("1x"), struct{ A int }{1}} {
		r := &store.Run{Result: bad}
		if got, ok := handRun(r); ok {
			if want, _ := stdJSON(t, r); got != want {
				t.Fatalf("result %v: got %s, want %s", bad, got, want)
			}
		}
	}
}

// TestWriteRunAnswer checks the answer writeRun gives: encoding/json's
// bytes with a Content-Length, and writeJSON's answer for a record the
// hand encoder leaves to it.
func TestWriteRunAnswer(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		r := randRun(rng)
		w := httptest.NewRecorder()
		writeRun(w, 200, r)
		want, _ := stdJSON(t, r)
		if w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("got %s %v, want %s", w.Body, w.Header(), want)
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(want)) {
			t.Fatalf("Content-Length %s for %d bytes", cl, len(want))
		}
	}
	w := httptest.NewRecorder()
	writeRun(w, 200, &store.Run{Result: math.NaN()})
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("a NaN result: %d %q, want writeJSON's answer: 200 and no body", w.Code, w.Body)
	}
}

func FuzzRunRecordEncoding(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(99), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := randRun(rand.New(rand.NewPCG(a, b)))
		want, wok := stdJSON(t, r)
		if got, ok := handRun(r); ok && (!wok || got != want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkWriteRun(b *testing.B) {
	r := randRun(rand.New(rand.NewPCG(3, 4)))
	for len(r.Steps) < 3 {
		r = randRun(rand.New(rand.NewPCG(uint64(len(r.Steps)), 5)))
	}
	for _, c := range []struct {
		name  string
		write func(w *httptest.ResponseRecorder)
	}{
		{"encoding-json", func(w *httptest.ResponseRecorder) { writeJSON(w, 200, r) }},
		{"hand", func(w *httptest.ResponseRecorder) { writeRun(w, 200, r) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := httptest.NewRecorder()
			for b.Loop() {
				w.Body.Reset()
				c.write(w)
			}
		})
	}
}
