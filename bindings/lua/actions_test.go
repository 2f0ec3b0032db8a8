package lua

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
)

type ctxKey struct{}

// testConn is the connection the test provider opens: the asset's name.
type testConn string

func (testConn) Close() error { return nil }

// testProvider is a small provider declared for these tests: a no-op action
// and a hunt_ip with typed, validated parameters.
func testProvider() *providers.Provider {
	return &providers.Provider{
		Name: "testprov",
		Open: func(asset string, cfg providers.Values) (providers.Conn, error) {
			return testConn("conn-" + asset), nil
		},
		Actions: []providers.Spec{
			{
				Name: "noop", Kind: providers.Test, ReadOnly: true,
				Run: func(ctx context.Context, call *providers.Call) *providers.Result {
					return providers.Succeeded("ok", nil, nil)
				},
			},
			{
				Name: "hunt_ip", Kind: providers.Investigate, ReadOnly: true,
				Params: []providers.Param{
					{Name: "ip", Type: providers.String, Required: true, Contains: []string{"ip"}},
					{Name: "tag", Type: providers.Bool},
					{Name: "limit", Type: providers.Integer, Default: int64(10), Min: providers.Bound(1), Max: providers.Bound(100)},
					{Name: "fields", Type: providers.Array},
				},
				Run: func(ctx context.Context, call *providers.Call) *providers.Result {
					ip := call.Params.String("ip")
					if ip == "10.0.0.1" {
						return providers.Failedf("no indicator found for %s", ip)
					}
					return providers.Succeeded("found 1 indicator", []any{map[string]any{
						"conn": string(call.Conn.(testConn)),
						"data": []any{map[string]any{"indicator": ip, "rating": 4.5}},
					}}, map[string]any{"total": 1, "tagged": call.Params.Bool("tag")})
				},
			},
			{
				Name: "crash", Kind: providers.Generic,
				Run: func(ctx context.Context, call *providers.Call) *providers.Result {
					var m map[string]int
					m["boom"] = 1 // a provider bug: assignment to a nil map
					return nil
				},
			},
			{
				Name: "whoami", Kind: providers.Generic,
				Run: func(ctx context.Context, call *providers.Call) *providers.Result {
					v, _ := ctx.Value(ctxKey{}).(string)
					return providers.Succeeded("", nil, map[string]any{
						"ctx": v, "now": call.Env.Now().Unix(), "asset": call.Asset,
					})
				},
			},
		},
	}
}

func testAssets(t testing.TB) map[string]*providers.Asset {
	t.Helper()
	p := testProvider()
	if _, err := providers.NewRegistry(p); err != nil {
		t.Fatal(err)
	}
	a, err := providers.OpenAsset("tc", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*providers.Asset{"tc": a}
}

func TestActions(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	var mu sync.Mutex
	var steps []Step
	spec := func() *RunSpec {
		return &RunSpec{
			Assets: testAssets(t),
			Inputs: map[string]any{"ip": "1.2.3.4"},
			OnStep: func(s Step) { mu.Lock(); steps = append(steps, s); mu.Unlock() },
		}
	}

	got := mustRun(t, rt, `
		local r = tc.hunt_ip{ip = input.ip, tag = true}
		return {
			status = r.status,
			message = r.message,
			indicator = r.data[1].data[1].indicator,
			rating = r.data[1].data[1].rating,
			conn = r.data[1].conn,
			total = r.summary.total,
			tagged = r.summary.tagged,
			param_ip = r.parameter.ip,
			param_limit = r.parameter.limit,
		}`, spec())
	want := map[string]any{
		"status": "success", "message": "found 1 indicator", "indicator": "1.2.3.4", "rating": 4.5,
		"conn": "conn-tc", "total": int64(1), "tagged": true, "param_ip": "1.2.3.4", "param_limit": int64(10),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if len(steps) != 1 || steps[0].Asset != "tc" || steps[0].Action != "hunt_ip" || steps[0].Status != "success" ||
		steps[0].Message != "found 1 indicator" || steps[0].Duration < 0 {
		t.Fatalf("steps = %+v", steps)
	}

	t.Run("no parameters", func(t *testing.T) {
		if got := mustRun(t, rt, `return tc.noop().status .. tc.noop{}.status`, spec()); got != "successsuccess" {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("failed action does not raise", func(t *testing.T) {
		got := mustRun(t, rt, `local r = tc.hunt_ip{ip = "10.0.0.1"} return r.status .. ": " .. r.message .. " #" .. #r.data`, spec())
		if got != "failed: no indicator found for 10.0.0.1 #0" {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("invalid value is a failed result", func(t *testing.T) {
		got := mustRun(t, rt, `
			local a = tc.hunt_ip{ip = "not-an-ip"}
			local b = tc.hunt_ip{ip = "1.2.3.4", limit = 500}
			return a.status .. "|" .. a.message .. "|" .. b.message`, spec())
		want := "failed|Parameter 'ip' failed validation|Parameter 'limit' must be an integer between 1 and 100"
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("typed parameters convert", func(t *testing.T) {
		got := mustRun(t, rt, `
			local r = tc.hunt_ip{ip = "1.2.3.4", limit = 5, fields = {"a", "b"}}
			return {limit = r.parameter.limit, fields = r.parameter.fields}`, spec())
		want := map[string]any{"limit": int64(5), "fields": []any{"a", "b"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v", got)
		}
	})

	raises := []struct{ name, src, want string }{
		{"unknown parameter", `tc.hunt_ip{ip = "1.2.3.4", tagg = true}`, `tc.hunt_ip: unknown parameter "tagg"; did you mean "tag"?`},
		{"wrong type", `tc.hunt_ip{ip = "1.2.3.4", tag = "maybe"}`, `tc.hunt_ip: parameter "tag" must be true or false`},
		{"missing required", `tc.hunt_ip{tag = true}`, `tc.hunt_ip: parameter "ip" is required`},
		{"unknown action", `tc.hunt_ipp{ip = "1.2.3.4"}`, `asset tc: provider testprov has no action "hunt_ipp"; did you mean "hunt_ip"?`},
		{"colon call", `tc:hunt_ip{ip = "1.2.3.4"}`, "with a dot, not a colon"},
		{"not a table", `tc.hunt_ip("1.2.3.4")`, "tc.hunt_ip expects a table of parameters"},
		{"list", `tc.hunt_ip{"1.2.3.4"}`, "parameters must be named"},
		{"function value", `tc.hunt_ip{ip = print}`, "tc.hunt_ip: parameters: ip: cannot convert a Lua function"},
	}
	for _, c := range raises {
		t.Run(c.name, func(t *testing.T) {
			_, err := runLua(t, rt, c.src, spec())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "test.lua:1:") {
				t.Fatalf("error %q does not start with the script position", err)
			}
		})
	}

	t.Run("pcall catches a malformed call", func(t *testing.T) {
		got := mustRun(t, rt, `local ok, err = pcall(tc.hunt_ip, {bogus = 1}) return ok`, spec())
		if got != false {
			t.Fatalf("got %v", got)
		}
	})
}

func TestActionSeesRunContextAndEnv(t *testing.T) {
	rt := NewRuntime(Options{})
	script, err := Compile("env.lua", []byte(`return tc.whoami().summary`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "run-7")
	fixed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := rt.Run(ctx, &RunSpec{
		Script: script,
		Assets: testAssets(t),
		Env:    providers.Env{Now: func() time.Time { return fixed }},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ctx": "run-7", "now": fixed.Unix(), "asset": "tc"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestAssetTablesAreFreshPerRun(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	mustRun(t, rt, `tc.hunt_ip = nil tc.extra = 1 return 1`, &RunSpec{Assets: testAssets(t)})
	got := mustRun(t, rt, `return type(tc.hunt_ip) .. tostring(rawget(tc, "extra"))`, &RunSpec{Assets: testAssets(t)})
	if got != "functionnil" {
		t.Fatalf("got %v: a run's change to an asset table leaked", got)
	}
	// A run without assets doesn't see the previous run's.
	if got := mustRun(t, rt, `return tc == nil`, nil); got != true {
		t.Fatal("asset visible in a run that did not declare it")
	}
}

func TestPanickingActionDoesNotTakeDownTheHost(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	_, err := runLua(t, rt, `return tc.crash()`, &RunSpec{Assets: testAssets(t)})
	if err == nil || !strings.Contains(err.Error(), "assignment to entry in nil map") {
		t.Fatalf("error %v, want the panic message", err)
	}
	if got := mustRun(t, rt, `return tc.noop().status`, &RunSpec{Assets: testAssets(t)}); got != "success" {
		t.Fatalf("next run got %v", got)
	}
}

func TestAssetNameClash(t *testing.T) {
	rt := NewRuntime(Options{})
	assets := testAssets(t)
	assets["json"] = assets["tc"]
	_, err := runLua(t, rt, `return 1`, &RunSpec{Assets: assets})
	if err == nil || !strings.Contains(err.Error(), `asset "json" has the name of a built-in global`) {
		t.Fatalf("error %v", err)
	}
}
