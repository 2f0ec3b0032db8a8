package threatconnect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
	"github.com/goshawk/goshawk/providers/internal/httpx"
)

const (
	pollPageSize  = 100 // resultLimit of each on_poll page
	pollBatchSize = 50  // containers committed per store transaction
)

// checkpoint is where on_poll stopped: the (dateAdded, id) of the last
// indicator it ingested. Its string form, "<RFC 3339 UTC>/<id>", is what the
// store keeps.
type checkpoint struct {
	added time.Time // whole seconds, UTC
	id    int64
}

func (p checkpoint) String() string {
	return p.added.UTC().Format(time.RFC3339) + "/" + strconv.FormatInt(p.id, 10)
}

func (p checkpoint) compare(q checkpoint) int {
	if c := p.added.Compare(q.added); c != 0 {
		return c
	}
	return cmp.Compare(p.id, q.id)
}

func parseCheckpoint(s string) (checkpoint, error) {
	date, id, ok := strings.Cut(s, "/")
	t, terr := time.Parse(time.RFC3339, date)
	n, nerr := strconv.ParseInt(id, 10, 64)
	if !ok || terr != nil || nerr != nil {
		return checkpoint{}, fmt.Errorf("threatconnect: on_poll: stored checkpoint %q is not <RFC 3339 date>/<indicator id>; clear the asset's checkpoint to poll again from interval_days ago", s)
	}
	return checkpoint{added: t.UTC().Truncate(time.Second), id: n}, nil
}

// polled is one indicator fetched by on_poll, with its sort key.
type polled struct {
	key checkpoint
	raw json.RawMessage
}

// indicatorKey reads the (dateAdded, id) of a raw indicator.
func indicatorKey(raw json.RawMessage) (checkpoint, error) {
	var ind struct {
		ID        json.Number `json:"id"`
		DateAdded string      `json:"dateAdded"`
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&ind); err != nil {
		return checkpoint{}, fmt.Errorf("not a JSON object: %w", err)
	}
	id, err := ind.ID.Int64()
	if err != nil {
		return checkpoint{}, fmt.Errorf("id %q is not an integer", ind.ID)
	}
	t, err := time.Parse(time.RFC3339, ind.DateAdded)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05-0700", ind.DateAdded); err != nil {
			return checkpoint{}, fmt.Errorf("indicator %d: dateAdded %q is not an RFC 3339 time", id, ind.DateAdded)
		}
	}
	return checkpoint{added: t.UTC().Truncate(time.Second), id: id}, nil
}

// pollTarget is one page of the on_poll query: indicators added at or after
// start, oldest first, with tags, attributes and threatAssess, in pages of
// pollPageSize (a golden signing vector covers its encoding).
func (c *Client) pollTarget(start time.Time, offset int) string {
	q := url.Values{
		"tql":         {pollTQL(start)},
		"sorting":     {"dateAdded asc"},
		"fields":      {"tags", "attributes", "threatAssess"},
		"resultLimit": {strconv.Itoa(pollPageSize)},
		"resultStart": {strconv.Itoa(offset)},
	}
	return c.rootPath + "/indicators?" + q.Encode()
}

// fetchNew returns, oldest first, at most limit indicators added at or
// after start and strictly after the checkpoint after (when not nil), and
// how many indicators the server sent in all.
//
// Pages are fetched while they are full and either fewer than limit
// candidates are known or the last indicator fetched shares the second of
// the limit-th candidate: a second is always seen whole, so the limit
// indicators kept are the lowest (dateAdded, id) whatever order the server
// gives ties in, and the checkpoint never passes one that was not ingested.
func (c *Client) fetchNew(ctx context.Context, env httpx.Env, start time.Time, after *checkpoint, limit int, log func(msg string, args ...any)) ([]polled, int, error) {
	var (
		found   []polled
		fetched int
		seen    = map[int64]bool{}
	)
	for offset := 0; ; offset += pollPageSize {
		var page listPage[json.RawMessage]
		if err := c.get(ctx, env, c.pollTarget(start, offset), &page); err != nil {
			return nil, fetched, err
		}
		fetched += len(page.Data)
		var last checkpoint
		for _, raw := range page.Data {
			key, err := indicatorKey(raw)
			if err != nil {
				log("threatconnect: on_poll: skipping an indicator without a usable id or dateAdded", "error", err)
				continue
			}
			last = key
			if seen[key.id] || (after != nil && key.compare(*after) <= 0) {
				continue
			}
			seen[key.id] = true
			found = append(found, polled{key: key, raw: raw})
		}
		if len(page.Data) < pollPageSize {
			break
		}
		if len(found) >= limit {
			slices.SortFunc(found, func(a, b polled) int { return a.key.compare(b.key) })
			if !last.added.Equal(found[limit-1].key.added) {
				break
			}
		}
	}
	slices.SortFunc(found, func(a, b polled) int { return a.key.compare(b.key) })
	if len(found) > limit {
		found = found[:limit]
	}
	return found, fetched, nil
}

func runPoll(ctx context.Context, c *Client, call *providers.Call) *providers.Result {
	sink := call.Env.Ingest
	if sink == nil {
		return providers.Failedf("threatconnect: on_poll needs somewhere to store containers; run it with `goshawk poll %s` or from the scheduler", call.Asset)
	}
	p := call.Params
	pollNow := p.Bool("poll_now")
	limit := c.maxContainers
	if p.Has("container_count") {
		limit = int(p.Int("container_count"))
	}

	stored, err := sink.Checkpoint(ctx)
	if err != nil {
		return providers.Failedf("threatconnect: on_poll: read the checkpoint: %v", err)
	}
	start := call.Env.Now().Add(-time.Duration(c.intervalDays) * 24 * time.Hour)
	var after *checkpoint
	if stored != "" && !pollNow {
		cp, err := parseCheckpoint(stored)
		if err != nil {
			return providers.Failedf("%v", err)
		}
		after, start = &cp, cp.added
	}

	warn := call.Env.Log.Warn
	found, fetched, err := c.fetchNew(ctx, env(call), start, after, limit, warn)
	if err != nil {
		r := c.failure(err) // nothing was ingested: the checkpoint stays
		r.Summary = pollSummary(call.Asset, fetched, 0, 0, stored)
		return r
	}

	created, duplicates := 0, 0
	final := stored
	for len(found) > 0 {
		batch := found[:min(pollBatchSize, len(found))]
		found = found[len(batch):]
		containers := make([]cef.Container, 0, len(batch))
		for _, ind := range batch {
			ct, err := MapIndicator(ind.raw)
			if err != nil {
				warn("threatconnect: on_poll: skipping an indicator that cannot be mapped", "id", ind.key.id, "error", err)
				continue
			}
			ct.Asset = call.Asset
			containers = append(containers, ct)
		}
		var next *string
		if !pollNow {
			s := batch[len(batch)-1].key.String()
			next = &s
		}
		if len(containers) == 0 && next == nil {
			continue
		}
		n, dup, err := sink.Ingest(ctx, containers, next)
		if err != nil {
			return pollFailed(call.Asset, fetched, created, duplicates, final, fmt.Errorf("threatconnect: on_poll: store the containers: %w; the next poll resumes after the last stored batch", err))
		}
		created += n
		duplicates += dup
		if next != nil {
			final = *next
		}
	}
	return providers.Succeeded("Polling has succeeded", nil, pollSummary(call.Asset, fetched, created, duplicates, final))
}

func pollSummary(asset string, fetched, created, duplicates int, checkpoint string) map[string]any {
	return map[string]any{
		"asset":              asset,
		"fetched":            fetched,
		"containers_created": created,
		"duplicates":         duplicates,
		"checkpoint":         checkpoint,
	}
}

// pollFailed reports a poll that stopped part way, with what it committed.
func pollFailed(asset string, fetched, created, duplicates int, checkpoint string, err error) *providers.Result {
	r := providers.Failedf("%v", err)
	r.Summary = pollSummary(asset, fetched, created, duplicates, checkpoint)
	if errors.Is(err, context.Canceled) {
		r.Message = "threatconnect: on_poll: interrupted; the next poll resumes after the last stored batch"
	}
	return r
}
