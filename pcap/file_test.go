package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rawnet/rawnet/tap"
)

func readFile(t *testing.T, path string) (Format, []Packet, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return 0, nil, err
	}
	f.Seek(0, 0)
	ps, err := readAll(t, f)
	return r.Format(), ps, err
}

func TestCreatePicksFormat(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		opts []Option
		want Format
	}{
		{"a.pcap", nil, FormatPcap},
		{"b.pcapng", nil, FormatPcapng},
		{"c.PcapNG", nil, FormatPcapng},
		{"d.cap", []Option{WithFormat(FormatPcapng)}, FormatPcapng},
		{"e.pcapng", []Option{WithFormat(FormatPcap)}, FormatPcap},
		{"f.pcapng.txt", nil, FormatPcap},
	} {
		path := filepath.Join(dir, tt.name)
		f, err := Create(path, Raw, tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.WritePacket(ts0, icmpEcho(t, false, 1, 8)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, ps, err := readFile(t, path)
		if err != nil || got != tt.want || f.Format() != tt.want || len(ps) != 1 || f.Name() != path {
			t.Errorf("%s: format %v (File says %v), %d packets, %v; want %v", tt.name, got, f.Format(), len(ps), err, tt.want)
		}
	}
}

func TestCreateErrors(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir.pcap"), Raw)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "pcap: ") {
		t.Errorf("missing directory: %v", err)
	}
	dir := t.TempDir()
	for _, opts := range [][]Option{
		{WithSnaplen(-5)},
		{WithFormat(Format(9))},
		{WithFormat(FormatPcapng), WithInterfaceName(strings.Repeat("x", 70000))},
	} {
		path := filepath.Join(dir, "x.pcap")
		if _, err := Create(path, Raw, opts...); err == nil || !strings.HasPrefix(err.Error(), "pcap: ") {
			t.Errorf("bad option accepted: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a rejected Create left a file behind: %v", err)
		}
	}
}

// TestFileTapConcurrent records from several goroutines through Tap and
// checks that every packet arrives once, whole, with its direction.
func TestFileTapConcurrent(t *testing.T) {
	const goroutines, each = 8, 250
	for _, name := range []string{"concurrent.pcap", "concurrent.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			f, err := Create(path, Raw, WithInterfaceName("rawnet"), WithSnaplen(128))
			if err != nil {
				t.Fatal(err)
			}
			hook := f.Tap()
			var wg sync.WaitGroup
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 24) // reused, as engines do
					for i := 0; i < each; i++ {
						binary.BigEndian.PutUint32(buf, uint32(g<<16|i))
						dir := tap.Dir(i % 2)
						hook(dir, ts0.Add(time.Duration(i)), buf)
					}
				}()
			}
			wg.Wait()
			if f.Count() != goroutines*each {
				t.Errorf("Count = %d", f.Count())
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			format, ps, err := readFile(t, path)
			if err != nil || len(ps) != goroutines*each {
				t.Fatalf("read %d packets, %v", len(ps), err)
			}
			seen := map[uint32]bool{}
			for _, p := range ps {
				id := binary.BigEndian.Uint32(p.Data)
				if seen[id] || len(p.Data) != 24 {
					t.Fatalf("packet %#x seen twice or mangled: %x", id, p.Data)
				}
				seen[id] = true
				want := DirUnknown
				if format == FormatPcapng {
					want = map[uint32]Direction{0: DirOutbound, 1: DirInbound}[id&0xffff%2]
				}
				if p.Direction != want {
					t.Fatalf("packet %#x: direction %v, want %v", id, p.Direction, want)
				}
			}
		})
	}
}

func TestFileCloseIsIdempotentAndFinal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcapng")
	f, err := Create(path, Raw)
	if err != nil {
		t.Fatal(err)
	}
	hook := f.Tap()
	hook(tap.Out, ts0, []byte{0x45})
	for i := 0; i < 2; i++ {
		if err := f.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	hook(tap.In, ts0, []byte{0x45}) // dropped, without a panic or an error
	if err := f.WritePacket(ts0, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("WritePacket after Close: %v", err)
	}
	if err := f.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if f.Count() != 1 || f.Err() != nil {
		t.Errorf("Count %d, Err %v", f.Count(), f.Err())
	}
	if _, ps, err := readFile(t, path); err != nil || len(ps) != 1 {
		t.Errorf("read %d packets, %v", len(ps), err)
	}
}

func TestFileBufferingAndFlushEach(t *testing.T) {
	for _, flushEach := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "x.pcap")
		var opts []Option
		if flushEach {
			opts = append(opts, FlushEach())
		}
		f, err := Create(path, Raw, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			f.WritePacket(ts0, icmpEcho(t, false, uint16(i), 8))
		}
		want := 0 // buffered: nothing on disk but the header
		if flushEach {
			want = 5
		}
		if _, ps, err := readFile(t, path); err != nil || len(ps) != want {
			t.Errorf("FlushEach=%v: before Flush the file holds %d packets (%v), want %d", flushEach, len(ps), err, want)
		}
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, ps, err := readFile(t, path); err != nil || len(ps) != 5 {
			t.Errorf("FlushEach=%v: after Flush the file holds %d packets (%v)", flushEach, len(ps), err)
		}
		f.Close()
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct {
	n   int
	err error
}

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

func TestFileKeepsFirstWriteError(t *testing.T) {
	full := errors.New("no space left on device")
	w, err := NewWriter(&failAfter{n: fileHeaderLen + 20, err: full}, Raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	osf, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	f := &File{f: osf, w: w, format: FormatPcap, flushEach: true}
	hook := f.Tap()
	hook(tap.Out, ts0, []byte{1, 2, 3, 4}) // 20 bytes: fits
	hook(tap.Out, ts0, []byte{5, 6, 7, 8}) // fails
	hook(tap.Out, ts0, []byte{9})          // fails again
	if f.Count() != 2 || !errors.Is(f.Err(), full) {
		t.Errorf("Count %d, Err %v", f.Count(), f.Err())
	}
	if err := f.Close(); !errors.Is(err, full) || !strings.HasPrefix(err.Error(), "pcap: ") {
		t.Errorf("Close = %v, want the write error", err)
	}
}

// The helper process below records packets through Tap, as rawnet does,
// and is then stopped by a signal. See TestFileSurvivesSignals.
const helperEnv = "RAWNET_PCAP_TEST_HELPER"

func TestFileHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	path := os.Getenv("RAWNET_PCAP_TEST_FILE")
	var opts []Option
	if mode == "kill" {
		opts = append(opts, FlushEach())
	}
	f, err := Create(path, Raw, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if mode == "term" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		go func() {
			<-sig
			err := f.Close() // from the signal path, while packets keep coming
			fmt.Printf("closed count=%d err=%v\n", f.Count(), err)
			os.Exit(0)
		}()
	}
	hook := f.Tap()
	pkt := icmpEcho(t, false, 1, 56)
	for i := 0; ; i++ {
		hook(tap.Dir(i%2), time.Now(), pkt)
		if i == 100 {
			fmt.Println("ready")
		}
		if mode == "kill" {
			time.Sleep(time.Millisecond) // keep the count knowable
		}
	}
}

func startHelper(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "RAWNET_PCAP_TEST_FILE="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not get ready: %q", sc.Text())
	}
	return cmd, sc
}

// TestFileSurvivesSignals checks that a recording stopped by a signal is
// readable: after SIGKILL thanks to FlushEach, after SIGTERM because the
// signal path calls Close while other goroutines are still writing.
func TestFileSurvivesSignals(t *testing.T) {
	t.Run("SIGKILL with FlushEach", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "killed.pcap")
		cmd, _ := startHelper(t, "kill", path)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		_, ps, err := readFile(t, path)
		if err != nil || len(ps) < 101 {
			t.Fatalf("killed recording: %d packets, %v; want at least 101 and no error", len(ps), err)
		}
	})
	t.Run("SIGTERM closes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "terminated.pcapng")
		cmd, sc := startHelper(t, "term", path)
		cmd.Process.Signal(syscall.SIGTERM)
		var line string
		if sc.Scan() {
			line = sc.Text()
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
		var count int
		var closeErr string
		if _, err := fmt.Sscanf(line, "closed count=%d err=%s", &count, &closeErr); err != nil || closeErr != "<nil>" {
			t.Fatalf("helper said %q", line)
		}
		_, ps, err := readFile(t, path)
		if err != nil || len(ps) != count || count < 101 {
			t.Fatalf("terminated recording: %d packets, %v; the File counted %d", len(ps), err, count)
		}
	})
}
