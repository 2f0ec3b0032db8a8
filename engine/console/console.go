// Package console is the read-only web console of `goshawk serve`: the
// playbooks with their triggers and reload state, the run history with a
// timeline of each run's steps, and the ingested containers with their CEF.
//
// Pages are rendered on the server with html/template, so every value is
// escaped by the template engine, and a little script (static/console.js)
// refreshes the parts marked live without a page reload. Everything is
// embedded in the binary: no CDN, no build step. The pages read what the
// HTTP API reads, through the same token rules, and the whole page passes
// the secret redactor before it is written.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageSize is how many runs or containers one page lists.
const PageSize = 50

// Options configures the console.
type Options struct {
	Host  *host.Host
	Store store.Store // nil: Host.Store
	// Redact is applied to every page before it is written; nil: none.
	Redact *logx.Redactor
	// Now is the clock of "last hour" and "next fire"; nil: time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Token and Protect are the API's read-route rules: with Protect,
	// every page needs the token, sent as a bearer token or as the cookie
	// the /login form sets.
	Token   string
	Protect bool
}

type console struct {
	o     Options
	pages map[string]*template.Template
}

// Mount adds the console's routes to mux.
func Mount(mux *http.ServeMux, o Options) {
	if o.Store == nil {
		o.Store = o.Host.Store
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &console{o: o, pages: parsePages()}
	page := func(f func(r *http.Request) (string, any, error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !c.authorized(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.render(w, r, f)
		})
	}
	mux.HandleFunc("GET /login", c.loginForm)
	mux.HandleFunc("POST /login", c.login)
	mux.Handle("GET /{$}", page(c.playbooks))
	mux.Handle("GET /playbooks", page(c.playbooks))
	mux.Handle("GET /runs", page(c.runs))
	mux.Handle("GET /runs/{id}", page(c.run))
	mux.Handle("GET /containers", page(c.containers))
	mux.Handle("GET /containers/{id}", page(c.container))
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheable(http.FileServerFS(static))))
}

func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"ms":    formatMS,
	"pct":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "%" },
	"json":  prettyJSON,
	"raw":   func(b json.RawMessage) string { return prettyJSON(b) },
	"lower": strings.ToLower,
	"join":  strings.Join,
	"add":   func(a, b int) int { return a + b },
	"took":  took,
	"list":  func(s ...string) []string { return s },
}

// took is a finished run's duration as text, "—" while it runs.
func took(r store.Run) string {
	if r.Finished == nil {
		return "—"
	}
	return formatMS(float64(r.Finished.Sub(r.Started).Microseconds()) / 1000)
}

func formatMS(f float64) string {
	switch {
	case f >= 1000:
		return strconv.FormatFloat(f/1000, 'f', 2, 64) + " s"
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(f, 'f', 1, 64) + " ms"
	}
}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"playbooks", "runs", "run", "containers", "container", "error", "login"} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return pages
}

// httpError is an error with the status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// render runs a page function and writes its template, or an error page.
func (c *console) render(w http.ResponseWriter, r *http.Request, f func(r *http.Request) (string, any, error)) {
	name, data, err := f(r)
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		var he *httpError
		switch {
		case errors.As(err, &he):
			status = he.status
		case errors.Is(err, store.ErrNotFound):
			status = http.StatusNotFound
		default:
			c.o.Log.Error("console page failed", "path", r.URL.Path, "err", err)
		}
		name, data = "error", errorPage{Status: status, Title: http.StatusText(status), Message: err.Error()}
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		c.o.Log.Error("console template failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	out := buf.Bytes()
	if c.o.Redact != nil {
		out = []byte(c.o.Redact.String(buf.String()))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Only the console's own script runs; inline styles place the
	// timeline's bars, and every value in them is escaped.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(out)
}

type errorPage struct {
	Status  int
	Title   string
	Message string
}

// Nav is the page's place in the navigation.
func (errorPage) Nav() string { return "" }

// ---- playbooks ----

type playbooksPage struct {
	Books []playbookRow
	Now   time.Time
}

func (playbooksPage) Nav() string { return "playbooks" }

type playbookRow struct {
	host.PlaybookInfo
	Triggers []string
	NextFire time.Time
	// LastHour counts the runs started in the last hour by status.
	LastHour []statusCount
}

type statusCount struct {
	Status string
	N      int
}

func (c *console) playbooks(r *http.Request) (string, any, error) {
	now := c.o.Now()
	infos := c.o.Host.PlaybookInfos()
	page := playbooksPage{Now: now}
	for _, info := range infos {
		row := playbookRow{PlaybookInfo: info, Triggers: triggerText(info.Triggers)}
		if pb, ok := c.o.Host.Playbook(info.Name); ok && pb.Version == info.Version {
			for _, s := range pb.Trigger.Schedules() {
				if next := s.Next(now); !next.IsZero() && (row.NextFire.IsZero() || next.Before(row.NextFire)) {
					row.NextFire = next
				}
			}
		}
		if info.Version != "" {
			runs, err := c.o.Store.ListRuns(r.Context(), store.RunQuery{Playbook: info.Name, Since: now.Add(-time.Hour), Limit: store.MaxLimit})
			if err != nil {
				return "", nil, err
			}
			row.LastHour = countByStatus(runs)
		}
		page.Books = append(page.Books, row)
	}
	return "playbooks", page, nil
}

func triggerText(t map[string]any) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		switch v := t[k].(type) {
		case bool:
			if v {
				out = append(out, k)
			}
		default:
			out = append(out, fmt.Sprintf("%s: %v", k, v))
		}
	}
	if len(out) == 0 {
		out = []string{"manual"}
	}
	return out
}

func countByStatus(runs []store.Run) []statusCount {
	n := map[string]int{}
	for _, r := range runs {
		n[r.Status]++
	}
	var out []statusCount
	for _, s := range store.RunStatuses {
		if n[s] > 0 {
			out = append(out, statusCount{s, n[s]})
		}
	}
	return out
}

// ---- runs ----

type runsPage struct {
	Filter   runFilter
	Runs     []store.Run
	Next     string // the next page's query, "" on the last page
	Live     bool
	Statuses []string
	Triggers []string
	Books    []string
}

func (runsPage) Nav() string { return "runs" }

type runFilter struct {
	Playbook, Status, Trigger, Since, Until string
}

func (c *console) runs(r *http.Request) (string, any, error) {
	q := r.URL.Query()
	if err := knownParams(q, "playbook", "status", "trigger", "since", "until", "before"); err != nil {
		return "", nil, err
	}
	f := runFilter{Playbook: q.Get("playbook"), Status: q.Get("status"), Trigger: q.Get("trigger"), Since: q.Get("since"), Until: q.Get("until")}
	rq := store.RunQuery{Playbook: f.Playbook, Status: f.Status, Trigger: f.Trigger, Limit: PageSize + 1}
	var err error
	if rq.Since, err = parseTime("since", f.Since); err != nil {
		return "", nil, err
	}
	if rq.Until, err = parseTime("until", f.Until); err != nil {
		return "", nil, err
	}
	if b := q.Get("before"); b != "" {
		if rq.BeforeID, err = strconv.ParseInt(b, 10, 64); err != nil || rq.BeforeID <= 0 {
			return "", nil, badRequest("before must be a run id, got %q", b)
		}
	}
	if err := rq.Check(); err != nil {
		return "", nil, badRequest("%v", err)
	}
	runs, err := c.o.Store.ListRuns(r.Context(), rq)
	if err != nil {
		return "", nil, err
	}
	page := runsPage{Filter: f, Live: rq.BeforeID == 0, Statuses: store.RunStatuses, Triggers: store.RunTriggers, Books: c.o.Host.PlaybookNames()}
	if len(runs) > PageSize {
		runs = runs[:PageSize]
		next := url.Values{}
		for k, v := range map[string]string{"playbook": f.Playbook, "status": f.Status, "trigger": f.Trigger, "since": f.Since, "until": f.Until} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", strconv.FormatInt(runs[len(runs)-1].ID, 10))
		page.Next = "/runs?" + next.Encode()
	}
	page.Runs = runs
	return "runs", page, nil
}

// parseTime reads a time filter: RFC 3339, a date, or a duration back from
// now ("1h" means one hour ago).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d).UTC(), nil
	}
	return time.Time{}, badRequest("%s must be a time such as 2026-01-02T15:04:05Z, a date such as 2026-01-02, or a duration back from now such as 1h; got %q", name, s)
}

func knownParams(q url.Values, known ...string) error {
	for k := range q {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			return badRequest("unknown query parameter %q; this page takes %s", k, strings.Join(known, ", "))
		}
	}
	return nil
}

// ---- one run ----

type runPage struct {
	Run       store.Run
	Live      bool
	Duration  float64 // ms, to now when still running
	Steps     []stepView
	Preamble  []store.LogLine // the log of a run without steps
	Container *cef.Container
}

func (runPage) Nav() string { return "runs" }

type stepView struct {
	store.Step
	N           int
	Left, Width float64 // percent of the run's duration
	Log         []store.LogLine
}

func (c *console) run(r *http.Request) (string, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return "", nil, badRequest("run id must be a positive integer, got %q", r.PathValue("id"))
	}
	rec, err := c.o.Store.GetRun(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, &httpError{http.StatusNotFound, fmt.Sprintf("no run %d", id)}
		}
		return "", nil, err
	}
	page := runPage{Run: rec, Live: rec.Status == store.RunRunning}
	end := c.o.Now()
	if rec.Finished != nil {
		end = *rec.Finished
	}
	total := end.Sub(rec.Started)
	page.Duration = float64(total.Microseconds()) / 1000
	page.Steps, page.Preamble = timeline(rec, total)
	if rec.ContainerID != 0 {
		if ct, err := c.o.Store.Container(r.Context(), rec.ContainerID); err == nil {
			page.Container = &ct
		}
	}
	return "run", page, nil
}

// timeline places each step on the run's time axis and gives it the log
// lines around it: those written after the previous step ended, until it
// ends (lines after the last step go to the last step). A run without
// steps returns all its lines as the second value.
func timeline(rec store.Run, total time.Duration) ([]stepView, []store.LogLine) {
	steps := make([]stepView, len(rec.Steps))
	ends := make([]time.Time, len(rec.Steps))
	prevEnd := rec.Started
	for i, s := range rec.Steps {
		v := stepView{Step: s, N: i + 1}
		start := s.Started
		if start.IsZero() { // a record older than step start times
			start = prevEnd
		}
		ends[i] = start.Add(time.Duration(s.DurationMS * float64(time.Millisecond)))
		prevEnd = ends[i]
		if total > 0 {
			v.Left = clamp(100*float64(start.Sub(rec.Started))/float64(total), 0, 100)
			v.Width = clamp(100*s.DurationMS*float64(time.Millisecond)/float64(total), 0.4, 100-v.Left)
		}
		steps[i] = v
	}
	if len(steps) == 0 {
		return nil, rec.Log
	}
	for _, l := range rec.Log {
		i := sort.Search(len(ends), func(i int) bool { return !ends[i].Before(l.Time) })
		if i == len(ends) {
			i = len(ends) - 1
		}
		steps[i].Log = append(steps[i].Log, l)
	}
	return steps, nil
}

func clamp(f, lo, hi float64) float64 {
	if hi < lo {
		hi = lo
	}
	return max(lo, min(hi, f))
}

// ---- containers ----

type containersPage struct {
	Filter     containerFilter
	Containers []cef.Container
	Next       string
	Assets     []string
}

func (containersPage) Nav() string { return "containers" }

type containerFilter struct {
	Asset, Severity, Status string
}

func (c *console) containers(r *http.Request) (string, any, error) {
	q := r.URL.Query()
	if err := knownParams(q, "asset", "severity", "status", "after"); err != nil {
		return "", nil, err
	}
	f := containerFilter{Asset: q.Get("asset"), Severity: q.Get("severity"), Status: q.Get("status")}
	cq := store.ContainerQuery{Asset: f.Asset, Severity: f.Severity, Status: f.Status, Limit: PageSize + 1}
	if a := q.Get("after"); a != "" {
		var err error
		if cq.AfterID, err = strconv.ParseInt(a, 10, 64); err != nil || cq.AfterID < 0 {
			return "", nil, badRequest("after must be a container id, got %q", a)
		}
	}
	if err := cq.Check(); err != nil {
		return "", nil, badRequest("%v", err)
	}
	cs, err := c.o.Store.ListContainers(r.Context(), cq)
	if err != nil {
		return "", nil, err
	}
	page := containersPage{Filter: f, Assets: c.o.Host.Config().AssetNames()}
	if len(cs) > PageSize {
		cs = cs[:PageSize]
		next := url.Values{}
		for k, v := range map[string]string{"asset": f.Asset, "severity": f.Severity, "status": f.Status} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("after", strconv.FormatInt(cs[len(cs)-1].ID, 10))
		page.Next = "/containers?" + next.Encode()
	}
	page.Containers = cs
	return "containers", page, nil
}

type containerPage struct {
	Container cef.Container
	Artifacts []artifactView
	Runs      []store.Run
}

func (containerPage) Nav() string { return "containers" }

type artifactView struct {
	cef.Artifact
	Fields []cefField
}

type cefField struct {
	Key   string
	Value string
	Types []string
}

func (c *console) container(r *http.Request) (string, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return "", nil, badRequest("container id must be a positive integer, got %q", r.PathValue("id"))
	}
	ct, err := c.o.Store.Container(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, &httpError{http.StatusNotFound, fmt.Sprintf("no container %d", id)}
		}
		return "", nil, err
	}
	page := containerPage{Container: ct}
	for _, a := range ct.Artifacts {
		v := artifactView{Artifact: a}
		for _, k := range slices.Sorted(maps.Keys(a.CEF)) {
			v.Fields = append(v.Fields, cefField{Key: k, Value: scalarText(a.CEF[k]), Types: a.CEFTypes[k]})
		}
		page.Artifacts = append(page.Artifacts, v)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if page.Runs, err = c.o.Store.ListRuns(ctx, store.RunQuery{ContainerID: id, Limit: PageSize}); err != nil {
		return "", nil, err
	}
	return "container", page, nil
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// prettyJSON indents a value (or raw JSON) for a <pre>.
func prettyJSON(v any) string {
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		if len(x) == 0 {
			return ""
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, x, "", "  "); err != nil {
			return string(x)
		}
		return buf.String()
	case nil:
		return ""
	default:
		var err error
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err = enc.Encode(x); err != nil {
			return fmt.Sprint(x)
		}
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	return string(b)
}
