package testenv

import "testing"

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "false": false, "FALSE": false, "0": false, " false ": false,
		"true": true, "1": true, "yes": true, "TRUE": true, "on": true,
	} {
		if got := inCI(v); got != want {
			t.Errorf("CI=%q: InCI %v, want %v", v, got, want)
		}
	}
}
