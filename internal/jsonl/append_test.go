package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"syscall"
	"testing"
	"time"
)

// jsonQuote is what encoding/json makes of s with SetEscapeHTML(false).
func jsonQuote(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendStringAndEscapeTailMatchEncodingJSON(t *testing.T) {
	var all []byte
	for c := 0; c < 0x80; c++ {
		all = append(all, byte(c))
	}
	for _, s := range []string{"", "plain", `a"b\c`, "tab\there\nnew\rret", "<&>", string(all),
		`IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 1, seq 2, length 64 ["quoted"]`} {
		want := jsonQuote(t, s)
		if got := string(AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
		b := append([]byte(`{"x":"`), s...)
		b = EscapeTail(b, len(`{"x":"`))
		if got := string(b[len(`{"x":"`):]); got != want[1:len(want)-1] {
			t.Errorf("EscapeTail(%q) = %s, want %s", s, got, want[1:len(want)-1])
		}
	}
}

func TestAppendTimeIsTime(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Unix(1700000000, 5).In(time.FixedZone("x", 3600)), time.Unix(0, 0)} {
		if got, want := string(AppendTime(nil, tm)), `"`+Time(tm)+`"`; got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestWriteLineChecksTheLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewBuffered(&buf)
	for _, bad := range []string{``, `{}` + "\n", `{"type":""}` + "\n", `{"type":"x"}`, `["type"]` + "\n"} {
		if err := w.WriteLine([]byte(bad)); !errors.Is(err, ErrNotEvent) {
			t.Errorf("WriteLine(%q) = %v, want ErrNotEvent", bad, err)
		}
	}
	if err := w.WriteLine([]byte(`{"type":"packet","n":1}` + "\n")); err != nil || buf.String() != `{"type":"packet","n":1}`+"\n" {
		t.Errorf("WriteLine: %v, wrote %q", err, buf.String())
	}
}

// writeOnce accepts n writes, then fails every one with err.
type writeOnce struct {
	n     int
	err   error
	calls int
}

func (w *writeOnce) Write(p []byte) (int, error) {
	w.calls++
	if w.calls > w.n {
		return 0, w.err
	}
	return len(p), nil
}

func TestAFailedWriteSticks(t *testing.T) {
	dst := &writeOnce{n: 1, err: syscall.EPIPE}
	w := New(dst)
	ev := reply{Type: "reply"}
	if err := w.Emit(ev); err != nil {
		t.Fatal(err)
	}
	err := w.Emit(ev)
	if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("second Emit = %v, want ErrWrite and EPIPE", err)
	}
	if err2 := w.WriteLine([]byte(`{"type":"x"}` + "\n")); err2 != err {
		t.Errorf("WriteLine after the failure = %v, want %v", err2, err)
	}
	if err2 := w.Emit(ev); err2 != err || w.Err() != err {
		t.Errorf("Emit after the failure = %v, Err %v, want %v", err2, w.Err(), err)
	}
	if dst.calls != 2 {
		t.Errorf("%d writes reached the writer, want 2: nothing is written after a failure", dst.calls)
	}
}

func TestAppendAndWriteLineAllocateNothing(t *testing.T) {
	var buf bytes.Buffer
	buf.Grow(1 << 16)
	w := NewBuffered(&buf)
	line := make([]byte, 0, 512)
	now := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		b := append(line[:0], `{"type":"packet","time":`...)
		b = AppendTime(b, now)
		b = append(b, `,"len":`...)
		b = AppendInt(b, 1500)
		b = append(b, `,"iface":`...)
		b = AppendString(b, "eth0\t\"x\"")
		b = append(b, `,"summary":"`...)
		mark := len(b)
		b = append(b, `IP "a" > b\c`...)
		b = EscapeTail(b, mark)
		b = append(b, "\"}\n"...)
		if err := w.WriteLine(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per line, want 0", allocs)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["summary"] != `IP "a" > b\c` || m["iface"] != "eth0\t\"x\"" {
		t.Errorf("line %s decodes as %v, %v", buf.Bytes(), m, err)
	}
}
