package priv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestHintExplainsPermissionErrors(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.EACCES} {
		orig := fmt.Errorf("icmp: listen 0.0.0.0: %w", os.NewSyscallError("socket", errno))
		got := Hint(orig)
		want := orig.Error() + ": raw sockets need root or CAP_NET_RAW: run as root or " +
			"'sudo setcap cap_net_raw,cap_net_admin+ep " + exe + "'"
		if got.Error() != want {
			t.Errorf("Hint(%v) =\n%s\nwant\n%s", errno, got, want)
		}
		for _, target := range []error{ErrPermission, errno, fs.ErrPermission} {
			if !errors.Is(got, target) {
				t.Errorf("Hint(%v) is not %v", errno, target)
			}
		}
		if again := Hint(got); again != got {
			t.Errorf("Hint explained twice: %v", again)
		}
	}
}

func TestHintICMPMentionsPingGroupRange(t *testing.T) {
	orig := os.NewSyscallError("socket", syscall.EPERM)
	plain, icmp := Hint(orig).Error(), HintICMP(orig).Error()
	if strings.Contains(plain, "ping_group_range") {
		t.Errorf("Hint mentions ping_group_range: %s", plain)
	}
	if !strings.HasPrefix(icmp, plain) || !strings.Contains(icmp, "unprivileged ICMP datagram sockets") ||
		!strings.Contains(icmp, "net.ipv4.ping_group_range") {
		t.Errorf("HintICMP = %s", icmp)
	}
	if !errors.Is(HintICMP(orig), ErrPermission) {
		t.Error("HintICMP does not wrap ErrPermission")
	}
}

func TestHintPassesOtherErrorsThrough(t *testing.T) {
	for _, err := range []error{nil, syscall.ENOENT, errors.New("boom"), fmt.Errorf("x: %w", syscall.EAFNOSUPPORT)} {
		if got := Hint(err); got != err {
			t.Errorf("Hint(%v) = %v, want it unchanged", err, got)
		}
		if got := HintICMP(err); got != err {
			t.Errorf("HintICMP(%v) = %v, want it unchanged", err, got)
		}
	}
}

func TestParsePingGroupRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi uint32
		ok     bool
	}{
		{"1\t0\n", 1, 0, true},
		{"0\t2147483647\n", 0, 2147483647, true},
		{" 100 100 ", 100, 100, true},
		{"4294967295 4294967295", 4294967295, 4294967295, true},
		{"", 0, 0, false},
		{"1", 0, 0, false},
		{"1 2 3", 0, 0, false},
		{"a b", 0, 0, false},
		{"-1 5", 0, 0, false},
		{"4294967296 0", 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi, err := parsePingGroupRange(tt.in)
		if (err == nil) != tt.ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("parsePingGroupRange(%q) = %d, %d, %v", tt.in, lo, hi, err)
		}
		if err != nil && (!errors.Is(err, errParse) || !strings.HasPrefix(err.Error(), "priv: ")) {
			t.Errorf("parsePingGroupRange(%q) error %v does not wrap errParse", tt.in, err)
		}
	}
}

func TestAnyInRange(t *testing.T) {
	tests := []struct {
		lo, hi uint32
		gids   []int
		want   bool
	}{
		{1, 0, []int{0, 1, 1000}, false}, // kernel default: nobody
		{0, 0, []int{1000, 0}, true},
		{100, 200, []int{99, 201}, false},
		{100, 200, []int{99, 100}, true},
		{100, 200, []int{200}, true},
		{0, 4294967295, []int{-1}, false},
		{0, 2147483647, nil, false},
	}
	for _, tt := range tests {
		if got := anyInRange(tt.lo, tt.hi, tt.gids); got != tt.want {
			t.Errorf("anyInRange(%d, %d, %v) = %v", tt.lo, tt.hi, tt.gids, got)
		}
	}
}

const sampleStatus = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\n" +
	"CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000002000\n" +
	"CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n"

func TestParseCapability(t *testing.T) {
	tests := []struct {
		status, field string
		want          uint64
		ok            bool
	}{
		{sampleStatus, "CapEff", 1 << 13, true},
		{sampleStatus, "CapPrm", 0x1ffffffffff, true},
		{sampleStatus, "CapInh", 0, true},
		{sampleStatus, "CapFoo", 0, false},
		{"CapEff:\tzz\n", "CapEff", 0, false},
		{"CapEff:\t10000000000000000\n", "CapEff", 0, false}, // 65 bits
		{"XCapEff:\t1\n", "CapEff", 0, false},
		{"", "CapEff", 0, false},
	}
	for _, tt := range tests {
		got, err := parseCapability(tt.status, tt.field)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCapability(%q, %s) = %#x, %v", tt.status, tt.field, got, err)
		}
	}
}

func FuzzParsePingGroupRange(f *testing.F) {
	for _, s := range []string{"1\t0\n", "0 2147483647", "x", "", "1 2 3", "99999999999 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := parsePingGroupRange(s)
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Fatalf("error %v does not wrap errParse", err)
			}
			return
		}
		lo2, hi2, err := parsePingGroupRange(fmt.Sprintf("%d\t%d\n", lo, hi))
		if err != nil || lo2 != lo || hi2 != hi {
			t.Fatalf("%q -> %d %d does not round-trip: %d %d %v", s, lo, hi, lo2, hi2, err)
		}
	})
}

func FuzzParseCapability(f *testing.F) {
	f.Add(sampleStatus)
	f.Add("CapEff:\tffffffffffffffff\n")
	f.Add("CapEff:")
	f.Fuzz(func(t *testing.T, status string) {
		mask, err := parseCapability(status, "CapEff")
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Fatalf("error %v does not wrap errParse", err)
			}
			return
		}
		again, err := parseCapability(fmt.Sprintf("CapEff:\t%016x\n", mask), "CapEff")
		if err != nil || again != mask {
			t.Fatalf("%#x does not round-trip: %#x %v", mask, again, err)
		}
	})
}
