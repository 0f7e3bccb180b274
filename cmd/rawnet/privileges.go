package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/rawnet/rawnet/internal/priv"
)

// dropPrivileges gives up every capability once a command's raw sockets
// and output files are open: nothing a command does afterwards needs them,
// so a bug in packet parsing or output runs without privileges. ping,
// trace, send, capture and udp scan call it between setup and the run.
// With verbose (their -v) it says on stderr what happened.
func dropPrivileges(stderr io.Writer, verbose bool) {
	if !hasNetRaw() {
		return
	}
	err := priv.Drop()
	switch {
	case err == nil:
		if verbose {
			fmt.Fprintf(stderr, "rawnet: capabilities dropped\n")
		}
	case errors.Is(err, priv.ErrDropUnsupported):
		if verbose {
			fmt.Fprintf(stderr, "rawnet: capabilities kept: %v\n", err)
		}
	default:
		fmt.Fprintf(stderr, "rawnet: warning: %v\n", err)
	}
}
