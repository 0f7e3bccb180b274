package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The table that lets a run build only its own command names every
// command, in the order help lists them.
func TestCommandTable(t *testing.T) {
	cmds := commands()
	if len(cmds) != len(commandTable) {
		t.Fatalf("%d commands built, %d in commandTable", len(cmds), len(commandTable))
	}
	for i, c := range cmds {
		if c.Name != commandTable[i].name {
			t.Errorf("command %d is %q, commandTable says %q", i, c.Name, commandTable[i].name)
		}
	}
}

// A run that builds only the command it names behaves as one with every
// command: the same help for each command and subcommand, the same
// one-line error and exit status for a flag it does not know or a bad
// value, the same for an unknown command.
func TestOneCommandRunsAsWithAll(t *testing.T) {
	var cases [][]string
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			cases = append(cases,
				append(append([]string{}, p...), "--help"),
				append(append([]string{}, p...), "--no-such-flag"),
				append(append([]string{}, p...), "-c", "x", "198.18.0.1"))
			walk(p, c.Subcommands)
		}
	}
	walk([]string{"rawnet"}, commands())
	cases = append(cases, []string{"rawnet", "nosuchcommand"}, []string{"rawnet", "--help"}, []string{"rawnet"},
		[]string{"rawnet", "--version"}, []string{"rawnet", "-v"}, []string{"rawnet", "--version", "--help"})
	if len(cases) < 3*len(commandTable) {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, args := range cases {
		if args[len(args)-1] == "198.18.0.1" && args[1] != "ping" {
			continue // runs the command for real except where -c x is refused first
		}
		var o1, e1, o2, e2 bytes.Buffer
		c1 := run(context.Background(), args, &o1, &e1)
		app := newApp(&o2, &e2)
		c2 := exitCode(app.RunContext(context.Background(), permuteArgs(app, args)), &e2)
		if c1 != c2 || o1.String() != o2.String() || e1.String() != e2.String() {
			t.Errorf("%s: one command: exit %d, stdout %q, stderr %q; all commands: exit %d, stdout %q, stderr %q",
				strings.Join(args, " "), c1, o1.String(), e1.String(), c2, o2.String(), e2.String())
		}
	}
}

// Only the named command is built, none for --version alone; a first
// argument that is no command, and the commands that work on the whole
// tree, get every command.
func TestCommandsFor(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"rawnet", "trace", "-n", "198.18.5.2"}, 1},
		{[]string{"rawnet", "ping"}, 1},
		{[]string{"rawnet", "--version"}, 0},
		{[]string{"rawnet", "--version", "--help"}, len(commandTable)},
		{[]string{"rawnet"}, len(commandTable)},
		{[]string{"rawnet", "nosuchcommand"}, len(commandTable)},
		{[]string{"rawnet", "completion", "bash"}, len(commandTable)},
		{[]string{"rawnet", "doc-model"}, len(commandTable)},
	} {
		if got := len(commandsFor(tc.args)); got != tc.want {
			t.Errorf("commandsFor(%q) built %d commands, want %d", tc.args, got, tc.want)
		}
	}
}
