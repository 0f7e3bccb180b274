package main

import "github.com/urfave/cli/v2"

func pingCommand() *cli.Command {
	return &cli.Command{Name: "ping", Usage: "ICMP echo to one host or thousands"}
}
