package main

import (
	"bufio"
	"errors"
	"strings"

	"github.com/rawnet/rawnet/internal/jsonl"
)

// One policy for output that cannot be written, whatever the command and
// whether it prints text or JSON: when a write to standard output fails
// (EPIPE from a reader that went away, ENOSPC, a closed stdout), the job
// stops, rawnet says so in one line on stderr ("rawnet: write output:
// ...") and exits with status 2. Nothing is written after the failure, and
// no error text ever goes into the output itself.
//
// Output goes through a *bufio.Writer (text) and a jsonl.Writer on top of
// it (JSON): both keep the first error and fail every later write with it,
// so a sink can write a whole line and check once.

// errOutput marks an error writing standard output.
var errOutput = errors.New("write output")

// outputError marks err, a failed write or flush of standard output, with
// errOutput; nil stays nil and a marked error is returned as it is.
func outputError(err error) error {
	if err == nil || errors.Is(err, errOutput) {
		return err
	}
	return &outputErr{err}
}

// outputErr reads "write output: <cause>", without the jsonl prefix.
type outputErr struct{ err error }

func (e *outputErr) Error() string {
	return errOutput.Error() + ": " + strings.TrimPrefix(e.err.Error(), jsonl.ErrWrite.Error()+": ")
}

func (e *outputErr) Unwrap() []error { return []error{errOutput, e.err} }

// flushOutput flushes w and returns the first error any write to it met,
// marked as an output error.
func flushOutput(w *bufio.Writer) error {
	return outputError(w.Flush())
}

// writeError returns the first error any write to w met (bufio.Writer keeps
// it), marked as an output error, without flushing.
func writeError(w *bufio.Writer) error {
	_, err := w.Write(nil) // a bufio.Writer returns its sticky error
	return outputError(err)
}

// jsonError is outputError for an error of a jsonl.Writer: a failed write
// is marked, an encoding error (a bug, not the output) is returned as it is.
func jsonError(err error) error {
	if errors.Is(err, jsonl.ErrWrite) {
		return outputError(err)
	}
	return err
}
