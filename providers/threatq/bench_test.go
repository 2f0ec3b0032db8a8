package threatq

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// benchQuery is a realistic nested query: a +contains criterion and a
// type/score filter, one page of 25 with embedded types.
func benchQuery() map[string]any {
	return map[string]any{
		"criteria": map[string]any{"+or": []any{
			map[string]any{"value": map[string]any{"+contains": "example"}},
			map[string]any{"value": map[string]any{"+contains": tqfake.SeedSearchTerm}},
		}},
		"filters": map[string]any{"+and": []any{
			map[string]any{"+or": []any{map[string]any{"type_name": "FQDN"}, map[string]any{"type_name": "URL"}}},
			map[string]any{"score": map[string]any{"+gte": 3, "+lte": 9}},
		}},
		"fields": []any{"*", "score"},
		"limit":  25,
		"with":   "type",
	}
}

func newBenchFixture(b *testing.B) *fixture {
	f := newFixture(b, tqfake.Options{}, nil)
	f.fake.AddIndicators(tqfake.GenerateIndicators(1000))
	res := f.invoke(b, "indicators_query", benchQuery())
	mustSucceed(b, res)
	if res.Summary["total"].(int64) == 0 {
		b.Fatal("the benchmark query matches nothing")
	}
	// A production logger runs at Info, where the per-request debug lines
	// cost one level check.
	f.env.Log = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return f
}

// BenchmarkIndicatorsQuery measures one indicators_query action end to end
// against tqfake over loopback HTTP: validation, the cached token, the
// request, decoding and the result.
func BenchmarkIndicatorsQuery(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		f := newBenchFixture(b)
		params := benchQuery()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			res, err := f.asset.Invoke(b.Context(), "indicators_query", params, f.env)
			if err != nil || !res.OK() {
				b.Fatalf("query failed: %v %v", err, res)
			}
		}
	})
	b.Run("parallel8", func(b *testing.B) {
		f := newBenchFixture(b)
		params := benchQuery()
		b.ReportAllocs()
		b.ResetTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					res, err := f.asset.Invoke(b.Context(), "indicators_query", params, f.env)
					if err != nil || !res.OK() {
						b.Errorf("query failed: %v %v", err, res)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
