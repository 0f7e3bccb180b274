//go:build cgo && linux

package capture

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/pcap"
)

// A cgo build does not link libpcap: the dynamic loader must not map it
// (and libdbus, libsystemd, libgcrypt, ... behind it) at every start.
func TestLibpcapNotLinked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		if strings.HasPrefix(lib, "libpcap") {
			t.Errorf("test binary needs %s (DT_NEEDED %v): libpcap must be opened with dlopen when a filter is compiled", lib, libs)
		}
	}
}

// libpcap is mapped only once a filter expression is compiled: a fresh
// process (this test binary, re-run) has no libpcap in /proc/self/maps
// before CompileFilter and has it after.
func TestLibpcapLoadedOnFirstFilter(t *testing.T) {
	if os.Getenv("RAWNET_LIBPCAP_CHILD") == "1" {
		if mapsLibpcap(t) {
			t.Fatal("libpcap mapped before any filter was compiled")
		}
		if _, err := CompileFilter("icmp", pcap.Ethernet, 0); err != nil {
			t.Fatal(err)
		}
		if !mapsLibpcap(t) {
			t.Fatal("libpcap not mapped after CompileFilter")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLibpcapLoadedOnFirstFilter$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RAWNET_LIBPCAP_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func mapsLibpcap(t *testing.T) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(maps), "libpcap")
}

// Without libpcap's shared library the error says what is missing and how
// to get it, wrapping ErrNoLibpcap.
func TestLibpcapMissing(t *testing.T) {
	err := libpcapLoads([]string{"libpcap-rawnet-absent.so.0"})
	if !errors.Is(err, ErrNoLibpcap) {
		t.Fatalf("err = %v, want ErrNoLibpcap", err)
	}
	for _, want := range []string{"libpcap-rawnet-absent.so.0", "libpcap0.8"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to name %q", err, want)
		}
	}
	if err := libpcapLoads(libpcapNames); err != nil {
		t.Fatalf("libpcap does not load from %v: %v", libpcapNames, err)
	}
}
