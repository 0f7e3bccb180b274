// Package jsonl writes the JSON Lines output that every rawnet command
// shares: one compact JSON object per line, each line written out as soon as
// it is emitted so that a consumer such as `rawnet ping -j ... | jq` sees
// events live.
//
// It is also the one place where a command's output meets a failed write:
// a Writer keeps the first write or flush error and refuses every later
// line with it (see Writer.Err), so a command stops at the first failure
// instead of writing on, and never writes an error text into the stream.
//
// Events are caller-defined structs whose first field is
//
//	Type string `json:"type"`
//
// naming the event ("reply", "timeout", "summary", ...). Durations are
// float milliseconds in fields named *_ms (see [Ms]); times are strings made
// by [Time]. Lines that must be built without allocating (a line per
// captured packet) are appended field by field with [AppendString],
// [AppendTime] and friends and written with [Writer.WriteLine].
package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrNotEvent is returned by Emit for a value that does not encode as a
// JSON object whose first member is a non-empty string "type".
var ErrNotEvent = errors.New("jsonl: not an event")

// Writer emits JSON Lines events to an io.Writer. It is safe for concurrent
// use: lines from different goroutines never interleave.
type Writer struct {
	mu       sync.Mutex
	w        io.Writer
	buf      bytes.Buffer
	enc      *json.Encoder
	err      error // the first failed write or flush: sticky
	buffered bool  // leave flushing to the caller
}

// New returns a Writer that writes to w. When w has a Flush method (a
// *bufio.Writer, for one) it is flushed after every line, so that a reader
// sees each event live.
func New(w io.Writer) *Writer {
	jw := &Writer{w: w}
	jw.enc = json.NewEncoder(&jw.buf)
	jw.enc.SetEscapeHTML(false) // keep "<", ">" and "&" readable
	return jw
}

// NewBuffered returns a Writer that leaves flushing w to the caller: for
// output of many lines in a row (packets read from a file), where a flush
// per line would cost a system call each.
func NewBuffered(w io.Writer) *Writer {
	jw := New(w)
	jw.buffered = true
	return jw
}

// ErrWrite is wrapped by the error of a write or flush that failed, and by
// every error returned after it: once a write fails the Writer writes
// nothing more.
var ErrWrite = errors.New("jsonl: write")

// Err returns the error of the first write or flush that failed (wrapping
// ErrWrite and the cause), or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// WriteLine writes one line built with the Append functions: it must start
// with {"type":" and a non-empty type, and end with "}\n"; anything else is
// rejected with an error wrapping ErrNotEvent and nothing is written. It
// allocates nothing.
func (w *Writer) WriteLine(line []byte) error {
	if !isEvent(line) || !bytes.HasSuffix(line, []byte("}\n")) {
		return fmt.Errorf("%w: line %.40q", ErrNotEvent, line)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.write(line)
}

// write writes a line and flushes, keeping the first failure; w.mu is held.
func (w *Writer) write(line []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(line); err != nil {
		w.err = fmt.Errorf("%w: %w", ErrWrite, err)
		return w.err
	}
	if w.buffered {
		return nil
	}
	if err := flush(w.w); err != nil {
		w.err = fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return w.err
}

// Emit encodes v as one line of compact JSON and writes it, with its
// newline, in a single Write call, then flushes w if it can be flushed.
// v must encode as an object whose first member is "type" with a non-empty
// string value, as a struct with the Type field first does; anything else
// is rejected with an error wrapping ErrNotEvent and nothing is written.
// After a failed write it writes nothing and returns that write's error.
func (w *Writer) Emit(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return fmt.Errorf("jsonl: encode %T: %w", v, err)
	}
	line := w.buf.Bytes()
	if !isEvent(line) {
		return fmt.Errorf("%w: %T encodes as %.40s", ErrNotEvent, v, line)
	}
	return w.write(line)
}

// isEvent reports whether line starts with {"type":"<at least one char>.
func isEvent(line []byte) bool {
	const prefix = `{"type":"`
	return bytes.HasPrefix(line, []byte(prefix)) && len(line) > len(prefix) && line[len(prefix)] != '"'
}

func flush(w io.Writer) error {
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// Ms converts d to milliseconds as a float64, for fields named *_ms. A
// Duration is a whole number of nanoseconds, so the value has at most six
// decimals, and for any duration under about eleven days (fifteen significant
// digits) it encodes exactly: Ms(1234567*time.Nanosecond) encodes as
// 1.234567, Ms(time.Millisecond) as 1, Ms(1) as 0.000001.
func Ms(d time.Duration) float64 {
	// One correctly rounded division: below 2^53 ns float64(d) is exact, and
	// the quotient is the float64 nearest to the six-decimal value, which is
	// what encoding/json's shortest formatting prints back.
	return float64(d) / 1e6
}

// TimeLayout is the layout Time uses: RFC 3339 in UTC with exactly nine
// fractional digits, so that values have one width and sort as strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Time formats t for a JSON field as RFC 3339 in UTC with nanoseconds, e.g.
// "2024-05-06T07:08:09.123456789Z". The zero time gives "", which an
// `json:",omitempty"` field then leaves out.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}
