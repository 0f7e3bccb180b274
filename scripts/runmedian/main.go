//go:build unix

// Command runmedian runs several commands in turn, -n rounds of each
// (alternating, so that drifting load from other processes hits every
// command alike), and prints for each the median wall time, the median CPU
// time (user+sys from the kernel's rusage, less noisy than wall time on a
// loaded machine) and each command's median ratio to the first one's.
// The benchmark scripts (scripts/bench-startup.sh, bench-peers.sh) use it
// inside a lab namespace, so no `ip netns exec` start-up is timed.
//
//	runmedian -n 21 -- 'hello' ./hello -- 'rawnet --version' bin/rawnet --version
//
// Each command is given as LABEL ARGV... and commands are separated by --.
// Output and errors of the commands are discarded; a command that fails is
// reported and makes runmedian exit 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

type command struct {
	label string
	argv  []string
	wall  []time.Duration
	cpu   []time.Duration
}

func main() {
	rounds := flag.Int("n", 21, "rounds (each command runs once per round)")
	flag.Parse()
	cmds, err := parse(flag.Args())
	if err != nil || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "usage: runmedian [-n ROUNDS] -- LABEL ARGV... [-- LABEL ARGV...]...")
		os.Exit(2)
	}
	for r := 0; r < *rounds; r++ {
		for _, c := range cmds {
			if err := c.run(); err != nil {
				fmt.Fprintf(os.Stderr, "runmedian: %s: %v\n", c.label, err)
				os.Exit(1)
			}
		}
	}
	report(cmds, *rounds)
}

// parse splits "LABEL ARGV... -- LABEL ARGV..." into commands.
func parse(args []string) ([]*command, error) {
	var cmds []*command
	for len(args) > 0 {
		if args[0] == "--" {
			args = args[1:]
			continue
		}
		end := slices.Index(args, "--")
		if end < 0 {
			end = len(args)
		}
		if end < 2 {
			return nil, fmt.Errorf("command %q has no argv", args[0])
		}
		cmds = append(cmds, &command{label: args[0], argv: args[1:end]})
		args = args[end:]
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("no command")
	}
	return cmds, nil
}

func (c *command) run() error {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	c.wall = append(c.wall, wall)
	c.cpu = append(c.cpu, cpu)
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is the median over rounds of c's time divided by base's in the
// same round.
func ratio(c, base []time.Duration) float64 {
	r := make([]float64, len(c))
	for i := range c {
		r[i] = float64(c[i]) / float64(base[i])
	}
	slices.Sort(r)
	n := len(r)
	if n%2 == 1 {
		return r[n/2]
	}
	return (r[n/2-1] + r[n/2]) / 2
}

func report(cmds []*command, rounds int) {
	base := cmds[0]
	fmt.Printf("  %d alternating rounds; medians of wall and CPU (user+sys) time, ratio to %q per round\n", rounds, base.label)
	for _, c := range cmds {
		fmt.Printf("  %-40s wall %8.2f ms  cpu %8.2f ms  wall ratio %5.2f  cpu ratio %5.2f\n",
			c.label, ms(median(c.wall)), ms(median(c.cpu)), ratio(c.wall, base.wall), ratio(c.cpu, base.cpu))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
