package playbook

import (
	"path/filepath"
	"strings"
)

// TestSuffix ends the name of a playbook's test file: hunt.yaml is tested
// by hunt_test.yaml beside it. Such files are not playbooks.
const TestSuffix = "_test" + Ext

// IsFile reports whether the file name (or path) is a playbook: a *.yaml
// file that is neither a test file nor an editor leftover starting with
// '.'.
func IsFile(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, Ext) && !strings.HasSuffix(base, TestSuffix) && !strings.HasPrefix(base, ".")
}
