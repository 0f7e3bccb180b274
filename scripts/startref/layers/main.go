// Command layers is a Go hello world that links gopacket's layers package
// (its init registers every layer type and fills the metadata tables) and
// uses none of it: its start, next to a plain hello world, is what the
// decoders cost every rawnet command. scripts/bench-startup.sh times it.
package main

import (
	"fmt"

	_ "github.com/gopacket/gopacket/layers"
)

func main() { fmt.Println("hello, world") }
