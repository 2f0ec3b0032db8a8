package threatq

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

// Indicator type ids differ between ThreatQ instances, so
// goshawk never hard-codes them: a type given by name is looked up once per
// asset with GET /api/indicator/types?name= and cached.

// unknownTypeError is a type name the instance does not have.
type unknownTypeError struct{ name string }

func (e *unknownTypeError) Error() string {
	return fmt.Sprintf("Unknown indicator type '%s'; the names are listed by GET /api/indicator/types (for example IP Address, FQDN, MD5)", e.name)
}

// serverErrorMessage renders a non-2xx answer, the action's own or one
// met on the way to it (a type lookup).
func serverErrorMessage(resp *httpx.Response) string {
	d := serverDetails(resp.Body)
	if d == "" {
		d = http.StatusText(resp.Status)
	}
	return fmt.Sprintf("Error from server, Status Code: %d: %s", resp.Status, d)
}

// typeRef reads a type given as an id (number or numeric string), a name,
// or an object with id or name.
func typeRef(v any) (id int64, name string) {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && x > 0 && x < 1<<53 {
			return int64(x), ""
		}
	case int64:
		return x, ""
	case int:
		return int64(x), ""
	case json.Number:
		return typeRef(x.String())
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, ""
		}
		return 0, s
	case map[string]any:
		if x["id"] != nil {
			return typeRef(x["id"])
		}
		if n, ok := x["name"].(string); ok {
			return 0, strings.TrimSpace(n)
		}
	}
	return 0, ""
}

// typeID returns the id of the indicator type that v names.
func (c *client) typeID(ctx context.Context, env httpx.Env, v any) (int64, error) {
	id, name := typeRef(v)
	if id > 0 {
		return id, nil
	}
	if name == "" {
		b, _ := json.Marshal(v)
		return 0, &unknownTypeError{name: string(b)}
	}
	key := strings.ToLower(name)
	c.mu.Lock()
	id, ok := c.typeIDs[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	r := request{
		method: http.MethodGet, path: "/indicator/types",
		query: url.Values{"name": {name}}, idempotent: true,
	}
	resp, err := c.do(ctx, env, r)
	if err != nil {
		return 0, err
	}
	if !resp.OK() {
		return 0, &httpx.Error{Method: r.method, URL: c.base + "/api" + r.path, Path: c.prefix + "/api" + r.path, Response: resp, Sent: true}
	}
	var page struct {
		Data []struct {
			ID   json.Number `json:"id"`
			Name string      `json:"name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &page); err != nil {
		return 0, fmt.Errorf("threatq: read indicator types: %w; check that url points at a ThreatQ server", err)
	}
	for _, t := range page.Data {
		if !strings.EqualFold(t.Name, name) {
			continue
		}
		id, err := t.ID.Int64()
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.typeIDs[key] = id
		c.mu.Unlock()
		return id, nil
	}
	return 0, &unknownTypeError{name: name}
}
