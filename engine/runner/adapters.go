package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// kvAdapter binds the store's key-value area to one playbook's namespace.
type kvAdapter struct {
	kv store.KV
	ns string
}

func (k kvAdapter) Get(ctx context.Context, key string) (string, bool, error) {
	return k.kv.KVGet(ctx, k.ns, key)
}
func (k kvAdapter) Set(ctx context.Context, key, value string) error {
	return k.kv.KVSet(ctx, k.ns, key, value)
}
func (k kvAdapter) Delete(ctx context.Context, key string) error {
	return k.kv.KVDelete(ctx, k.ns, key)
}

// containersAdapter gives scripts the containers API: get, list, and
// update of severity, status, tags and notes.
type containersAdapter struct{ s store.Containers }

func (c containersAdapter) Get(ctx context.Context, id int64) (map[string]any, error) {
	ct, err := c.s.Container(ctx, id)
	if err != nil {
		return nil, err
	}
	return containerMap(&ct), nil
}

func (c containersAdapter) List(ctx context.Context, filter map[string]any) ([]map[string]any, error) {
	q := store.ContainerQuery{Limit: 100}
	for k, v := range filter {
		switch k {
		case "asset":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("containers.list: asset must be a string")
			}
			q.Asset = s
		case "limit", "after_id":
			n, ok := toInt(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("containers.list: %s must be a non-negative integer", k)
			}
			if k == "limit" {
				q.Limit = int(min(n, 1000))
			} else {
				q.AfterID = n
			}
		default:
			return nil, fmt.Errorf("containers.list: unknown filter %q; use asset, limit or after_id", k)
		}
	}
	cs, err := c.s.ListContainers(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(cs))
	for i := range cs {
		out[i] = containerMap(&cs[i])
	}
	return out, nil
}

func (c containersAdapter) Update(ctx context.Context, id int64, patch map[string]any) (map[string]any, error) {
	var u store.ContainerUpdate
	for k, v := range patch {
		switch k {
		case "severity", "status", "note":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("containers.update: %s must be a string", k)
			}
			switch k {
			case "severity":
				if err := cef.CheckSeverity(s); err != nil {
					return nil, fmt.Errorf("containers.update: %w", err)
				}
				u.Severity = &s
			case "status":
				if err := cef.CheckStatus(s); err != nil {
					return nil, fmt.Errorf("containers.update: %w", err)
				}
				u.Status = &s
			default:
				u.AddNote = &s
			}
		case "tags":
			list, ok := v.([]any)
			if !ok {
				if m, isMap := v.(map[string]any); isMap && len(m) == 0 {
					list, ok = nil, true
				}
			}
			if !ok {
				return nil, fmt.Errorf("containers.update: tags must be a list of strings")
			}
			for _, t := range list {
				s, ok := t.(string)
				if !ok || strings.TrimSpace(s) == "" {
					return nil, fmt.Errorf("containers.update: tags must be non-empty strings")
				}
				u.AddTags = append(u.AddTags, s)
			}
		default:
			return nil, fmt.Errorf("containers.update: cannot change %q; a playbook may set severity, status, tags and note", k)
		}
	}
	ct, err := c.s.UpdateContainer(ctx, id, u)
	if err != nil {
		return nil, err
	}
	return containerMap(&ct), nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		return int64(x), x == float64(int64(x))
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}
