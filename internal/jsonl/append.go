package jsonl

import (
	"strconv"
	"time"
)

// The Append functions encode JSON values onto a byte slice, for lines that
// are built field by field in a reused buffer and written with
// Writer.WriteLine: the per-packet output of capture and read, which must
// allocate nothing. They encode as Emit does: quotes, backslashes and
// control characters escaped the way encoding/json escapes them with
// SetEscapeHTML(false) ("<", ">" and "&" kept), other bytes copied as they
// are (the decoders' text is ASCII); times as Time formats them.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendStringContent(b, s)
	return append(b, '"')
}

// AppendStringContent appends s escaped for the inside of a JSON string,
// without the quotes.
func AppendStringContent(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = appendEscapedByte(b, s[i])
	}
	return b
}

// EscapeTail escapes b[start:] in place for the inside of a JSON string:
// for text that a formatter appended straight into the line (a packet's
// summary), so that it needs no copy of its own. Without anything to
// escape, b is returned as it is.
func EscapeTail(b []byte, start int) []byte {
	extra := 0
	for _, c := range b[start:] {
		extra += len(escapeOf(c)) - 1
	}
	if extra == 0 {
		return b
	}
	end := len(b)
	b = append(b, make([]byte, extra)...) // appending zeros does not allocate when b has room
	j := len(b)
	for i := end - 1; i >= start; i-- {
		c := b[i]
		e := escapeOf(c)
		if len(e) == 1 {
			j--
			b[j] = c
			continue
		}
		j -= len(e)
		copy(b[j:], e)
	}
	return b
}

// escapeOf returns what c becomes inside a JSON string: c itself, or its
// escape sequence.
func escapeOf(c byte) string {
	switch {
	case c == '"':
		return `\"`
	case c == '\\':
		return `\\`
	case c == '\n':
		return `\n`
	case c == '\r':
		return `\r`
	case c == '\t':
		return `\t`
	case c == '\b':
		return `\b`
	case c == '\f':
		return `\f`
	case c < 0x20:
		return controlEscapes[c]
	}
	return asciiSelf[c : c+1]
}

func appendEscapedByte(b []byte, c byte) []byte {
	if c >= 0x20 && c != '"' && c != '\\' {
		return append(b, c)
	}
	return append(b, escapeOf(c)...)
}

// asciiSelf[c:c+1] is the one-byte string c, without an allocation.
var asciiSelf = func() string {
	var b [256]byte
	for i := range b {
		b[i] = byte(i)
	}
	return string(b[:])
}()

// controlEscapes are \u00XX for the control characters.
var controlEscapes = func() (e [0x20]string) {
	for c := range e {
		e[c] = `\u00` + string([]byte{hexDigits[c>>4], hexDigits[c&15]})
	}
	return e
}()

// AppendTime appends t as a quoted JSON string in the layout of Time
// (RFC 3339, UTC, nine fractional digits); the zero time as "".
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	if !t.IsZero() {
		b = t.UTC().AppendFormat(b, TimeLayout)
	}
	return append(b, '"')
}

// AppendInt appends v as a JSON number.
func AppendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// AppendUint appends v as a JSON number.
func AppendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }
