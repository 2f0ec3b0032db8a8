package playbook

import (
	"fmt"
	"path/filepath"
)

// Names is the one rule for playbook names, used by LoadDir (validate, run)
// and by the hot-reloading host (serve): a name belongs to the file that
// claimed it first, and a later claim by another file is refused with a
// diagnostic at that file's name: (or at 1:1 when the name comes from the
// file name). LoadDir claims in file-name order. A serving host claims for
// the playbooks it is running before any newcomer, so a new file can never
// take a running playbook's name, whatever the file names.
//
// The zero value is ready to use.
type Names struct {
	files map[string]string // name -> file that holds it
}

// Claim gives pb.Name to pb.File, or returns the diagnostic that refuses it
// because another file holds the name. A file claiming a name it already
// holds is not refused.
func (n *Names) Claim(pb *Playbook) *Diagnostic {
	if n.files == nil {
		n.files = map[string]string{}
	}
	if holder, taken := n.files[pb.Name]; taken && holder != pb.File {
		line, col := pb.nameLine, pb.nameCol
		if line == 0 {
			line, col = 1, 1
		}
		return &Diagnostic{File: pb.File, Line: line, Col: col,
			Message: fmt.Sprintf("playbook name %q is already used by %s; names must be unique, so rename one", pb.Name, filepath.Base(holder))}
	}
	n.files[pb.Name] = pb.File
	return nil
}

// Holder returns the file that holds name.
func (n *Names) Holder(name string) (file string, ok bool) {
	file, ok = n.files[name]
	return file, ok
}
