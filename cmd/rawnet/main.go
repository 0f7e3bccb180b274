// Command rawnet is a network diagnostics tool for the raw-socket and
// connectionless end of networking: ICMP ping of one host or thousands,
// path probing, packet crafting, capture and UDP testing, with JSON Lines
// output and a pcap of every probe and reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// A reader of stdout that goes away (rawnet ... | head) makes writes
	// fail with EPIPE, which rawnet reports and exits 2 on like any failed
	// write, instead of the Go runtime killing it with SIGPIPE. Ignoring
	// SIGPIPE does that for --version and help; a command that runs gets
	// signal handling in full from withSignals.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(runWith(context.Background(), withSignals, os.Args, os.Stdout, os.Stderr))
}

// withSignals gives a command that runs its signal handling: the first
// Ctrl-C or SIGTERM cancels the context, so the job stops cleanly, and a
// second one kills; SIGPIPE is handled (a failed write still returns EPIPE)
// rather than ignored, so that processes the command starts get the default
// SIGPIPE. It is set up only when a command runs, not for --version, help
// or bad usage: the first signal.Notify starts the runtime's signal-mask
// thread (a locked goroutine, the template thread and a handshake per
// signal), 0.4-0.5 ms of a 2 ms start (issue 15). Nothing undoes it when
// the command returns, as the process exits then: signal.Stop's handshakes
// took another 0.15 ms.
func withSignals(ctx context.Context) context.Context {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // the first Ctrl-C stops the job cleanly; a second one kills
	return ctx
}

// run executes one rawnet invocation and returns its exit code: 0 success,
// 1 the job ran but found nothing (no reply, no host up), 2 bad input or an
// error that stopped the job.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, nil, args, stdout, stderr)
}

// runWith is run whose commands, once one is about to run, get the
// context prepare derives from ctx (nil: ctx itself).
func runWith(ctx context.Context, prepare func(context.Context) context.Context, args []string, stdout, stderr io.Writer) int {
	app := newAppWith(commandsFor(args), stdout, stderr)
	if prepare != nil {
		app.Before = func(c *cli.Context) error {
			c.Context = prepare(c.Context)
			return nil
		}
	}
	err := app.RunContext(ctx, permuteArgs(app, args))
	return exitCode(err, stderr)
}

// newApp is rawnet with every command, as help, completion and the
// manual pages see it.
func newApp(stdout, stderr io.Writer) *cli.App {
	return newAppWith(commands(), stdout, stderr)
}

func newAppWith(cmds []*cli.Command, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "rawnet",
		Usage:                "raw-socket network diagnostics: ping, trace, craft, capture, UDP",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Commands:             cmds,
		OnUsageError:         onUsageError,
		// Any time: when it is zero, urfave/cli reads the executable's
		// modification time (readlink and stat at every start), and
		// nothing rawnet shows uses it.
		Compiled: time.Unix(0, 0),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("unknown command %q (see rawnet --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	cacheFlagNames(app.Commands)
	for _, cmd := range app.Commands {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = onUsageError
		}
	}
	return app
}

// commandTable lists rawnet's subcommands, in help order, by name and
// how to build each; each lives in a file of its own. whole marks the
// commands that work on the whole command tree.
var commandTable = []struct {
	name  string
	build func() *cli.Command
	whole bool
}{
	{"ping", pingCommand, false},
	{"trace", traceCommand, false},
	{"mtr", mtrCommand, false},
	{"lab", labCommand, false},
	{"udp", udpCommand, false},
	{"exporter", exporterCommand, false},
	{"send", sendCommand, false},
	{"decode", decodeCommand, false},
	{"capture", captureCommand, false},
	{"read", readCommand, false},
	{"completion", completionCommand, true},
	{"doc-model", docModelCommand, true},
}

// commands builds every subcommand.
func commands() []*cli.Command {
	cmds := make([]*cli.Command, len(commandTable))
	for i, e := range commandTable {
		cmds[i] = e.build()
	}
	return cmds
}

// commandsFor builds only the subcommand args name, when it names one that
// does not need the others, none for --version alone, and otherwise all
// of them: building every command's flags is about 0.3 ms of a 3.5 ms
// start (issue 15), and a run of one command never shows the others (app
// help, which lists them, is only for a first argument that is not a
// command).
func commandsFor(args []string) []*cli.Command {
	if len(args) == 2 && (args[1] == "--version" || args[1] == "-v") {
		return nil // the version alone shows no command
	}
	if len(args) > 1 {
		for _, e := range commandTable {
			if e.name == args[1] && !e.whole {
				return []*cli.Command{e.build()}
			}
		}
	}
	return commands()
}

// errUsage marks bad input: an unknown flag, a flag value out of range, a
// missing argument. It exits with status 2.
var errUsage = errors.New("usage")

// usageErrorf reports bad input as one line that names the flag or argument.
func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

// exitError carries an exit code without a message (the command has already
// said what happened, e.g. "no reply").
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// firstErr is the first error that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	msg = strings.Replace(msg, "flag provided but not defined: ", "unknown flag ", 1)
	return usageErrorf("%s", msg)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return int(ee)
	}
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
		fmt.Fprintf(stderr, "rawnet: %s\n", msg)
		return 2
	}
	fmt.Fprintf(stderr, "rawnet: %s\n", msg)
	return 2
}
