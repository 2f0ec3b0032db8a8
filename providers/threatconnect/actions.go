package threatconnect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/internal/httpx"
)

// env is what a request borrows from the action's call.
func env(call *providers.Call) httpx.Env {
	return httpx.Env{Log: call.Env.Log, Now: call.Env.Now}
}

// failure turns a client error into a failed result with the SOAR app's
// messages: "Error from server, Status Code: N data returned: <body>" for a
// JSON error body (which also goes to data), "Status Code: N. Data from
// server: <text>" otherwise, and "Error connecting: ..." without an answer.
func (c *Client) failure(err error) *providers.Result {
	var (
		he *httpx.Error
		r  *providers.Result
	)
	switch {
	case errors.As(err, &he) && he.Response != nil:
		// A server that echoes what it received must not make us print the
		// key: the body is redacted, in every encoding, before it is read.
		resp := *he.Response
		resp.Body = []byte(c.rep.String(string(resp.Body)))
		if body := bodyJSON(&resp); body != nil {
			r = providers.Failedf("Error from server, Status Code: %d data returned: %s", resp.Status, strings.TrimSpace(string(resp.Body)))
			r.Data = []any{body}
		} else {
			r = providers.Failedf("Status Code: %d. Data from server: %s", resp.Status, bodyText(&resp))
		}
	case errors.As(err, &he):
		r = providers.Failedf("Error connecting: %s %s: %v", he.Method, he.URL, he.Err)
	case errors.Is(err, errBadJSON):
		r = providers.Failedf("Unable to parse response as JSON")
	default:
		r = providers.Failedf("%v", err)
	}
	r.Message = c.rep.String(r.Message)
	return r
}

// failedWith prefixes the message of a failure with what was being done.
func (c *Client) failedWith(prefix string, err error) *providers.Result {
	r := c.failure(err)
	r.Message = prefix + ". " + r.Message
	return r
}

// ownersTarget is test_connectivity's request: the owners, no query, as
// the SOAR app sends it.
func (c *Client) ownersTarget() string { return c.rootPath + "/security/owners" }

// listOwnersTarget is list_owners' request: TC answers count only when it
// is asked for with count=true.
func (c *Client) listOwnersTarget() string { return c.ownersTarget() + "?count=true" }

func runTestConnectivity(ctx context.Context, c *Client, call *providers.Call) *providers.Result {
	var body object
	if err := c.get(ctx, env(call), c.ownersTarget(), &body); err != nil {
		return c.failedWith("Test Connectivity Failed", err)
	}
	return providers.Succeeded("Test Connectivity Passed", nil, nil)
}

func runListOwners(ctx context.Context, c *Client, call *providers.Call) *providers.Result {
	var body object
	if err := c.get(ctx, env(call), c.listOwnersTarget(), &body); err != nil {
		return c.failedWith("Unable to List Owners", err)
	}
	// count was asked for; a server that leaves it out anyway gets the
	// length of the list instead, written into the envelope so that
	// data.*.count is always there for playbooks.
	n := int64(0)
	if list, ok := body["data"].([]any); ok {
		n = int64(len(list))
	}
	if count, ok := body["count"].(json.Number); ok {
		if v, err := count.Int64(); err == nil {
			n = v
		}
	} else {
		body["count"] = json.Number(strconv.FormatInt(n, 10))
	}
	return providers.Succeeded("List owners succeeded", []any{map[string]any(body)}, map[string]any{"num_owners": n, "total_objects": n})
}

// huntAliases are the SOAR app's ids of goshawk's hunts where they differ.
var huntAliases = map[string][]string{"hunt_domain": {"hunt_host"}}

// huntSpec declares one hunt action. value declares the hunted parameter
// (name, contains and doc) and example is a value for the examples; typeOf
// maps a valid value to its TC type.
func huntSpec(name, summary, example string, value providers.Param, typeOf func(string) string) providers.Spec {
	value.Type = providers.String
	value.Required = true
	param := value.Name
	return providers.Spec{
		Name: name, Summary: summary, Kind: providers.Investigate, ReadOnly: true,
		Aliases: huntAliases[name],
		Doc: "Searches the indicators matching " + param + " with TQL, in the given owners or all visible ones, following " +
			"next pages until max_results are found; attributes, tags and security labels are included on request. " +
			"When more match, summary.truncated is true, summary.available says how many (one more request asks the count), " +
			"and the message says how to raise max_results.",
		Examples: []providers.Example{
			{Summary: "hunt one " + param, Params: map[string]any{param: example}},
			{Summary: "with tags and attributes, at most 10", Params: map[string]any{param: example, "tag": true, "attribute": true, "max_results": 10}},
		},
		Params: []providers.Param{
			value,
			{Name: "owner", Type: providers.String, Doc: "Indicator owners within ThreatConnect, separated by commas"},
			{Name: "attribute", Type: providers.Bool, Doc: "Retrieves indicator attributes"},
			{Name: "tag", Type: providers.Bool, Doc: "Retrieves indicator tags"},
			{Name: "security_label", Type: providers.Bool, Doc: "Retrieves indicator security labels"},
			{Name: "max_results", Type: providers.Integer, Default: int64(100), Min: providers.Bound(1),
				Doc: "Max indicators to return; further pages are fetched until this many are found"},
		},
		Run: providers.RunWith(func(ctx context.Context, c *Client, call *providers.Call) *providers.Result {
			p := call.Params
			v := p.String(param)
			var fields []string
			for _, f := range []struct{ param, field string }{
				{"security_label", "securityLabels"}, {"tag", "tags"}, {"attribute", "attributes"},
			} {
				if p.Bool(f.param) {
					fields = append(fields, f.field)
				}
			}
			tql := huntTQL(typeOf(v), v, splitList(p.String("owner")))
			limit := int(p.Int("max_results"))
			found, more, available, err := c.search(ctx, env(call), c.huntTarget(tql, fields), limit)
			if err != nil {
				return c.failure(err)
			}
			if more && available < 0 {
				available = c.countMatches(ctx, call, tql, len(found))
			}
			return huntResult(found, more, available, limit)
		}),
	}
}

// huntResult is the result of a hunt that found found, limit being its
// max_results. more reports that further indicators match; available is
// how many match in all, or -1 when unknown.
func huntResult(found []any, more bool, available, limit int) *providers.Result {
	msg := fmt.Sprintf("Found %d indicator(s)", len(found))
	summary := map[string]any{"total_objects": len(found)}
	if more {
		// SOAR's app stopped at the first page without a word; say that
		// more exist, how many when known, and how to get them.
		summary["truncated"] = true
		if available > len(found) {
			summary["available"] = available
			msg = fmt.Sprintf("Found %d of %d indicator(s); raise max_results (now %d) to %d to get them all", len(found), available, limit, available)
		} else {
			msg += fmt.Sprintf("; more exist: raise max_results (now %d) to get them", limit)
		}
	}
	return providers.Succeeded(msg, []any{map[string]any{"status": "Success", "data": found}}, summary)
}

// huntTarget is the first request of a hunt: only fields and tql, encoded as
// the SOAR app encodes them, byte for byte, so the signing vectors of the
// golden tests (hunts with owners, a domain, a file with every flag) hold.
func (c *Client) huntTarget(tql string, fields []string) string {
	q := url.Values{"tql": {tql}}
	if len(fields) > 0 {
		q["fields"] = fields
	}
	return c.rootPath + "/indicators?" + q.Encode()
}

// countTarget asks how many indicators match tql: TC sends count only with
// count=true, and one indicator is the least a page may carry.
func (c *Client) countTarget(tql string) string {
	return c.rootPath + "/indicators?" + url.Values{"count": {"true"}, "resultLimit": {"1"}, "tql": {tql}}.Encode()
}

// countPage is the part of a list envelope a count request reads.
type countPage struct {
	Status string       `json:"status"`
	Count  *json.Number `json:"count"`
}

func (p *countPage) succeeded() bool { return p.Status == "Success" }

// countMatches asks the server how many indicators match tql, for a hunt
// that stopped at max_results with found indicators while a next page
// remained. The count is a courtesy: when it cannot be had (a failed
// request, no count in the answer, a count that does not exceed what was
// found) the hunt keeps its result without it, and the reason is logged at
// debug. It returns -1 then.
func (c *Client) countMatches(ctx context.Context, call *providers.Call, tql string, found int) int {
	e := env(call)
	var page countPage
	reason := ""
	if err := c.get(ctx, e, c.countTarget(tql), &page); err != nil {
		reason = c.failure(err).Message
	} else if page.Count == nil {
		reason = "the answer to count=true has no count"
	} else if n, err := page.Count.Int64(); err != nil || n <= int64(found) {
		reason = fmt.Sprintf("count %s is not a number above the %d found", page.Count.String(), found)
	} else {
		return int(n)
	}
	e.Logger().Debug("threatconnect: hunt: the count of matches is unavailable", "reason", reason)
	return -1
}

// search fetches target and then follows the next links, as received, until
// limit indicators are collected or there is no next page. more reports
// that the server holds further matches past limit; available is then how
// many match in all when the pages tell (all were read), else -1.
func (c *Client) search(ctx context.Context, env httpx.Env, target string, limit int) (found []any, more bool, available int, err error) {
	found = []any{}
	seen := map[string]bool{}
	for target != "" && !seen[target] {
		seen[target] = true
		var page listPage[any]
		if err := c.get(ctx, env, target, &page); err != nil {
			return nil, false, -1, err
		}
		found = append(found, page.Data...)
		if len(found) >= limit {
			switch {
			case page.Next != "":
				return found[:limit], true, -1, nil
			case len(found) > limit:
				return found[:limit], true, len(found), nil
			}
			return found, false, len(found), nil
		}
		if page.Next == "" || len(page.Data) == 0 {
			break
		}
		next, err := c.nextTarget(page.Next)
		if err != nil {
			return nil, false, -1, err
		}
		target = next
	}
	return found, false, len(found), nil
}

// nextTarget returns the request target of a next link, byte for byte as
// received, so that it is signed as the server will see it. A link to
// another scheme or host is refused: following it would send a signed
// request to a server the asset was not configured for.
func (c *Client) nextTarget(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("threatconnect: the server's next link is not a URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme, c.scheme) || !strings.EqualFold(u.Host, c.host) || u.User != nil {
		return "", fmt.Errorf("threatconnect: refusing to follow the next link to %s://%s: it is not the configured base_url host %s://%s; check base_url and the server's public URL setting",
			u.Scheme, u.Hostname(), c.scheme, c.host)
	}
	_, rest, _ := strings.Cut(next, "://")
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", fmt.Errorf("threatconnect: the server's next link has no path")
	}
	target, _, _ := strings.Cut(rest[i:], "#")
	for _, r := range target {
		if r <= ' ' || r == 0x7f {
			return "", fmt.Errorf("threatconnect: the server's next link contains white space or control characters")
		}
	}
	return target, nil
}

// The ThreatConnect indicator types post_data creates.
const (
	typeAddress = "Address"
	typeEmail   = "EmailAddress"
	typeFile    = "File"
	typeHost    = "Host"
	typeURL     = "URL"
)

// indicatorBody is the JSON body of POST /indicators. Pointers mark the
// optional values: nil is omitted, while a given 0 or false is sent.
type indicatorBody struct {
	Type           string         `json:"type"`
	IP             string         `json:"ip,omitempty"`
	Address        string         `json:"address,omitempty"`
	MD5            string         `json:"md5,omitempty"`
	SHA1           string         `json:"sha1,omitempty"`
	SHA256         string         `json:"sha256,omitempty"`
	Text           string         `json:"text,omitempty"`
	HostName       string         `json:"hostName,omitempty"`
	Rating         *float64       `json:"rating,omitempty"`
	Confidence     *int64         `json:"confidence,omitempty"`
	Size           *int64         `json:"size,omitempty"`
	DNSActive      *bool          `json:"dnsActive,omitempty"`
	WhoisActive    *bool          `json:"whoisActive,omitempty"`
	Attributes     *attributeList `json:"attributes,omitempty"`
	Tags           *namedList     `json:"tags,omitempty"`
	SecurityLabels *namedList     `json:"securityLabels,omitempty"`
}

type attributeList struct {
	Data []attribute `json:"data"`
}

type attribute struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Default bool   `json:"default"`
}

type namedList struct {
	Data []named `json:"data"`
}

type named struct {
	Name string `json:"name"`
}

// resolvePrimary builds the indicator of a primary_field: split on "," (and
// ";"), one value detected as ip/ipv6, email, hash, url or domain in that
// order, or several hashes that make one File (the last of each kind wins).
func resolvePrimary(field string) (indicatorBody, error) {
	values := splitList(field)
	switch {
	case len(values) == 0:
		return indicatorBody{}, errUnresolvedPrimary
	case len(values) == 1:
		v := values[0]
		switch {
		case providers.IsIP(v):
			return indicatorBody{Type: typeAddress, IP: v}, nil
		case providers.IsEmail(v):
			return indicatorBody{Type: typeEmail, Address: v}, nil
		case providers.IsHash(v):
			b := indicatorBody{Type: typeFile}
			b.setHash(v)
			return b, nil
		case providers.IsURL(v):
			return indicatorBody{Type: typeURL, Text: v}, nil
		case providers.IsDomain(v):
			return indicatorBody{Type: typeHost, HostName: v}, nil
		}
		return indicatorBody{}, errUnresolvedPrimary
	}
	b := indicatorBody{Type: typeFile}
	for _, v := range values {
		if !providers.IsHash(v) {
			return indicatorBody{}, errUnresolvedPrimary
		}
		b.setHash(v) // the last hash of each kind wins, as documented
	}
	return b, nil
}

func (b *indicatorBody) setHash(h string) {
	switch len(h) {
	case 32:
		b.MD5 = h
	case 40:
		b.SHA1 = h
	case 64:
		b.SHA256 = h
	}
}

// postTarget asks for the extras of the returned indicator, each once.
func (c *Client) postTarget() string {
	return c.rootPath + "/indicators?fields=securityLabels&fields=tags&fields=attributes"
}

func runPostData(ctx context.Context, c *Client, call *providers.Call) *providers.Result {
	p := call.Params
	body, err := resolvePrimary(p.String("primary_field"))
	if err != nil {
		return providers.Failedf("%v", err)
	}
	if p.Has("rating") {
		r := p.Float("rating")
		body.Rating = &r
	}
	if p.Has("confidence") {
		n := p.Int("confidence")
		body.Confidence = &n
	}
	if body.Type == typeFile && p.Has("size") {
		n := p.Int("size")
		body.Size = &n
	}
	if body.Type == typeHost {
		if p.Has("dns_active") {
			b := p.Bool("dns_active")
			body.DNSActive = &b
		}
		if p.Has("whois_active") {
			b := p.Bool("whois_active")
			body.WhoisActive = &b
		}
	}
	attrName, attrValue := p.String("attribute_name"), p.String("attribute_value")
	withAttribute := attrName != "" && attrValue != ""
	if withAttribute {
		body.Attributes = &attributeList{Data: []attribute{{Type: attrName, Value: attrValue, Default: true}}}
	}
	if t := p.String("tag"); t != "" {
		body.Tags = &namedList{Data: []named{{Name: t}}}
	}
	if l := p.String("security_label"); l != "" {
		body.SecurityLabels = &namedList{Data: []named{{Name: l}}}
	}
	payload, err := encodeBody(body)
	if err != nil {
		return providers.Failedf("threatconnect: post_data: encode the indicator: %v", err)
	}

	var posted object
	if err := c.call(ctx, env(call), http.MethodPost, c.postTarget(), payload, &posted); err != nil {
		return c.failure(err)
	}
	return providers.Succeeded("Data successfully posted to ThreatConnect", []any{map[string]any(posted)}, map[string]any{
		"total_objects":             1,
		"indicator_created/updated": true,
		"attribute_added":           withAttribute && hasAttribute(posted, attrName, attrValue),
	})
}

// encodeBody marshals without HTML escaping, so a URL's & goes out as is.
func encodeBody(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// hasAttribute reports whether the returned indicator carries the attribute.
func hasAttribute(env object, typ, value string) bool {
	ind, _ := env["data"].(map[string]any)
	attrs, _ := ind["attributes"].(map[string]any)
	list, _ := attrs["data"].([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		if m["type"] == typ && m["value"] == value {
			return true
		}
	}
	return false
}
