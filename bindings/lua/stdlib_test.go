package lua

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memKV is an in-memory KV.
type memKV struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKV) Get(_ context.Context, key string) (string, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *memKV) Set(_ context.Context, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key == "" {
		return errors.New("empty key")
	}
	k.m[key] = value
	return nil
}

func (k *memKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

// memContainers is an in-memory Containers.
type memContainers struct {
	m map[int64]map[string]any
}

func (c *memContainers) Get(_ context.Context, id int64) (map[string]any, error) {
	if ct, ok := c.m[id]; ok {
		return ct, nil
	}
	return nil, fmt.Errorf("container %d not found", id)
}

func (c *memContainers) Update(ctx context.Context, id int64, patch map[string]any) (map[string]any, error) {
	ct, err := c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	for k, v := range patch {
		ct[k] = v
	}
	return ct, nil
}

func (c *memContainers) List(_ context.Context, filter map[string]any) ([]map[string]any, error) {
	var ids []int64
	for id, ct := range c.m {
		if s, ok := filter["status"]; ok && ct["status"] != s {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, c.m[id])
	}
	return out, nil
}

// funcHost is a PluginHost over Go functions, standing in for WASM modules
// with the same JSON-in, JSON-out contract.
type funcHost map[string]map[string]func(in []byte) ([]byte, error)

func (h funcHost) Call(_ context.Context, plugin, function string, input []byte, log *slog.Logger) ([]byte, error) {
	f, ok := h[plugin][function]
	if !ok {
		return nil, fmt.Errorf("plugin %s has no function %s", plugin, function)
	}
	log.Info("plugin call", "plugin", plugin, "function", function)
	return f(input)
}

func (h funcHost) Functions(plugin string) ([]string, bool) {
	fns, ok := h[plugin]
	if !ok {
		return nil, false
	}
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, true
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return dropTime(a) },
	}))
	rt := NewRuntime(Options{})
	mustRun(t, rt, `
		log.info("hunting", {ip = "1.2.3.4", n = 2})
		log.warn("careful")
		log.error("bad", {list = {1, 2}})
		log.debug("details", {})`, &RunSpec{Log: log})
	want := strings.Join([]string{
		`level=INFO msg=hunting fields.ip=1.2.3.4 fields.n=2`,
		`level=WARN msg=careful`,
		`level=ERROR msg=bad fields.list="[1 2]"`,
		`level=DEBUG msg=details`,
		``,
	}, "\n")
	if buf.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
	if _, err := runLua(t, rt, `log.info("x", "not a table")`, nil); err == nil || !strings.Contains(err.Error(), "log.info: fields must be a table") {
		t.Fatalf("error %v", err)
	}
}

func dropTime(a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestKV(t *testing.T) {
	rt := NewRuntime(Options{})
	kv := &memKV{m: map[string]string{"seen": "3"}}
	got := mustRun(t, rt, `
		local before = kv.get("seen")
		kv.set("seen", tonumber(before) + 1)
		kv.set("blob", json.encode({a = 1}))
		kv.delete("gone")
		return {before = before, missing = kv.get("missing") == nil, after = kv.get("seen")}`, &RunSpec{KV: kv})
	want := map[string]any{"before": "3", "missing": true, "after": "4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if kv.m["blob"] != `{"a":1}` {
		t.Fatalf("blob = %q", kv.m["blob"])
	}
	for src, msg := range map[string]string{
		`kv.set("k", {})`: "kv.set: the value must be a string or a number",
		`kv.set("", "v")`: "kv.set: empty key",
		`return kv.get()`: "bad argument #1",
	} {
		if _, err := runLua(t, rt, src, &RunSpec{KV: kv}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", src, err, msg)
		}
	}
	if _, err := runLua(t, rt, `return kv.get("x")`, nil); err == nil || !strings.Contains(err.Error(), "no key-value store") {
		t.Errorf("error %v", err)
	}
}

func TestContainers(t *testing.T) {
	rt := NewRuntime(Options{})
	cs := &memContainers{m: map[int64]map[string]any{
		1: {"id": int64(1), "status": "new", "severity": "low", "tags": []any{}},
		2: {"id": int64(2), "status": "closed", "severity": "low"},
	}}
	got := mustRun(t, rt, `
		local c = containers.update(container.id, {severity = "high", tags = {"tc"}})
		local open = containers.list({status = "new"})
		return {sev = containers.get(1).severity, tags = c.tags, open = #open, all = #containers.list()}`,
		&RunSpec{Containers: cs, Container: map[string]any{"id": int64(1)}})
	want := map[string]any{"sev": "high", "tags": []any{"tc"}, "open": int64(1), "all": int64(2)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	for src, msg := range map[string]string{
		`containers.get(99)`:          "containers.get: container 99 not found",
		`containers.get(1.5)`:         "the container id must be a positive whole number",
		`containers.update(1)`:        "give the fields to change",
		`containers.update(1, {1})`:   "named keys",
		`containers.list("x")`:        "must be a table",
		`containers.update(1, "bad")`: "must be a table",
	} {
		if _, err := runLua(t, rt, src, &RunSpec{Containers: cs}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", src, err, msg)
		}
	}
}

func TestPlugins(t *testing.T) {
	rt := NewRuntime(Options{})
	host := funcHost{
		"reputation": {
			"score": func(in []byte) ([]byte, error) {
				var req struct {
					Indicator string `json:"indicator"`
					Big       any    `json:"big"`
				}
				if err := json.Unmarshal(in, &req); err != nil {
					return nil, err
				}
				return json.Marshal(map[string]any{"verdict": "malicious", "indicator": req.Indicator, "reasons": []any{}, "echo": json.RawMessage(in)})
			},
			"fail": func([]byte) ([]byte, error) { return nil, errors.New("reputation: feed unavailable") },
		},
		"secret": {"leak": func([]byte) ([]byte, error) { return []byte(`1`), nil }},
	}
	spec := func() *RunSpec {
		return &RunSpec{Plugins: host, AllowedPlugins: []string{"reputation", "missing"}}
	}
	got := mustRun(t, rt, `
		local r = plugins.reputation.score({indicator = "1.2.3.4", big = "9007199254740993"})
		return {verdict = r.verdict, reasons = r.reasons, echo = r.echo}`, spec())
	want := map[string]any{
		"verdict": "malicious", "reasons": []any{},
		"echo": map[string]any{"indicator": "1.2.3.4", "big": "9007199254740993"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	for src, msg := range map[string]string{
		`plugins.reputation.fail({})`:  "plugins.reputation.fail: reputation: feed unavailable",
		`plugins.reputation.scor({})`:  `plugin reputation has no function "scor"; did you mean "score"?`,
		`plugins.secret.leak({})`:      "plugin secret is not declared by this playbook",
		`plugins.missing.anything({})`: "plugin missing is not loaded",
	} {
		if _, err := runLua(t, rt, src, spec()); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", src, err, msg)
		}
	}
}

func TestTime(t *testing.T) {
	rt := NewRuntime(Options{})
	fixed := time.Date(2024, 3, 4, 5, 6, 7, 250_000_000, time.FixedZone("X", 3600))
	spec := &RunSpec{}
	spec.Env.Now = func() time.Time { return fixed }
	got := mustRun(t, rt, `return {
		now = time.now(),
		default = time.format(),
		given = time.format(0),
		layout = time.format(86400 * 365, "2006-01-02 15:04"),
		named = time.format(time.now(), "RFC3339Nano"),
		dateonly = time.format(time.now(), "dateonly"),
	}`, spec)
	want := map[string]any{
		"now":      float64(fixed.Unix()) + 0.25,
		"default":  "2024-03-04T04:06:07Z",
		"given":    "1970-01-01T00:00:00Z",
		"layout":   "1971-01-01 00:00",
		"named":    "2024-03-04T04:06:07.25Z",
		"dateonly": "2024-03-04",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if _, err := runLua(t, rt, `return time.format("yesterday")`, spec); err == nil || !strings.Contains(err.Error(), "Unix seconds") {
		t.Fatalf("error %v", err)
	}
}

func TestInputsAndContainer(t *testing.T) {
	rt := NewRuntime(Options{})
	got := mustRun(t, rt, `return {ip = input.ip, n = input.n, art = container.artifacts[1].cef.sourceAddress}`, &RunSpec{
		Inputs: map[string]any{"ip": "1.2.3.4", "n": int64(3)},
		Container: map[string]any{"artifacts": []any{
			map[string]any{"cef": map[string]any{"sourceAddress": "5.6.7.8"}},
		}},
	})
	want := map[string]any{"ip": "1.2.3.4", "n": int64(3), "art": "5.6.7.8"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	// input is always a table, even with no inputs.
	if got := mustRun(t, rt, `return type(input)`, nil); got != "table" {
		t.Fatalf("input is %v", got)
	}
}
