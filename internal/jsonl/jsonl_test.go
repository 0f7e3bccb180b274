package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type reply struct {
	Type  string  `json:"type"`
	Host  string  `json:"host"`
	Seq   int     `json:"seq"`
	RTTMs float64 `json:"rtt_ms"`
}

func TestEmitOneCompactLine(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf)
	if err := w.Emit(reply{Type: "reply", Host: "198.18.0.1", Seq: 3, RTTMs: Ms(1234567)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Emit(&reply{Type: "timeout", Host: "a<b&c>", Seq: 4}); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"reply","host":"198.18.0.1","seq":3,"rtt_ms":1.234567}` + "\n" +
		`{"type":"timeout","host":"a<b&c>","seq":4,"rtt_ms":0}` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestEmitRejectsNonEvents(t *testing.T) {
	type noType struct {
		Host string `json:"host"`
	}
	type typeNotFirst struct {
		Host string `json:"host"`
		Type string `json:"type"`
	}
	for _, v := range []any{42, "reply", []int{1}, nil, noType{"x"}, typeNotFirst{"x", "reply"},
		reply{}, map[string]any{"host": "x", "type": "reply"}} {
		var buf bytes.Buffer
		err := New(&buf).Emit(v)
		if !errors.Is(err, ErrNotEvent) {
			t.Errorf("Emit(%#v) = %v, want ErrNotEvent", v, err)
		}
		if buf.Len() != 0 {
			t.Errorf("Emit(%#v) wrote %q", v, buf.String())
		}
	}
	if err := New(new(bytes.Buffer)).Emit(map[string]any{"type": "x", "z": 1}); err != nil {
		t.Errorf("map with type first: %v", err)
	}
}

func TestEmitEncodeErrorWritesNothing(t *testing.T) {
	type bad struct {
		Type string  `json:"type"`
		V    float64 `json:"v"`
	}
	var buf bytes.Buffer
	err := New(&buf).Emit(bad{Type: "x", V: math.NaN()})
	var uve *json.UnsupportedValueError
	if !errors.As(err, &uve) || !strings.HasPrefix(err.Error(), "jsonl: ") {
		t.Fatalf("err = %v, want a jsonl-prefixed UnsupportedValueError", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
}

func TestEmitFlushesEachLine(t *testing.T) {
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, 64<<10)
	w := New(bw)
	for i := 1; i <= 3; i++ {
		if err := w.Emit(reply{Type: "reply", Seq: i}); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(sink.String(), "\n"); lines != i {
			t.Fatalf("after %d events the reader sees %d lines", i, lines)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

type failFlusher struct {
	bytes.Buffer
	err error
}

func (f *failFlusher) Flush() error { return f.err }

func TestEmitReportsWriteAndFlushErrors(t *testing.T) {
	boom := errors.New("boom")
	if err := New(failWriter{boom}).Emit(reply{Type: "x"}); !errors.Is(err, boom) {
		t.Errorf("write error: %v", err)
	}
	if err := New(&failFlusher{err: boom}).Emit(reply{Type: "x"}); !errors.Is(err, boom) {
		t.Errorf("flush error: %v", err)
	}
}

// callRecorder records every Write call separately.
type callRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (c *callRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, string(p))
	return len(p), nil
}

func TestEmitConcurrentLinesStayWhole(t *testing.T) {
	const goroutines, each = 8, 300
	rec := &callRecorder{}
	w := New(rec)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := w.Emit(reply{Type: "reply", Host: fmt.Sprint("g", g), Seq: i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(rec.calls) != goroutines*each {
		t.Fatalf("%d writes, want %d", len(rec.calls), goroutines*each)
	}
	seen := map[string]bool{}
	for _, line := range rec.calls {
		var r reply
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("write %q is not exactly one line", line)
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[fmt.Sprint(r.Host, r.Seq)] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct events, want %d", len(seen), goroutines*each)
	}
}

func TestMsTable(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{1, "0.000001"},
		{999, "0.000999"},
		{time.Millisecond, "1"},
		{1234567, "1.234567"},
		{1500 * time.Millisecond, "1500"},
		{-2500 * time.Microsecond, "-2.5"},
		{time.Hour + 1, "3600000.000001"},
		{10*24*time.Hour + 123456789, "864000123.456789"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Ms(tt.d))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("Ms(%d ns) encodes as %s, want %s", int64(tt.d), b, tt.want)
		}
	}
}

// exactMs formats d nanoseconds as a decimal number of milliseconds by
// integer arithmetic, trailing zeros trimmed.
func exactMs(d time.Duration) string {
	s := fmt.Sprintf("%d.%06d", d/time.Millisecond, d%time.Millisecond)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func TestMsExactUnderElevenDays(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200000; i++ {
		d := time.Duration(rng.Int64N(1e15)) // < 1e9 ms: at most 15 significant digits
		if i%3 == 0 {
			d = time.Duration(rng.Int64N(1e9)) // favour realistic RTTs
		}
		got := strconv.FormatFloat(Ms(d), 'f', -1, 64)
		if want := exactMs(d); got != want {
			t.Fatalf("Ms(%d ns) = %s, want %s", int64(d), got, want)
		}
	}
}

func TestTime(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), "2024-05-06T07:08:09.123456789Z"},
		{time.Date(2024, 5, 6, 8, 8, 9, 100000000, cet), "2024-05-06T07:08:09.100000000Z"},
		{time.Unix(0, 0), "1970-01-01T00:00:00.000000000Z"},
		{time.Time{}, ""},
	}
	for _, tt := range tests {
		got := Time(tt.in)
		if got != tt.want {
			t.Errorf("Time(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if got == "" {
			continue
		}
		back, err := time.Parse(time.RFC3339Nano, got)
		if err != nil || !back.Equal(tt.in) {
			t.Errorf("Time(%v) = %q parses back as %v, %v", tt.in, got, back, err)
		}
	}
}
