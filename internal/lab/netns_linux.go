package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/run/netns"

// Do runs fn on an OS thread switched into n's network namespace and
// switches the thread back afterwards. Sockets that fn opens stay in n's
// namespace for their whole life, and commands that fn starts (os/exec)
// run there too. Goroutines that fn starts do not: they run on other
// threads. Do returns fn's error.
func (n *Node) Do(fn func() error) error {
	target, err := unix.Open(filepath.Join(netnsDir, n.NS), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lab: open namespace %s: %w", n.NS, err)
	}
	defer unix.Close(target)
	errc := make(chan error, 1)
	// A fresh goroutine, so the caller's thread is never touched.
	go func() { errc <- doIn(target, n.NS, fn) }()
	return <-errc
}

func doIn(target int, ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: open current namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: enter namespace %s (needs CAP_SYS_ADMIN): %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so the runtime discards it when this
		// goroutine ends instead of reusing it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("lab: leave namespace %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// setSysctls writes settings in the namespace of the calling thread.
func setSysctls(s []sysctl) error {
	for _, kv := range s {
		if err := os.WriteFile(filepath.Join("/proc/sys", kv.key), []byte(kv.value), 0); err != nil {
			return fmt.Errorf("lab: sysctl %s=%q: %w", kv.key, kv.value, err)
		}
	}
	return nil
}
