package logx_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/logx"
)

func TestRedactsEverywhere(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		r := logx.NewRedactor("topsecret-key")
		log := logx.New(&buf, format, slog.LevelDebug, r).With("cfg", "k=topsecret-key")
		log.Info("using topsecret-key", "attr", "x topsecret-key y", "err", errors.New("bad topsecret-key"))
		log.WithGroup("g").Warn("w", "a", "topsecret-key")
		if strings.Contains(buf.String(), "topsecret") {
			t.Fatalf("%s: secret leaked:\n%s", format, buf.String())
		}
		if strings.Count(buf.String(), logx.Redacted) != 6 {
			t.Fatalf("%s: want 6 redactions:\n%s", format, buf.String())
		}
	}
}

func TestWriterAndShortSecrets(t *testing.T) {
	var buf bytes.Buffer
	r := logx.NewRedactor("abc") // too short to redact safely
	r.Add("later-secret")
	w := r.Writer(&buf)
	w.Write([]byte("abc later-secret\n"))
	if got := buf.String(); got != "abc [REDACTED]\n" {
		t.Fatalf("got %q", got)
	}
	var nilR *logx.Redactor
	if nilR.String("x") != "x" {
		t.Fatal("nil redactor changed text")
	}
}
