package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// stateRoot holds one directory per lab: it reserves the name and keeps
// the pid of a detached responder.
const stateRoot = "/run/rawnet/lab"

// linkUpTimeout bounds the wait for links to come up.
const linkUpTimeout = 5 * time.Second

// cleanupTimeout bounds how long removing a lab may take.
const cleanupTimeout = 10 * time.Second

// Up builds the lab described by spec under name ("" picks a random unique
// name). On any error everything created so far is removed again. The lab
// lives until Close (or Down), even if ctx ends earlier: ctx only bounds
// the building.
func Up(ctx context.Context, name string, spec Spec) (*Lab, error) {
	c, err := buildChain(spec)
	if err != nil {
		return nil, err
	}
	name, err = reserveName(name)
	if err != nil {
		return nil, err
	}
	l := newLab(name, spec, c)
	if err := l.build(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("lab: up %s: %w", name, err), l.Close())
	}
	return l, nil
}

// reserveName claims a lab name by creating its state directory, which
// fails if another lab (in any process) holds it.
func reserveName(name string) (string, error) {
	if err := os.MkdirAll(stateRoot, 0o755); err != nil {
		return "", needRoot(err)
	}
	if name != "" {
		if !validName(name, 12) {
			return "", specErrorf("lab name %q: want 1-12 of a-z, 0-9", name)
		}
		return name, claim(name)
	}
	for range 8 {
		var b [3]byte
		rand.Read(b[:])
		name = hex.EncodeToString(b[:])
		if err := claim(name); !errors.Is(err, ErrExists) {
			return name, err
		}
	}
	return "", fmt.Errorf("lab: no free random lab name after 8 tries: %w", ErrExists)
}

func claim(name string) error {
	err := os.Mkdir(filepath.Join(stateRoot, name), 0o755)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s (remove it with: rawnet lab down %s)", ErrExists, name, name)
	}
	if err != nil {
		return needRoot(err)
	}
	if ns, _ := namespacesOf(name); len(ns) > 0 {
		os.Remove(filepath.Join(stateRoot, name))
		return fmt.Errorf("%w: %s has leftover namespaces %v (remove them with: rawnet lab down %s)",
			ErrExists, name, ns, name)
	}
	return nil
}

// needRoot explains a failure to create the lab's state.
func needRoot(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("lab: %w (building a lab needs root: CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW)", err)
	}
	return fmt.Errorf("lab: %w", err)
}

// build creates the namespaces, their settings, links, addresses, routes
// and rules, then the responder. Each step is one batch where it can be.
func (l *Lab) build(ctx context.Context) error {
	g := l.chain.g
	steps := []struct {
		name string
		run  func() error
	}{
		{"namespaces", func() error { return runScript(ctx, g.namespaceScript(l.Name), "ip", "-batch", "-") }},
		{"sysctls", l.setSysctls},
		{"links", func() error { return runScript(ctx, g.linkScript(l.Name), "ip", "-batch", "-") }},
		{"nodes", func() error { return l.configureNodes(ctx) }},
		{"responder", func() error { return l.startResponder(ctx) }},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if l.spec.failAt == s.name {
			return fmt.Errorf("%s: injected failure", s.name)
		}
	}
	return nil
}

func (l *Lab) setSysctls() error {
	for i, n := range l.chain.g.nodes {
		if err := l.Nodes[i].Do(func() error { return setSysctls(n.sysctls()) }); err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
	}
	return nil
}

// configureNodes runs each node's ip batch and nft ruleset, nodes in
// parallel, and waits until each node's links pass traffic.
func (l *Lab) configureNodes(ctx context.Context) error {
	g := l.chain.g
	routes := g.routes()
	deadline := time.Now().Add(linkUpTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	errs := make([]error, len(g.nodes))
	var wg sync.WaitGroup
	for i := range g.nodes {
		wg.Go(func() {
			node := l.Nodes[i]
			err := runScript(ctx, g.nodeScript(i, routes[i]), "ip", "-n", node.NS, "-batch", "-")
			if nft := g.nftScript(i); err == nil && nft != "" {
				// Started from a thread inside the namespace, nft runs there.
				err = node.Do(func() error { return runScript(ctx, nft, "nft", "-f", "-") })
			}
			if err == nil {
				err = node.Do(func() error { return waitLinksUp(deadline) })
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", node.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runScript runs a command that reads script on stdin and reports its
// output when it fails.
func runScript(ctx context.Context, script string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: install iproute2 and nftables: %w", name, err)
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// startResponder starts the delayed responder in slow, if there is one:
// in-process, or as a detached process when the spec asks for it.
func (l *Lab) startResponder(ctx context.Context) error {
	if l.Slow == nil {
		return nil
	}
	if l.spec.DetachedResponder != nil {
		return startDetached(ctx, l.Name, l.Slow.NS, l.spec.Delay, l.spec.DetachedResponder)
	}
	var r *Responder
	err := l.Slow.Do(func() error {
		var err error
		r, err = ListenResponder(l.spec.Delay)
		return err
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(rctx) }()
	l.stopResponder = func() error {
		cancel()
		return <-done
	}
	return nil
}

// Close removes the lab: responder, namespaces (and with them links,
// routes and nftables rules) and its state. It is safe to call more than
// once; later calls return the first result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.stopResponder != nil {
			errs = append(errs, l.stopResponder())
		}
		errs = append(errs, remove(l.Name))
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// List returns the names of the labs on this machine, sorted: those with a
// state directory and those with namespaces left behind.
func List() ([]string, error) {
	var names []string
	dirs, err := os.ReadDir(stateRoot)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for _, d := range dirs {
		if d.IsDir() && validName(d.Name(), 12) {
			names = append(names, d.Name())
		}
	}
	nss, err := allNamespaces()
	if err != nil {
		return nil, err
	}
	for _, ns := range nss {
		if name, ok := labOf(ns); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Down removes the lab called name, built by this or another process:
// it stops its detached responder, deletes its namespaces and its state.
func Down(name string) error {
	if !validName(name, 12) {
		return specErrorf("lab name %q: want 1-12 of a-z, 0-9", name)
	}
	_, statErr := os.Stat(filepath.Join(stateRoot, name))
	nss, err := namespacesOf(name)
	if err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) && len(nss) == 0 {
		return fmt.Errorf("%w: %s (see rawnet lab list)", ErrNotFound, name)
	}
	return remove(name)
}

// remove deletes whatever exists of lab name.
func remove(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	dir := filepath.Join(stateRoot, name)
	errs := []error{stopDetached(dir)}
	nss, err := namespacesOf(name)
	errs = append(errs, err)
	if len(nss) > 0 {
		var script strings.Builder
		for _, ns := range nss {
			fmt.Fprintf(&script, "netns del %s\n", ns)
		}
		errs = append(errs, runScript(ctx, script.String(), "ip", "-batch", "-"))
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("lab: %w", err))
	}
	return errors.Join(errs...)
}

// namespacesOf returns the namespaces of lab name.
func namespacesOf(name string) ([]string, error) {
	all, err := allNamespaces()
	var nss []string
	for _, ns := range all {
		if n, ok := labOf(ns); ok && n == name {
			nss = append(nss, ns)
		}
	}
	return nss, err
}

func allNamespaces() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var nss []string
	for _, e := range ents {
		nss = append(nss, e.Name())
	}
	return nss, nil
}
