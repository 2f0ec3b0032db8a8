package tqfake_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// FuzzCompileQuery checks that no query body, however malformed, makes the
// compiler or a compiled query panic.
func FuzzCompileQuery(f *testing.F) {
	for _, seed := range []string{
		`{"criteria":{"value":"foo@demisto.com"},"filters":{"type_name":"Email Address"}}`,
		`{"criteria":{"value":{"+contains":"example.com"}},"filters":{"+and":[{"type_name":"FQDN"},{"status_name":"Active"},{"score":{"+gte":6}}]}}`,
		`{"filters":{"+and":[{"created_at":{"+lt":"2021-01-27 22:35:00"}},{"+or":[{"score":{"+gte":6,"+lte":8}}]}]}}`,
		`{"filters":{"+or":[{"attribute":{"name":"Confidence","value":"High"}},{"related":{"id":1}}]}}`,
		`{"criteria":[],"filters":{"value":[1,"x",null,true]}}`,
	} {
		f.Add([]byte(seed))
	}
	sample := tqfake.GenerateIndicators(5)
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil {
			return
		}
		q, err := tqfake.CompileQuery(doc["criteria"], doc["filters"], time.Unix(1700000000, 0))
		if err != nil {
			return
		}
		for _, ind := range sample {
			q.Match(ind)
		}
	})
}
