package threatq_test

import (
	"context"
	"fmt"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatq"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// Search the indicator library with the query language, against the
// emulator. A playbook makes the same call as tq.indicator_search{...}.
func Example() {
	fake := tqfake.New(tqfake.Options{})
	defer fake.Close()

	asset, err := providers.OpenAsset("tq", threatq.Provider(), map[string]any{
		"url":       fake.URL,
		"email":     tqfake.DefaultEmail,
		"password":  tqfake.DefaultPassword,
		"client_id": tqfake.DefaultClientID,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer asset.Close()

	res, err := asset.Invoke(context.Background(), "indicator_search", map[string]any{
		"criteria": map[string]any{"value": map[string]any{"+contains": "test.com"}},
		"filters":  map[string]any{"type_name": "FQDN"},
	}, providers.Env{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Message)

	res, _ = asset.Invoke(context.Background(), "indicator_search", map[string]any{
		"filters": map[string]any{"value": map[string]any{"+like": "%test%"}},
	}, providers.Env{})
	fmt.Println(res.Status, res.Message)
	// Output:
	// success Status Code: 200; total: 2
	// failed Unknown query operator '+like' at filters.value; use one of +and, +or, +contains, +gt, +gte, +lt, +lte
}
