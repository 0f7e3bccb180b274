// Command promstack is a Go hello world that links the Prometheus stack
// rawnet exporter needs (client_golang's registry and exporter-toolkit's
// web server) and uses none of it: its start, next to a plain hello world,
// is what that stack alone costs every rawnet command (package inits,
// their goroutines, a larger binary). scripts/bench-startup.sh times it.
package main

import (
	"fmt"

	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/exporter-toolkit/web"
)

func main() { fmt.Println("hello, world") }
