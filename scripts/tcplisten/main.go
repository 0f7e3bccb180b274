// Command tcplisten listens on TCP ports (all addresses, both families)
// until it is killed, so that SYNs to them are answered SYN-ACK: the open
// ports of scripts/bench-tcpping.sh. It accepts and closes whatever
// connects.
//
//	tcplisten 80 8080
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tcplisten PORT...")
		os.Exit(2)
	}
	for _, p := range os.Args[1:] {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcplisten:", err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Println("listening")
	select {}
}
