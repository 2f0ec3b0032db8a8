package providers_test

import (
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

// TestShortSecretIsRefused guards issue 14 item 11: a secret shorter than
// four characters cannot be redacted without blanking ordinary text, so
// asset config refuses it with the reason, and never prints it.
func TestShortSecretIsRefused(t *testing.T) {
	p := testProvider()
	if _, err := providers.NewRegistry(p); err != nil {
		t.Fatal(err)
	}
	_, err := providers.OpenAsset("d", p, map[string]any{"token": "x9z"})
	if err == nil || !strings.Contains(err.Error(), "token is shorter than 4 characters") || strings.Contains(err.Error(), "x9z") {
		t.Fatalf("err = %v, want a refusal naming the variable and not the value", err)
	}
	if _, err := providers.OpenAsset("d", p, map[string]any{"token": "wxyz"}); err != nil {
		t.Fatalf("a four-character secret was refused: %v", err)
	}
}
