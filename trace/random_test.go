package trace

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestRandom16DiffersBetweenProcesses runs two fresh processes (this test
// binary) that each print their first random16 draws: the per-run ports,
// ids and cookies that keep concurrent rawnet traces apart must not repeat
// from one process to the next.
func TestRandom16DiffersBetweenProcesses(t *testing.T) {
	if os.Getenv("RAWNET_RANDOM16_HELPER") == "1" {
		for range 4 {
			fmt.Printf("%d ", random16())
		}
		return
	}
	var outs [2]string
	for i := range outs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRandom16DiffersBetweenProcesses$")
		cmd.Env = append(os.Environ(), "RAWNET_RANDOM16_HELPER=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = string(out)
	}
	if outs[0] == outs[1] {
		t.Fatalf("two processes drew the same numbers: %q", outs[0])
	}
}
