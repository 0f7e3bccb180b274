package main

import (
	"embed"
	"encoding/json"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/internal/clidoc"
)

// The long description of each command lives in doc/<path>.txt (doc/ping.txt,
// doc/udp-serve.txt; doc/rawnet.txt for the program): it is both the
// DESCRIPTION of --help and the body of the man page, written in clidoc's
// plain-text markup. internal/cmd/gendocs turns the model of the commands
// into docs/man/*.1 and docs/*.md (make docs); a test fails when those are
// stale.
//
//go:generate sh -c "go run . doc-model | go run ../../internal/cmd/gendocs -out ../../docs"
//go:embed doc/*.txt
var docFiles embed.FS

// flagChoices are the fixed value sets of flags, for completion and the man
// pages, keyed by command path and flag name. A test checks that each
// flag exists and that its usage text names every value.
var flagChoices = map[string][]string{
	"ping M":         {"do", "dont", "want", "probe"},
	"ping socket":    {"auto", "raw", "datagram"},
	"ping P":         {"icmp", "tcp", "udp"},
	"trace P":        {"udp", "icmp", "tcp"},
	"udp serve mode": {"echo", "sink", "reflect"},
	"capture Q":      {"in", "out", "inout"},
	"decode link":    {"auto", "eth", "ip", "ip4", "ip6", "sll", "sll2", "null"},
}

// docText returns the long description of the command at path ("" for the
// program), as written.
func docText(path string) string {
	name := "rawnet"
	if path != "" {
		name = strings.ReplaceAll(path, " ", "-")
	}
	b, err := docFiles.ReadFile("doc/" + name + ".txt")
	if err != nil {
		return ""
	}
	return string(b)
}

// The long descriptions reach --help only when help is printed: reading
// and stripping them for every run cost 36 µs and 130 KB per start
// (BenchmarkNewApp), for text that most runs never show.
func init() {
	printHelp := cli.HelpPrinter
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		addDescription(data)
		printHelp(w, templ, data)
	}
}

// addDescription gives the app or command whose help is about to be
// printed its long description, as the terminal shows it.
func addDescription(data any) {
	switch d := data.(type) {
	case *cli.App:
		if d.Description == "" {
			d.Description = clidoc.Plain(docText(""))
		}
	case *cli.Command:
		if d.Description == "" {
			// HelpName is the command line that reaches it: "rawnet udp serve".
			_, path, _ := strings.Cut(d.HelpName, " ")
			d.Description = clidoc.Plain(docText(path))
		}
	}
}

// docModel is the model of rawnet's commands that the man pages and the
// completion scripts are made from: the descriptions as written (with their
// markup), not as the terminal shows them.
func docModel(app *cli.App) *clidoc.App {
	m := clidoc.FromApp(app, clidoc.Options{
		Choices:    flagChoices,
		ArgChoices: map[string][]string{"completion": clidoc.Shells},
	})
	m.Description = docText("")
	m.Walk(func(path string, c *clidoc.Command) {
		if d := docText(path); d != "" {
			c.Description = d
		}
	})
	return m
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("completion: want one SHELL argument: bash, zsh or fish")
			}
			shell := c.Args().First()
			if !isShell(shell) {
				return usageErrorf("completion: SHELL %q: want bash, zsh or fish", shell)
			}
			return docModel(c.App).Complete(c.App.Writer, shell)
		},
	}
}

func isShell(s string) bool {
	for _, sh := range clidoc.Shells {
		if s == sh {
			return true
		}
	}
	return false
}

// docModelCommand prints the model as JSON for internal/cmd/gendocs
// (make docs); hidden, since it is for building rawnet, not for users.
func docModelCommand() *cli.Command {
	return &cli.Command{
		Name:   "doc-model",
		Usage:  "print the model of the commands as JSON, for make docs",
		Hidden: true,
		Action: func(c *cli.Context) error {
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "  ")
			return enc.Encode(docModel(c.App))
		},
	}
}
