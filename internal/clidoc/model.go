// Package clidoc describes a urfave/cli application as plain data (its
// commands, flags, value sets and long descriptions) and renders that one
// model as man pages (roff), Markdown and shell completion scripts for bash,
// zsh and fish, so that --help, the manual and completion never disagree.
//
// Long descriptions are written in a small plain-text markup that reads well
// as it is in a terminal (see Parse); the renderers turn it into roff and
// Markdown. The package writes roff itself: it does not use urfave/cli's
// ToMan/ToMarkdown, which pull in blackfriday and go-md2man.
package clidoc

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// App is a command-line program: its name, one-line summary, the long text of
// its own manual page and its commands.
type App struct {
	Name        string     `json:"name"`
	Usage       string     `json:"usage"`
	Description string     `json:"description,omitempty"`
	Flags       []Flag     `json:"flags,omitempty"`
	Commands    []*Command `json:"commands"`
}

// Command is one (sub)command.
type Command struct {
	Name        string     `json:"name"`
	Aliases     []string   `json:"aliases,omitempty"`
	Usage       string     `json:"usage"`
	ArgsUsage   string     `json:"args_usage,omitempty"`
	Description string     `json:"description,omitempty"`
	Args        ArgKind    `json:"args,omitempty"`
	ArgChoices  []string   `json:"arg_choices,omitempty"`
	Flags       []Flag     `json:"flags,omitempty"`
	Commands    []*Command `json:"commands,omitempty"`
}

// ArgKind says what a command's positional arguments are, for completion.
type ArgKind string

// Kinds of positional arguments and flag values.
const (
	ArgNone   ArgKind = ""       // nothing to complete
	ArgFile   ArgKind = "file"   // a file name
	ArgIface  ArgKind = "iface"  // a network interface name
	ArgChoice ArgKind = "choice" // one of a fixed set of words
)

// Flag is one flag of a command.
type Flag struct {
	Names       []string `json:"names"`                 // as urfave/cli lists them: name, then aliases
	Placeholder string   `json:"placeholder,omitempty"` // the value's name in the usage text, empty for a switch
	Usage       string   `json:"usage"`                 // without the placeholder's back quotes
	Default     string   `json:"default,omitempty"`
	Value       ArgKind  `json:"value,omitempty"`   // how to complete the value
	Choices     []string `json:"choices,omitempty"` // the value set, when fixed
	Repeatable  bool     `json:"repeatable,omitempty"`
}

// TakesValue says whether the flag takes a value.
func (f Flag) TakesValue() bool { return f.Placeholder != "" }

// Spelled returns the flag's names as typed: -c, --count.
func (f Flag) Spelled() []string {
	out := make([]string, len(f.Names))
	for i, n := range f.Names {
		out[i] = dashed(n)
	}
	return out
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// Options adds to what the cli definitions say what they cannot.
type Options struct {
	// Choices are the fixed value sets of flags, keyed by the command path
	// and the flag's first name: "trace P", "udp serve mode".
	Choices map[string][]string
	// Args are the positional arguments of commands, keyed by command path,
	// when not told from ArgsUsage (which starting with FILE means files).
	Args map[string]ArgKind
	// ArgChoices are fixed positional words, keyed by command path.
	ArgChoices map[string][]string
}

// FromApp builds the model of app: visible commands and flags only.
func FromApp(app *cli.App, opt Options) *App {
	m := &App{Name: app.Name, Usage: app.Usage, Description: app.Description}
	m.Flags = flags(app.Flags, "", opt)
	m.Flags = append(m.Flags, helpFlag(), versionFlag())
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			m.Commands = append(m.Commands, command(c, "", opt))
		}
	}
	return m
}

func helpFlag() Flag    { return Flag{Names: []string{"help", "h"}, Usage: "show help"} }
func versionFlag() Flag { return Flag{Names: []string{"version", "v"}, Usage: "print the version"} }

func command(c *cli.Command, parent string, opt Options) *Command {
	path := strings.TrimSpace(parent + " " + c.Name)
	m := &Command{
		Name:        c.Name,
		Aliases:     c.Aliases,
		Usage:       c.Usage,
		ArgsUsage:   c.ArgsUsage,
		Description: c.Description,
		Flags:       flags(c.Flags, path, opt),
		ArgChoices:  opt.ArgChoices[path],
	}
	switch {
	case opt.Args[path] != "":
		m.Args = opt.Args[path]
	case strings.HasPrefix(c.ArgsUsage, "FILE"):
		m.Args = ArgFile
	case len(m.ArgChoices) > 0:
		m.Args = ArgChoice
	}
	for _, s := range c.Subcommands {
		if !s.Hidden && s.Name != "help" { // urfave/cli's own; --help is a flag
			m.Commands = append(m.Commands, command(s, path, opt))
		}
	}
	return m
}

func flags(fs []cli.Flag, path string, opt Options) []Flag {
	var out []Flag
	for _, f := range fs {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		d, ok := f.(cli.DocGenerationFlag)
		if !ok || f.Names()[0] == "help" || (path == "" && f.Names()[0] == "version") {
			continue // urfave/cli adds these when it runs; the model adds them always
		}
		placeholder, usage := unquoteUsage(d.GetUsage())
		if d.TakesValue() && placeholder == "" {
			placeholder = "VALUE"
		}
		fl := Flag{Names: f.Names(), Placeholder: placeholder, Usage: usage, Default: defaultText(d)}
		if sf, ok := f.(cli.DocGenerationSliceFlag); ok && sf.IsSliceFlag() {
			fl.Repeatable = true
		}
		if c := opt.Choices[strings.TrimSpace(path+" "+fl.Names[0])]; len(c) > 0 {
			fl.Value, fl.Choices = ArgChoice, c
		} else {
			fl.Value = placeholderKind(placeholder)
		}
		out = append(out, fl)
	}
	return out
}

// placeholderKind tells file and interface values from their placeholder.
func placeholderKind(p string) ArgKind {
	switch {
	case strings.HasSuffix(p, "FILE"):
		return ArgFile
	case strings.HasPrefix(p, "IFACE"):
		return ArgIface
	}
	return ArgNone
}

// defaultText is the default worth printing: not the zero values that mean
// "not set" (false, 0, empty).
func defaultText(d cli.DocGenerationFlag) string {
	if !d.TakesValue() {
		return ""
	}
	s := d.GetDefaultText()
	switch s {
	case "", "0", "false", "[]", `""`:
		return ""
	}
	return strings.Trim(s, `"`)
}

// unquoteUsage splits "wait `SECONDS` for ..." into the placeholder and the
// usage without back quotes, as urfave/cli does for --help.
func unquoteUsage(usage string) (string, string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	name := usage[i+1 : i+1+j]
	return name, usage[:i] + name + usage[i+1+j+1:]
}

// Walk calls fn for every command of m, depth first, with its path ("udp
// serve").
func (m *App) Walk(fn func(path string, c *Command)) {
	var walk func(string, []*Command)
	walk = func(parent string, cs []*Command) {
		for _, c := range cs {
			p := strings.TrimSpace(parent + " " + c.Name)
			fn(p, c)
			walk(p, c.Commands)
		}
	}
	walk("", m.Commands)
}

// names returns a command's name and aliases.
func (c *Command) names() []string { return append([]string{c.Name}, c.Aliases...) }
