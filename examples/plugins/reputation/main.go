// Command reputation is goshawk's example plugin. It scores an indicator
// from what ThreatConnect and ThreatQ say about it, and extracts or defangs
// indicators in free text. The hunt-enrich-post playbook calls it as
// plugins.reputation.score.
//
// Build it as a WASI reactor and drop it into the plugins folder:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/reputation.wasm ./examples/plugins/reputation
package main

import (
	"encoding/json"
	"fmt"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

// version can be set at build time with -ldflags "-X main.version=...".
var version = "1.0.0"

func init() {
	pdk.Describe("reputation", version)
	pdk.Register("score", "Scores an indicator from its ThreatConnect and ThreatQ data: {indicator, tc, tq} -> {verdict, rating, confidence, reasons}.", scoreJSON)
	pdk.Register("extract", "Extracts indicators (ip, ipv6, domain, url, email, md5, sha1, sha256) from {text}, refanging hxxp and [.] forms first.", extractJSON)
	pdk.Register("defang", "Defangs {indicator} so it can be shared without becoming a live link: http -> hxxp, . -> [.], @ -> [@].", defangJSON)
}

//go:wasmexport score
func scoreExport(ptr, size uint32) uint64 { return pdk.Call("score", ptr, size) }

//go:wasmexport extract
func extractExport(ptr, size uint32) uint64 { return pdk.Call("extract", ptr, size) }

//go:wasmexport defang
func defangExport(ptr, size uint32) uint64 { return pdk.Call("defang", ptr, size) }

// main never runs in a reactor; the build needs it all the same.
func main() {}

func scoreJSON(in json.RawMessage) (any, error) {
	var req ScoreRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fmt.Errorf("score: input must be {\"indicator\", \"tc\", \"tq\"}: %w", err)
	}
	return Score(req), nil
}

func extractJSON(in json.RawMessage) (any, error) {
	var req struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fmt.Errorf("extract: input must be {\"text\": \"...\"}: %w", err)
	}
	return Extract(req.Text), nil
}

func defangJSON(in json.RawMessage) (any, error) {
	var req struct {
		Indicator string `json:"indicator"`
	}
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fmt.Errorf("defang: input must be {\"indicator\": \"...\"}: %w", err)
	}
	return Defang(req.Indicator), nil
}
