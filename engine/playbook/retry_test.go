package playbook

import (
	"strings"
	"testing"
)

func TestRetryInterrupted(t *testing.T) {
	const base = "name: p\nlua: return 1\n"
	pb, diags := Parse("p.yaml", []byte(base), nil)
	if len(diags) > 0 || pb.RetryInterrupted {
		t.Fatalf("default: %v, retry_interrupted %v; want no diagnostics and false", diags, pb.RetryInterrupted)
	}
	pb, diags = Parse("p.yaml", []byte(base+"retry_interrupted: true\n"), nil)
	if len(diags) > 0 || !pb.RetryInterrupted {
		t.Fatalf("retry_interrupted: true gave %v, %v", diags, pb.RetryInterrupted)
	}
	_, diags = Parse("p.yaml", []byte(base+"retry_interrupted: sometimes\n"), nil)
	if len(diags) != 1 || !strings.Contains(diags[0].String(), "p.yaml:3:") || !strings.Contains(diags[0].String(), "retry_interrupted") {
		t.Fatalf("a non-boolean retry_interrupted gave %v; want one diagnostic at p.yaml:3 naming the key", diags)
	}
}
