package playbook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/yamlx"
)

// Ext is the file extension of playbooks.
const Ext = ".yaml"

// Load reads, decodes and lints the playbook at path. Any diagnostic means
// the playbook must not be used, and the returned Playbook is nil then.
// With a nil env, the checks against configured assets and loaded plugins
// are skipped.
func Load(path string, env *Env) (*Playbook, []Diagnostic) {
	src, err := yamlx.ReadFile(path, "playbook")
	if err != nil {
		return nil, []Diagnostic{{File: path, Line: 1, Col: 1, Message: fmt.Sprintf("cannot read the playbook: %v", err)}}
	}
	return Parse(path, src, env)
}

// Parse decodes and lints a playbook whose YAML, read from path, is src;
// the hot-reload path already holds the bytes. A script file is read
// relative to the directory of path.
func Parse(path string, src []byte, env *Env) (*Playbook, []Diagnostic) {
	d := newDecoder(path)
	pb := &Playbook{File: path, SourceLine: 1}
	d.decode(src, pb, strings.TrimSuffix(filepath.Base(path), Ext))

	lua := luaSource{file: path, src: pb.Source, inputsKnown: !d.badInputs}
	switch {
	case d.scriptNode != nil:
		script := pb.ScriptPath
		if !filepath.IsAbs(script) {
			script = filepath.Join(filepath.Dir(path), script)
		}
		data, err := yamlx.ReadFile(script, "script")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				d.Errorf(d.scriptNode, "script %s does not exist; the path is relative to the playbook's folder", pb.ScriptPath)
			} else {
				d.Errorf(d.scriptNode, "cannot read script %s: %v", pb.ScriptPath, err)
			}
			break
		}
		pb.ScriptPath, pb.Source, pb.SourceName = script, data, script
		lua.file, lua.src = script, data
	case d.luaNode != nil:
		lua.lineOff, lua.colOff = inlineOffsets(src, d.luaNode)
		pb.SourceName = path
		pb.SourceLine = lua.lineOff + 1
	}

	if env != nil {
		d.checkEnv(pb, env)
	}
	diags := d.Diags
	if lua.src != nil {
		diags = append(diags, lintLua(lua, pb, env)...)
	}
	if len(diags) > 0 {
		SortDiagnostics(diags)
		return nil, diags
	}

	pb.nameLine, pb.nameCol = 1, 1
	if d.nameNode != nil {
		pb.nameLine, pb.nameCol = d.nameNode.Line, d.nameNode.Column
	}
	pb.params = inputParams(pb.Inputs)
	pb.Version = version(src, pb.Source, pb.ScriptPath != "")
	return pb, nil
}

// checkEnv reports the assets, on_poll asset and plugins the playbook names
// that the configuration doesn't provide.
func (d *decoder) checkEnv(pb *Playbook, env *Env) {
	configured := make([]string, 0, len(env.Assets))
	for name := range env.Assets {
		configured = append(configured, name)
	}
	notConfigured := func(name string) string {
		if h := didYouMean(name, configured); h != "" {
			return fmt.Sprintf("asset %q is not configured%s", name, h)
		}
		return fmt.Sprintf("asset %q is not configured; add it under assets: in goshawk.yaml", name)
	}
	for i, name := range pb.Assets {
		if env.Assets[name] == nil {
			d.Errorf(d.assetNodes[i], "%s", notConfigured(name))
		}
	}
	if name := pb.Trigger.OnPoll; name != "" && env.Assets[name] == nil {
		d.Errorf(d.onPollNode, "trigger.on_poll: %s", notConfigured(name))
	}
	for i, name := range pb.Plugins {
		if _, ok := env.plugin(name); !ok {
			d.Errorf(d.pluginNodes[i], "plugin %q is not loaded; put %s.wasm in the plugins folder", name, name)
		}
	}
}

// inlineOffsets returns how Lua positions in the inline lua: value n map to
// positions in the YAML file. A literal block (lua: |) starts on the line
// after the indicator, indented by the block's indentation; other styles
// start at the value itself.
func inlineOffsets(src []byte, n *yaml.Node) (lineOff, colOff int) {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		col := n.Column - 1
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		return n.Line - 1, col
	}
	lines := strings.Split(string(src), "\n")
	for i := n.Line; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		if trimmed != "" {
			return n.Line, len(lines[i]) - len(trimmed)
		}
	}
	return n.Line, 0
}

// version hashes the YAML and the script file, so that editing either one
// makes a new version.
func version(yamlSrc, script []byte, hasScript bool) string {
	h := sha256.New()
	h.Write(yamlSrc)
	if hasScript {
		h.Write([]byte{0})
		h.Write(script)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// LoadDir loads every *.yaml playbook in dir (not its subfolders; files
// starting with '.' are editor leftovers and skipped). It returns the
// playbooks that are valid, by name, and the diagnostics of all files,
// including a playbook name used by two files: the file that sorts first
// keeps the name (see Names).
func LoadDir(dir string, env *Env) (map[string]*Playbook, []Diagnostic) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []Diagnostic{{File: dir, Line: 1, Col: 1, Message: fmt.Sprintf("cannot read the playbooks folder: %v", err)}}
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && IsFile(name) {
			files = append(files, filepath.Join(dir, name))
		}
	}
	sort.Strings(files)

	playbooks := make(map[string]*Playbook, len(files))
	var diags []Diagnostic
	var names Names
	for _, f := range files {
		pb, ds := Load(f, env)
		diags = append(diags, ds...)
		if pb == nil {
			continue
		}
		if d := names.Claim(pb); d != nil {
			diags = append(diags, *d)
			continue
		}
		playbooks[pb.Name] = pb
	}
	SortDiagnostics(diags)
	return playbooks, diags
}
