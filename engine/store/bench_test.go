package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
	"github.com/goshawk/goshawk/providers/threatconnect"
)

// benchBatch is the batch size on_poll commits with.
const benchBatch = 500

// indicatorJSON builds n indicators shaped like a v3 page with
// fields=tags,attributes,threatAssess, cycling through the common types.
func indicatorJSON(n int) []json.RawMessage {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]json.RawMessage, n)
	for i := range out {
		id := int64(11111797252348111) + int64(i)
		date := start.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		var typed string
		switch i % 5 {
		case 0:
			typed = fmt.Sprintf(`"type":"Address","ip":"10.%d.%d.%d","summary":"10.%d.%d.%d"`, i>>16&255, i>>8&255, i&255, i>>16&255, i>>8&255, i&255)
		case 1:
			typed = fmt.Sprintf(`"type":"Host","hostName":"h%d.example.com","summary":"h%d.example.com"`, i, i)
		case 2:
			md5 := fmt.Sprintf("%032x", i)
			typed = fmt.Sprintf(`"type":"File","md5":"%s","summary":"%s"`, md5, md5)
		case 3:
			typed = fmt.Sprintf(`"type":"URL","text":"https://bad.example.com/%d","summary":"https://bad.example.com/%d"`, i, i)
		case 4:
			typed = fmt.Sprintf(`"type":"EmailAddress","address":"u%d@example.com","summary":"u%d@example.com"`, i, i)
		}
		out[i] = json.RawMessage(fmt.Sprintf(`{"id":%d,"ownerId":11111797252348111,"ownerName":"TestUser","dateAdded":%q,"lastModified":%q,%s,`+
			`"rating":3.00,"confidence":23,"description":"seen in the wild","privateFlag":false,"active":true,"activeLocked":false,`+
			`"webLink":"https://app.threatconnect.com/auth/indicators/details/address.xhtml?address=x&owner=TestUser",`+
			`"tags":{"data":[{"id":153676,"name":"testing","lastUsed":%q}]},`+
			`"attributes":{"data":[{"id":%d,"type":"Description","value":"seen in the wild","pinned":false,"default":true,"dateAdded":%q,"lastModified":%q}]},`+
			`"threatAssessRating":2.5,"threatAssessConfidence":40,"threatAssessScore":312,"calScore":155}`,
			id, date, date, typed, date, id, date, date))
	}
	return out
}

func openBench(b *testing.B) (*store.SQLite, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "goshawk.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, path
}

// mapAndIngest maps raw indicators and commits them in on_poll's batches,
// each with a checkpoint, as a poll does.
func mapAndIngest(ctx context.Context, b *testing.B, sink cef.Sink, raw []json.RawMessage) {
	batch := make([]cef.Container, 0, benchBatch)
	for i, r := range raw {
		c, err := threatconnect.MapIndicator(r)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, c)
		if len(batch) == benchBatch || i == len(raw)-1 {
			cp := c.SourceDataIdentifier
			if _, _, err := sink.Ingest(ctx, batch, &cp); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkMapAndIngest measures the ingest path of a poll once the pages
// are fetched: MapIndicator, then Ingest into a file store in batches. One
// op is one indicator.
func BenchmarkMapAndIngest(b *testing.B) {
	raw := indicatorJSON(b.N)
	s, _ := openBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	mapAndIngest(context.Background(), b, s.AssetSink("tc"), raw)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "indicators/s")
}

// BenchmarkMapIndicator measures the mapping alone. One op is one indicator.
func BenchmarkMapIndicator(b *testing.B) {
	raw := indicatorJSON(1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := threatconnect.MapIndicator(raw[i%len(raw)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngest measures the store alone, with containers mapped
// beforehand. One op is one container.
func BenchmarkIngest(b *testing.B) {
	raw := indicatorJSON(b.N)
	cs := make([]cef.Container, len(raw))
	for i, r := range raw {
		var err error
		if cs[i], err = threatconnect.MapIndicator(r); err != nil {
			b.Fatal(err)
		}
	}
	s, _ := openBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(cs); i += benchBatch {
		batch := cs[i:min(i+benchBatch, len(cs))]
		cp := batch[len(batch)-1].SourceDataIdentifier
		if _, _, err := s.Ingest(ctx, "tc", batch, &cp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "containers/s")
}

// BenchmarkStoreSize reports the size of a store file holding 10,000
// containers of one artifact each, after the WAL is folded back on close.
func BenchmarkStoreSize(b *testing.B) {
	raw := indicatorJSON(10000)
	var size int64
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "goshawk.db")
		s, err := store.Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		mapAndIngest(context.Background(), b, s.AssetSink("tc"), raw)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.ReportMetric(float64(size), "bytes/10k-containers")
}
