package main

import (
	"os"
	"os/exec"
	"testing"
)

// rawnet sets up its signal handling only when a command runs (issue 15:
// the first signal.Notify costs about 0.4 ms of start). --version and help
// ignore SIGPIPE instead, so that a reader that has gone (rawnet --version
// | true) still does not kill them with SIGPIPE: they exit 0 as before.
func TestVersionAndHelpSurviveABrokenPipe(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--help"}, {"trace", "--help"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first write
		cmd := exec.Command(rawnetBin, args...)
		cmd.Stdout = w
		err = cmd.Run()
		w.Close()
		if err != nil {
			t.Errorf("rawnet %v with a broken stdout: %v (want exit 0)", args, err)
		}
	}
}
