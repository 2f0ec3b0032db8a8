package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

// printRunTree prints a run record as a tree a person can debug from: the
// run's outcome, each step with its parameters, message, duration and
// summary (its data too when verbose), the run's log lines, then the error
// or the result.
func printRunTree(w io.Writer, r *store.Run, verbose bool) {
	var b bytes.Buffer
	dur := ""
	if r.Finished != nil {
		dur = " in " + r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	fmt.Fprintf(&b, "run %d  %s (version %s, %s): %s%s\n", r.ID, r.Playbook, r.Version, r.Trigger, r.Status, dur)
	fmt.Fprintf(&b, "  started %s", r.Started.Format(time.RFC3339))
	if r.ContainerID != 0 {
		fmt.Fprintf(&b, ", container %d", r.ContainerID)
	}
	b.WriteString("\n")
	if len(r.Inputs) > 0 {
		fmt.Fprintf(&b, "  inputs: %s\n", compactJSON(r.Inputs))
	}
	if len(r.Steps) > 0 {
		b.WriteString("  steps:\n")
	}
	for i, s := range r.Steps {
		branch, stem := "├─", "│ "
		if i == len(r.Steps)-1 {
			branch, stem = "└─", "  "
		}
		fmt.Fprintf(&b, "  %s %d. %s.%s  %s  %.1f ms\n", branch, i+1, s.Asset, s.Action, s.Status, s.DurationMS)
		field := func(name, text string) {
			lines := strings.Split(text, "\n")
			fmt.Fprintf(&b, "  %s    %-8s %s\n", stem, name+":", lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(&b, "  %s    %-8s %s\n", stem, "", l)
			}
		}
		if s.Params != nil {
			field("params", string(s.Params))
		}
		if s.Message != "" {
			field("message", s.Message)
		}
		if res := s.Result; res != nil {
			if len(res.Summary) > 0 && string(res.Summary) != "{}" {
				field("summary", string(res.Summary))
			}
			if n := countItems(res.Data); n > 0 {
				if verbose {
					field("data", indentJSON(res.Data))
				} else {
					field("data", fmt.Sprintf("%d item(s), %s; -v shows them", n, byteSize(len(res.Data))))
				}
			}
		}
		if t := s.Truncated; t != nil {
			field("cut", fmt.Sprintf("%s over the %s cap of a step; left out: %s",
				byteSize(t.Bytes), byteSize(t.Limit), strings.Join(t.Omitted, ", ")))
		}
	}
	if len(r.Log) > 0 {
		b.WriteString("  log:\n")
		for _, l := range r.Log {
			fmt.Fprintf(&b, "    %s %-5s %s", l.Time.Format("15:04:05.000"), l.Level, l.Message)
			if len(l.Fields) > 0 {
				fmt.Fprintf(&b, "  %s", l.Fields)
			}
			b.WriteString("\n")
		}
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", r.Error)
	}
	if r.Result != nil {
		fmt.Fprintf(&b, "  result: %s\n", compactJSON(r.Result))
	}
	w.Write(b.Bytes())
}

// compactJSON is v as one line of JSON.
func compactJSON(v any) string {
	var b strings.Builder
	enc := jsonEncoder(&b)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// indentJSON is raw indented for reading, or raw as it is if it is not JSON.
func indentJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// countItems is the length of a JSON array, 0 for anything else.
func countItems(raw json.RawMessage) int {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return 0
	}
	return len(items)
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
