package main

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/robfig/cron/v3"
	_ "github.com/tetratelabs/wazero"
	_ "github.com/yuin/gopher-lua"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)

func main() {}
