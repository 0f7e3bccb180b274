// Command cgo is a Go hello world that calls one C function through cgo
// and links nothing else: its start, next to a plain hello world, is the
// floor of any cgo binary (the dynamic loader, libc, the runtime's cgo
// start), which the make build of rawnet pays for filter expressions.
// scripts/bench-startup.sh times it.
package main

// static int one(void) { return 1; }
import "C"

import "fmt"

func main() {
	if C.one() == 1 {
		fmt.Println("hello, world")
	}
}
