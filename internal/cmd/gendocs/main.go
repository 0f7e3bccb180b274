// Command gendocs writes rawnet's manual pages (docs/man/*.1, roff) and their
// Markdown copies (docs/*.md) from the model of the commands that
// `rawnet doc-model` prints: the same urfave/cli definitions and doc/*.txt
// texts that --help shows. Run by make docs:
//
//	rawnet doc-model | go run ./internal/cmd/gendocs -out docs
//
// With -check it writes nothing and exits 1 when a file under -out differs
// from what it would write.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rawnet/rawnet/internal/clidoc"
)

func main() {
	out := flag.String("out", "docs", "write to `DIR`/man/*.1 and DIR/*.md")
	model := flag.String("model", "-", "read the model from `FILE` (-: standard input)")
	check := flag.Bool("check", false, "write nothing; exit 1 when a file is stale")
	flag.Parse()
	if err := run(*model, *out, *check, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(modelFile, out string, check bool, stdout io.Writer) error {
	m, err := readModel(modelFile)
	if err != nil {
		return err
	}
	files := clidoc.Files(m, out, time.Now().UTC().Format(time.DateOnly))
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	stale := 0
	for _, name := range names {
		path := filepath.Join(out, name)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if check {
			fmt.Fprintf(stdout, "stale: %s\n", path)
			stale++
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	if stale > 0 {
		return fmt.Errorf("%d stale files under %s: run make docs", stale, out)
	}
	return nil
}

func readModel(name string) (*clidoc.App, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var m clidoc.App
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("reading the model: %w", err)
	}
	if m.Name == "" || len(m.Commands) == 0 {
		return nil, fmt.Errorf("reading the model: no commands")
	}
	return &m, nil
}
