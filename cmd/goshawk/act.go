package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func printJSON(w io.Writer, v any) error {
	enc := jsonEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdActions(_ context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("actions", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	asLua := fs.Bool("lua", false, "print Lua type stubs for editors (assets from the config when there is one)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	if len(pos) > 1 {
		return a.fail(usagef("actions takes at most one provider name"))
	}
	provs := a.reg.Providers()
	if len(pos) == 1 {
		p, ok := a.reg.Provider(pos[0])
		if !ok {
			msg := fmt.Sprintf("unknown provider %q", pos[0])
			msg += hint.DidYouMean(pos[0], a.reg.Names())
			return a.fail(usagef("%s; providers: %s", msg, strings.Join(a.reg.Names(), ", ")))
		}
		provs = []*providers.Provider{p}
	}
	if *asLua {
		assets := map[string]string{}
		if cfg, err := a.loadConfig(); err == nil {
			for name, as := range cfg.Assets {
				assets[name] = as.Provider.Name
			}
		}
		writeLuaStubs(a.stdout, provs, assets)
		return exitOK
	}
	if *asJSON {
		out := make([]any, 0, len(provs))
		for _, p := range provs {
			out = append(out, describeProvider(p))
		}
		printJSON(a.stdout, out)
		return exitOK
	}
	for _, p := range provs {
		fmt.Fprintf(a.stdout, "%s: %s\n", p.Name, p.Summary)
		fmt.Fprintf(a.stdout, "  asset config:\n")
		writeParams(a.stdout, p.Config, "    ")
		for _, s := range p.Actions {
			ro := ""
			if s.ReadOnly {
				ro = ", read only"
			}
			fmt.Fprintf(a.stdout, "  %s (%s%s): %s\n", s.Name, s.Kind, ro, s.Summary)
			writeParams(a.stdout, s.Params, "    ")
		}
		fmt.Fprintln(a.stdout)
	}
	return exitOK
}

func writeParams(w io.Writer, params []providers.Param, indent string) {
	if len(params) == 0 {
		fmt.Fprintf(w, "%s(no parameters)\n", indent)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range params {
		req := "optional"
		if p.Required {
			req = "required"
		}
		extra := ""
		if len(p.Contains) > 0 {
			extra += " contains: " + strings.Join(p.Contains, ",") + "."
		}
		if len(p.Enum) > 0 {
			extra += " one of: " + strings.Join(p.Enum, ", ") + "."
		}
		if p.Default != nil && !p.Secret {
			extra += fmt.Sprintf(" default: %v.", p.Default)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s%s\n", indent, p.Name, p.Type, req, p.Doc, extra)
	}
	tw.Flush()
}

// describeProvider is the JSON form of a provider's specs, the machine
// readable docs that editors and other tools consume.
func describeProvider(p *providers.Provider) map[string]any {
	params := func(ps []providers.Param) []any {
		out := make([]any, 0, len(ps))
		for _, p := range ps {
			m := map[string]any{"name": p.Name, "type": p.Type, "required": p.Required, "doc": p.Doc}
			if len(p.Contains) > 0 {
				m["contains"] = p.Contains
			}
			if len(p.Enum) > 0 {
				m["enum"] = p.Enum
			}
			if p.Default != nil && !p.Secret {
				if d, ok := p.Default.(time.Duration); ok {
					m["default"] = d.String()
				} else {
					m["default"] = p.Default
				}
			}
			if p.Min != nil {
				m["min"] = *p.Min
			}
			if p.Max != nil {
				m["max"] = *p.Max
			}
			if p.Secret {
				m["secret"] = true
			}
			out = append(out, m)
		}
		return out
	}
	actions := make([]any, 0, len(p.Actions))
	for _, s := range p.Actions {
		actions = append(actions, map[string]any{"name": s.Name, "summary": s.Summary, "kind": s.Kind, "read_only": s.ReadOnly, "parameters": params(s.Params)})
	}
	return map[string]any{"name": p.Name, "summary": p.Summary, "config": params(p.Config), "actions": actions}
}

// actionOutput is the --json shape of an action result.
type actionOutput struct {
	Asset  string `json:"asset"`
	Action string `json:"action"`
	*providers.Result
}

func cmdAct(ctx context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("act", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the action result as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	if len(pos) < 2 {
		return a.fail(usagef("usage: goshawk act ASSET ACTION [name=value ...] [--json]"))
	}
	raw, err := parseAssignments(pos[2:])
	if err != nil {
		return a.fail(err)
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	asset, err := cfg.OpenAsset(pos[0])
	if err != nil {
		return a.fail(usageError{err})
	}
	defer asset.Close()
	env := providers.Env{Log: a.log.With("asset", asset.Name, "action", pos[1])}
	if spec, ok := asset.Provider.Action(pos[1]); ok && spec.Kind == providers.Ingest {
		st, err := openStore(ctx, cfg)
		if err != nil {
			return a.fail(err)
		}
		defer st.Close()
		env.Ingest = st.AssetSink(asset.Name)
	}
	res, err := asset.Invoke(ctx, pos[1], raw, env)
	if err != nil { // a malformed call: unknown action or parameter, wrong type
		return a.fail(usageError{err})
	}
	if *asJSON {
		printJSON(a.stdout, actionOutput{Asset: asset.Name, Action: pos[1], Result: res})
	} else {
		printResult(a.stdout, asset.Name, pos[1], res)
	}
	if !res.OK() {
		return exitFailed
	}
	return exitOK
}

func printResult(w io.Writer, asset, action string, res *providers.Result) {
	fmt.Fprintf(w, "%s %s: %s\n", asset, action, res.Status)
	if res.Message != "" {
		fmt.Fprintf(w, "message: %s\n", res.Message)
	}
	if len(res.Summary) > 0 {
		fmt.Fprintf(w, "summary:")
		for _, k := range slices.Sorted(maps.Keys(res.Summary)) {
			fmt.Fprintf(w, " %s=%v", k, res.Summary[k])
		}
		fmt.Fprintln(w)
	}
	if len(res.Data) > 0 {
		fmt.Fprintln(w, "data:")
		b, _ := json.MarshalIndent(res.Data, "  ", "  ")
		fmt.Fprintf(w, "  %s\n", b)
	}
}
