package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteArgs moves a subcommand's flags in front of its positional
// arguments, so that "rawnet ping HOST -c 3" works as it does with iputils
// (Go's flag package stops at the first positional argument). A lone "--"
// ends flag handling as usual.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Find the subcommand (and nested subcommands) in args.
	i := 1
	cmds := app.Commands
	var cmd *cli.Command
	for i < len(args) {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		cmd = next
		cmds = next.Subcommands
		i++
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	takesValue := valueFlags(cmd.Flags)
	var flags, positional []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			break
		}
		name := strings.TrimLeft(a, "-")
		if short, value, ok := splitAttached(a, takesValue); ok {
			flags = append(flags, short, value) // -c3 is -c 3, as getopt reads it
			continue
		}
		if _, isFlag := takesValue[name]; !isFlag && (len(a) < 2 || a[0] != '-' || isNegativeNumber(a)) {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && j+1 < len(rest) {
			flags = append(flags, rest[j+1])
			j++
		}
	}
	out := append([]string{}, args[:i]...)
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// valueFlags returns every name and alias of the flags that take a value.
func valueFlags(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func isNegativeNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, r := range s[1:] {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// splitAttached recognises a one-letter flag with its value attached
// ("-c3", "-i0.2", "-W1"), as ping users type them.
func splitAttached(a string, takesValue map[string]bool) (flag, value string, ok bool) {
	if len(a) < 3 || a[0] != '-' || a[1] == '-' {
		return "", "", false
	}
	if _, known := takesValue[a[1:]]; known {
		return "", "", false // a flag named like this whole word
	}
	name := a[1:2]
	if !takesValue[name] {
		return "", "", false
	}
	return "-" + name, a[2:], true
}
