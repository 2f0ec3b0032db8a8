package host

import "github.com/goshawk/goshawk/engine/logx"

// Redactor is the redactor of the host's secrets, for output the host does
// not write itself (the console's pages).
func (h *Host) Redactor() *logx.Redactor { return h.o.Redact }
