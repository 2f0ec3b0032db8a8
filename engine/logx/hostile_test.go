package logx_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/logx"
)

// TestRedactsSecretEchoedInEveryEncoding guards issue 14 item 8: a
// password a server echoes JSON-escaped (& as \u0026), URL or form encoded,
// or inside base64 of user:password never reaches a log line or a redacted
// output.
func TestRedactsSecretEchoedInEveryEncoding(t *testing.T) {
	const pw = "Tr0ub4dor&3"
	basic := base64.StdEncoding.EncodeToString([]byte("analyst@example.com:" + pw))
	echoes := map[string]string{
		"json escape":        `{"error":"bad password Tr0ub4dor\u00263"}`,
		"json upper escape":  `{"error":"bad password Tr0ub4dor\u00263"}`,
		"query encoding":     "password=" + url.QueryEscape(pw),
		"path encoding":      "/login/" + url.PathEscape(pw),
		"lower-case hex":     "password=Tr0ub4dor%263",
		"html escape":        "<p>Tr0ub4dor&amp;3</p>",
		"basic header":       "Authorization: Basic " + basic,
		"raw base64 of user": base64.RawURLEncoding.EncodeToString([]byte("x:" + pw + ":y")),
	}
	r := logx.NewRedactor(pw)
	for name, text := range echoes {
		t.Run(name, func(t *testing.T) {
			got := r.String(text)
			if got == text || !strings.Contains(got, logx.Redacted) {
				t.Fatalf("not redacted: %q", got)
			}
			if strings.Contains(got, "Tr0ub4dor") || strings.Contains(got, basic) {
				t.Fatalf("%q still holds the password", got)
			}
			for _, format := range []string{"text", "json"} {
				var buf bytes.Buffer
				logx.New(&buf, format, slog.LevelInfo, r).Info("echo "+text, "body", text)
				if strings.Contains(buf.String(), "Tr0ub4dor") || strings.Contains(buf.String(), basic) {
					t.Fatalf("%s log leaks: %s", format, buf.String())
				}
			}
		})
	}
}

// TestShortSecretsAreRefusedAtConfigNotRedacted documents issue 14 item 11:
// a secret shorter than four bytes would blank out ordinary text, so the
// redactor ignores it and asset config refuses it (see the providers
// package's TestShortSecretIsRefused).
func TestShortSecretsAreRefusedAtConfigNotRedacted(t *testing.T) {
	r := logx.NewRedactor("abc")
	if got := r.String("abcdef abc"); got != "abcdef abc" {
		t.Fatalf("a short secret was redacted: %q", got)
	}
}

// TestEachAttributeOnce guards issue 11 item 4: a key the logger carries
// already, or that a record repeats, is written once, the first value
// winning, in text and JSON; an attribute named like a built-in key is
// written as fields.<key>.
func TestEachAttributeOnce(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log := logx.New(&buf, format, slog.LevelInfo, nil).With("asset", "tq").With("asset", "tq", "action", "x")
		log.Info("m", "asset", "other", "n", 1, "n", 2, "msg", "shadow", "time", "t", "level", "l")
		log.WithGroup("g").Info("grouped", "asset", "inner")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %q", format, buf.String())
		}
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
				t.Fatal(err)
			}
			if m["asset"] != "tq" || m["n"] != float64(1) || m["msg"] != "m" || m["fields.msg"] != "shadow" || m["fields.time"] != "t" || m["fields.level"] != "l" {
				t.Fatalf("json line = %s", lines[0])
			}
			// json.Unmarshal keeps the last of duplicate keys; count them.
			for _, k := range []string{`"asset"`, `"n"`, `"msg"`, `"time"`, `"level"`} {
				if c := strings.Count(lines[0], k+":"); c != 1 {
					t.Fatalf("%s appears %d times: %s", k, c, lines[0])
				}
			}
			if !strings.Contains(lines[1], `"g":{"asset":"inner"}`) {
				t.Fatalf("a grouped key was taken for a repeat: %s", lines[1])
			}
		} else {
			if strings.Count(lines[0], "asset=") != 1 || strings.Count(lines[0], " n=") != 1 || !strings.Contains(lines[0], "fields.msg=shadow") {
				t.Fatalf("text line = %s", lines[0])
			}
		}
	}
}

// TestDurationsSameInTextAndJSON guards issue 11 item 4: a duration is
// the same string in both formats, never nanoseconds in JSON.
func TestDurationsSameInTextAndJSON(t *testing.T) {
	cases := map[time.Duration]string{
		1500 * time.Millisecond:                     "1.5s",
		1234567 * time.Microsecond:                  "1.235s",
		12345678 * time.Nanosecond:                  "12.346ms",
		850 * time.Nanosecond:                       "850ns",
		3*time.Minute + 200*time.Microsecond + 1000: "3m0s",
	}
	for d, want := range cases {
		if got := logx.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		var text, js bytes.Buffer
		logx.New(&text, "text", slog.LevelInfo, nil).Info("x", "duration", d)
		logx.New(&js, "json", slog.LevelInfo, nil).Info("x", "duration", d)
		if !strings.Contains(text.String(), "duration="+want) || !strings.Contains(js.String(), `"duration":"`+want+`"`) {
			t.Errorf("%v: text %q json %q", d, text.String(), js.String())
		}
	}
}
