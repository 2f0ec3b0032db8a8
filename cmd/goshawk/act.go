package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goshawk/goshawk/internal/hint"
	"github.com/spf13/cobra"

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

func (a *app) actionsCommand() *cobra.Command {
	var asJSON, asLua bool
	c := &cobra.Command{
		Use:   "actions [PROVIDER]",
		Short: "list providers, their actions and parameters (--lua: type stubs for editors)",
		Long: `List the providers this binary carries, each with its asset config keys and
its actions with their parameters (type, required or optional, description,
allowed values, default). With a PROVIDER, only that one.

--json prints the same specs as JSON, for tools; --lua prints Lua language
server type stubs, with the assets of the config when there is one, so an
editor completes tc.hunt_ip{...} while a playbook is written. Needs no
secrets.`,
		Example:           "  goshawk actions\n  goshawk actions threatconnect --json\n  goshawk actions --lua > goshawk.d.lua",
		Args:              argsBetween(0, 1),
		ValidArgsFunction: a.completeProviders,
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdActions(ctx, a, pos, asJSON, asLua)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&asLua, "lua", false, "print Lua type stubs for editors (assets from the config when there is one)")
	return c
}

func cmdActions(_ context.Context, a *app, pos []string, asJSON, asLua bool) int {
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
	if asLua {
		assets := map[string]string{}
		if cfg, err := a.loadConfig(); err == nil {
			for name, as := range cfg.Assets {
				assets[name] = as.Provider.Name
			}
		}
		writeLuaStubs(a.stdout, provs, assets)
		return exitOK
	}
	if asJSON {
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
			writeActionExtras(a.stdout, &s, "    ")
			writeParams(a.stdout, s.Params, "    ")
		}
		fmt.Fprintln(a.stdout)
	}
	return exitOK
}

// writeActionExtras prints what an action's spec says besides its
// parameters: its doc, the other names it answers to (SOAR's display names
// and aliases), the Swimlane grouped inputs it takes, and its examples as
// goshawk act lines.
func writeActionExtras(w io.Writer, s *providers.Spec, indent string) {
	if s.Doc != "" {
		fmt.Fprintf(w, "%s%s\n", indent, s.Doc)
	}
	if names := providers.ActionNames(s); len(names) > 1 {
		fmt.Fprintf(w, "%salso called: %s\n", indent, strings.Join(names[1:], ", "))
	}
	if len(s.Grouped) > 0 {
		fmt.Fprintf(w, "%sgrouped inputs (Swimlane): %s\n", indent, strings.Join(s.Grouped, ", "))
	}
	for _, e := range s.Examples {
		args := make([]string, 0, len(e.Params))
		for _, k := range slices.Sorted(maps.Keys(e.Params)) {
			v := fmt.Sprint(e.Params[k])
			switch e.Params[k].(type) {
			case map[string]any, []any, []map[string]any:
				// Objects and lists go on the command line as JSON.
				if b, err := json.Marshal(e.Params[k]); err == nil {
					v = string(b)
				}
			}
			args = append(args, k+"="+shellWord(v))
		}
		fmt.Fprintf(w, "%sexample: goshawk act ASSET %s %s   # %s\n", indent, s.Name, strings.Join(args, " "), e.Summary)
	}
}

// shellWord quotes a value for a shell when it needs it.
func shellWord(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\"$`\\|&;<>(){}*?[]#~") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
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
		m := map[string]any{"name": s.Name, "summary": s.Summary, "kind": s.Kind, "read_only": s.ReadOnly, "parameters": params(s.Params)}
		if s.Doc != "" {
			m["doc"] = s.Doc
		}
		if len(s.Aliases) > 0 {
			m["aliases"] = s.Aliases
		}
		if len(s.Grouped) > 0 {
			m["grouped_inputs"] = s.Grouped
		}
		if len(s.Examples) > 0 {
			ex := make([]any, 0, len(s.Examples))
			for _, e := range s.Examples {
				ex = append(ex, map[string]any{"summary": e.Summary, "params": e.Params})
			}
			m["examples"] = ex
		}
		actions = append(actions, m)
	}
	return map[string]any{"name": p.Name, "summary": p.Summary, "config": params(p.Config), "actions": actions}
}

// actionOutput is the --json shape of an action result.
type actionOutput struct {
	Asset  string `json:"asset"`
	Action string `json:"action"`
	*providers.Result
}

func (a *app) actCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "act ASSET ACTION [name=value ...]",
		Short: "run one action and print its result",
		Long: `Run one action of a configured asset and print its result: status, message,
summary and data. Parameters are name=value; they are checked against the
action's spec (goshawk actions) before anything is sent. An ingest action
(on_poll) stores its containers in the config's store.

Opens the asset, so its secrets must be in the environment. Exits 1 when the
action fails, 2 on a malformed call (unknown asset, action or parameter).`,
		Example:           "  goshawk act tc hunt_ip ip=1.2.3.4 tag=true\n  goshawk act tq indicator_search_with_value value=1.2.3.4 --json\n  goshawk act tc test_connectivity",
		Args:              argsBetween(2, -1),
		ValidArgsFunction: a.completeAssets(true),
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdAct(ctx, a, pos, asJSON)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the action result as JSON")
	return c
}

func cmdAct(ctx context.Context, a *app, pos []string, asJSON bool) int {
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
	if asJSON {
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
