package lab_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
)

// These tests build real labs and use the kernel's own ping (iputils) in
// src as the independent observer.

var (
	prefix4 = netip.MustParsePrefix("198.19.0.0/22")
	prefix6 = netip.MustParsePrefix("fd00:99::/64")
)

// responderEnv makes the test binary act as a detached responder (see
// TestDetachedResponder): its value is "NETNS,DELAY".
const responderEnv = "RAWNET_LAB_TEST_RESPONDER"

func TestMain(m *testing.M) {
	if arg := os.Getenv(responderEnv); arg != "" {
		os.Exit(serveResponder(arg))
	}
	os.Exit(m.Run())
}

func serveResponder(arg string) int {
	ns, d, _ := strings.Cut(arg, ",")
	delay, err := time.ParseDuration(d)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var r *lab.Responder
	err = (&lab.Node{NS: ns}).Do(func() (err error) {
		r, err = lab.ListenResponder(delay)
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := r.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// ping runs iputils ping in n with args and returns its output; a ping
// that gets no reply is not an error here.
func ping(t *testing.T, n *lab.Node, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := n.Command(ctx, "ping", args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("ping %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func hopAddrs(l *lab.Lab, fam string) []netip.Addr {
	if fam == "6" {
		return l.HopAddrs6()
	}
	return l.HopAddrs4()
}

func mustContain(t *testing.T, out, want string) {
	t.Helper()
	if !strings.Contains(out, want) {
		t.Errorf("ping output lacks %q:\n%s", want, out)
	}
}

var lossRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// received returns the number of echo requests sent and replies received.
func received(t *testing.T, out string) (sent, got int) {
	t.Helper()
	m := lossRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no statistics in ping output:\n%s", out)
	}
	sent, _ = strconv.Atoi(m[1])
	got, _ = strconv.Atoi(m[2])
	return sent, got
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

func rtts(out string) []time.Duration {
	var ds []time.Duration
	for _, m := range rttRE.FindAllStringSubmatch(out, -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
	}
	return ds
}

func TestChainReachesEveryDestination(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 3, LocalPrefix4: prefix4, LocalPrefix6: prefix6})
	for _, target := range []netip.Addr{
		l.Dst.Addr4,
		l.Dst.Addr6,
		netip.MustParseAddr("198.19.2.77"),
		netip.MustParseAddr("fd00:99::4242"),
		l.Routers[2].Addr4,
		l.Routers[1].Addr6,
	} {
		t.Run(target.String(), func(t *testing.T) {
			t.Parallel()
			out := ping(t, l.Src, "-c", "1", "-W", "1", target.String())
			mustContain(t, out, "bytes from "+target.String()+":")
		})
	}
}

func TestHopLimitExceededComesFromEachHop(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 3})
	if want := []string{"198.18.0.2", "198.18.1.2", "198.18.2.2", "198.18.3.2"}; fmt.Sprint(l.HopAddrs4()) != fmt.Sprint(want) {
		t.Fatalf("HopAddrs4 = %v, want %v", l.HopAddrs4(), want)
	}
	for _, fam := range []string{"4", "6"} {
		addrs := hopAddrs(l, fam)
		dst := addrs[len(addrs)-1]
		for ttl, hop := range addrs[:len(addrs)-1] {
			t.Run(fmt.Sprintf("v%s/ttl%d", fam, ttl+1), func(t *testing.T) {
				t.Parallel()
				out := ping(t, l.Src, "-"+fam, "-c", "1", "-W", "1", "-t", strconv.Itoa(ttl+1), dst.String())
				want := "From " + hop.String() + " icmp_seq=1 Time to live exceeded"
				if fam == "6" {
					want = "From " + hop.String() + " icmp_seq=1 Time exceeded: Hop limit"
				}
				mustContain(t, out, want)
			})
		}
	}
}

func TestAddressWithoutRouteIsUnreachableAtFirstRouter(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 3, LocalPrefix4: prefix4, LocalPrefix6: prefix6})
	r1 := l.Routers[0]
	cases := []struct{ target, want string }{
		{"198.18.200.1", "From " + r1.Addr4.String() + " icmp_seq=1 Destination Net Unreachable"},
		{"198.19.9.1", "From " + r1.Addr4.String() + " icmp_seq=1 Destination Net Unreachable"},
		{"fd00:0:0:200::1", "From " + r1.Addr6.String() + " icmp_seq=1 Destination unreachable: No route"},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			t.Parallel()
			mustContain(t, ping(t, l.Src, "-c", "1", "-W", "1", c.target), c.want)
		})
	}
}

func TestUnreachablePrefixRejectedByLastRouter(t *testing.T) {
	l := labtest.Up(t, lab.Spec{
		Routers:      3,
		Unreachable4: []netip.Prefix{netip.MustParsePrefix("198.19.8.0/24")},
		Unreachable6: []netip.Prefix{netip.MustParsePrefix("fd00:98::/64")},
	})
	r3 := l.Routers[2]
	cases := []struct{ target, want string }{
		{"198.19.8.1", "From " + r3.Addr4.String() + " icmp_seq=1 Destination Host Unreachable"},
		{"fd00:98::1", "From " + r3.Addr6.String() + " icmp_seq=1 Destination unreachable: No route"},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			t.Parallel()
			mustContain(t, ping(t, l.Src, "-c", "1", "-W", "1", c.target), c.want)
		})
	}
}

func TestSilentRouterSendsNoErrors(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 3, Silent: []int{2}})
	for _, fam := range []string{"4", "6"} {
		t.Run("v"+fam, func(t *testing.T) {
			t.Parallel()
			dst := l.Dst.Addr4.String()
			if fam == "6" {
				dst = l.Dst.Addr6.String()
			}
			out := ping(t, l.Src, "-"+fam, "-c", "1", "-W", "1", "-t", "2", dst)
			if strings.Contains(out, "From ") {
				t.Errorf("silent r2 answered:\n%s", out)
			}
			if _, got := received(t, out); got != 0 {
				t.Errorf("got a reply with TTL 2:\n%s", out)
			}
			// Its neighbours still answer.
			mustContain(t, ping(t, l.Src, "-"+fam, "-c", "1", "-W", "1", "-t", "3", dst), "From "+hopAddrs(l, fam)[2].String())
		})
	}
}

func TestLossDropsTheConfiguredShare(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 3, Loss: []lab.Loss{{Link: 1, Percent: 50}}})
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		t.Run(dst.String(), func(t *testing.T) {
			t.Parallel()
			out := ping(t, l.Src, "-c", "100", "-i", "0.002", "-W", "1", "-q", dst.String())
			sent, got := received(t, out)
			// Binomial(100, 0.5): P(outside 20..80 replies) < 1e-9.
			if sent != 100 || got < 20 || got > 80 {
				t.Errorf("sent %d, got %d replies; want 100 sent and 20..80 replies with 50%% loss:\n%s", sent, got, out)
			}
		})
	}
}

func TestBlackholedAddressNeverAnswers(t *testing.T) {
	hole := netip.MustParseAddr("198.19.0.9")
	l := labtest.Up(t, lab.Spec{Routers: 1, LocalPrefix4: prefix4, Blackhole: []netip.Addr{hole}})
	if _, got := received(t, ping(t, l.Src, "-c", "1", "-W", "1", hole.String())); got != 0 {
		t.Errorf("blackholed %s answered", hole)
	}
	mustContain(t, ping(t, l.Src, "-c", "1", "-W", "1", "198.19.0.10"), "bytes from 198.19.0.10:")
}

func TestDelayedResponderAnswersAfterDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	l := labtest.Up(t, lab.Spec{Routers: 2, Delay: delay})
	if l.Slow == nil || l.Slow.Addr4 != netip.MustParseAddr("198.18.100.2") {
		t.Fatalf("slow node = %+v, want one at 198.18.100.2", l.Slow)
	}
	for _, dst := range []netip.Addr{l.Slow.Addr4, l.Slow.Addr6} {
		t.Run(dst.String(), func(t *testing.T) {
			t.Parallel()
			// Requests every 5ms, so several are in flight at once: a
			// responder that slept per packet would fall behind. ping
			// itself checks identifier, sequence and payload (-s 1000).
			out := ping(t, l.Src, "-c", "20", "-i", "0.005", "-s", "1000", "-W", "1", dst.String())
			if _, got := received(t, out); got != 20 {
				t.Fatalf("got %d of 20 replies:\n%s", got, out)
			}
			// Never early; and not serialised: a responder that slept per
			// packet would answer request k after (k+1)*30ms, past 400ms
			// for each of the last five, while the best of those five
			// stays below twice the delay even on a loaded machine.
			ds := rtts(out)
			if len(ds) != 20 || slices.Min(ds) < delay || slices.Min(ds[15:]) >= 2*delay {
				t.Errorf("rtts %v: want 20, all >= %v, the best of the last five < %v:\n%s", ds, delay, 2*delay, out)
			}
			if strings.Contains(out, "wrong data") || strings.Contains(out, "DUP!") {
				t.Errorf("bad replies:\n%s", out)
			}
		})
	}
}

func TestServeDelayedServesInTheCallersNamespace(t *testing.T) {
	const delay = 15 * time.Millisecond
	l := labtest.Up(t, lab.Spec{Routers: 1})
	for _, key := range []string{"net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1"} {
		if out, err := l.Dst.Command(t.Context(), "sysctl", "-qw", key).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s: %v %s", key, err, out)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- l.Dst.Do(func() error { return lab.ServeDelayed(ctx, delay) }) }()
	for _, dst := range []netip.Addr{l.Dst.Addr4, l.Dst.Addr6} {
		// The first ping may come before the sockets are open; the
		// others cannot. The kernel does not answer (echo_ignore_all),
		// so every reply is the server's: none before the delay, and
		// the best of up to 3 rounds below twice the delay (held once;
		// a loaded machine may delay any one round).
		best := time.Duration(math.MaxInt64)
		for round := 0; round < 3 && best >= 2*delay; round++ {
			out := ping(t, l.Src, "-c", "4", "-i", "0.1", "-W", "2", dst.String())
			ds := rtts(out)
			slices.Sort(ds)
			if len(ds) < 3 || ds[0] < delay {
				t.Fatalf("%s: rtts %v, want 3 or 4 replies, none before %v:\n%s", dst, ds, delay, out)
			}
			best = min(best, ds[0])
		}
		if best >= 2*delay {
			t.Errorf("%s: best rtt of 3 rounds %v, want below %v", dst, best, 2*delay)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeDelayed: %v", err)
	}
}

func TestDetachedResponder(t *testing.T) {
	labtest.RequireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec := lab.Spec{Delay: 20 * time.Millisecond, DetachedResponder: func(ns string, d time.Duration) *exec.Cmd {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), responderEnv+"="+ns+","+d.String())
		return cmd
	}}
	l := labtest.Up(t, spec) // no routers: slow hangs off src
	out := ping(t, l.Src, "-c", "3", "-i", "0.05", "-W", "1", l.Slow.Addr4.String())
	if _, got := received(t, out); got != 3 {
		t.Fatalf("detached responder: got %d of 3 replies:\n%s", got, out)
	}
	pid := responderPid(t, l.Name)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if running(pid) {
		t.Errorf("responder pid %d still running after Close", pid)
	}
}

// running tells whether pid is a live process. The responder is this
// test's child, released unreaped: once it exits it stays a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func responderPid(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/run/rawnet/lab/" + name + "/responder.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestPingGroup(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			l := labtest.Up(t, lab.Spec{PingGroup: on})
			err := l.Src.Do(func() error {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)
				if err == nil {
					unix.Close(fd)
				}
				return err
			})
			if on && err != nil {
				t.Errorf("ICMP datagram socket with PingGroup: %v", err)
			}
			if !on && !errors.Is(err, unix.EACCES) {
				t.Errorf("ICMP datagram socket without PingGroup: %v, want EACCES", err)
			}
		})
	}
}

func TestICMPRateLimitOffByDefault(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			t.Parallel()
			l := labtest.Up(t, lab.Spec{Routers: 1, KeepICMPRateLimit: keep})
			out := ping(t, l.Src, "-c", "100", "-i", "0.002", "-W", "1", "-t", "1", l.Dst.Addr4.String())
			errs := strings.Count(out, "Time to live exceeded")
			if !keep && errs != 100 {
				t.Errorf("%d of 100 time exceeded errors with rate limits off", errs)
			}
			if keep && errs >= 100 {
				t.Errorf("%d of 100 time exceeded errors with the kernel's rate limits", errs)
			}
		})
	}
}

func TestParallelLabsDoNotInterfere(t *testing.T) {
	for _, pct := range []int{100, 0} {
		t.Run(fmt.Sprintf("loss%d", pct), func(t *testing.T) {
			t.Parallel()
			l := labtest.Up(t, lab.Spec{Routers: 2, Loss: []lab.Loss{{Link: 0, Percent: pct}}})
			_, got := received(t, ping(t, l.Src, "-c", "5", "-i", "0.01", "-W", "1", l.Dst.Addr4.String()))
			if want := 5 * (100 - pct) / 100; got != want {
				t.Errorf("lab %s with %d%% loss: got %d replies, want %d", l.Name, pct, got, want)
			}
		})
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	labtest.RequireRoot(t)
	l, err := lab.Up(t.Context(), "", lab.Spec{Routers: 2, Delay: time.Millisecond, Silent: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(listed(t), l.Name) {
		t.Errorf("List lacks running lab %s", l.Name)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	assertGone(t, l.Name)
}

func TestUpFailureRemovesEverything(t *testing.T) {
	labtest.RequireRoot(t)
	for _, step := range []string{"namespaces", "sysctls", "links", "nodes", "responder"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			name := uniqueName(t, "f"+step[:3])
			spec := lab.FailAt(lab.Spec{Routers: 2, Delay: time.Millisecond, Loss: []lab.Loss{{Link: 1, Percent: 5}}}, step)
			l, err := lab.Up(t.Context(), name, spec)
			if err == nil {
				l.Close()
				t.Fatal("Up succeeded despite an injected failure")
			}
			if !strings.Contains(err.Error(), "injected") {
				t.Errorf("error %q does not name the injected failure", err)
			}
			assertGone(t, name)
		})
	}
}

func TestUpRejectsBadInputBeforeCreatingAnything(t *testing.T) {
	labtest.RequireRoot(t)
	_, err := lab.Up(t.Context(), "Bad-Name", lab.Spec{})
	if !errors.Is(err, lab.ErrInvalidSpec) {
		t.Errorf("bad name: %v, want ErrInvalidSpec", err)
	}
	name := uniqueName(t, "bad")
	_, err = lab.Up(t.Context(), name, lab.Spec{Routers: 1, LocalPrefix4: netip.MustParsePrefix("10.0.0.0/8")})
	if !errors.Is(err, lab.ErrInvalidSpec) {
		t.Errorf("prefix outside the lab: %v, want ErrInvalidSpec", err)
	}
	assertGone(t, name)
}

func TestNameInUseAndDown(t *testing.T) {
	labtest.RequireRoot(t)
	name := uniqueName(t, "down")
	l, err := lab.Up(t.Context(), name, lab.Spec{Routers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := lab.Up(t.Context(), name, lab.Spec{}); !errors.Is(err, lab.ErrExists) {
		t.Errorf("second lab %s: %v, want ErrExists", name, err)
	}
	if !slices.Contains(listed(t), name) {
		t.Errorf("List lacks %s", name)
	}
	if err := lab.Down(name); err != nil {
		t.Fatal(err)
	}
	assertGone(t, name)
	if err := lab.Down(name); !errors.Is(err, lab.ErrNotFound) {
		t.Errorf("Down of a removed lab: %v, want ErrNotFound", err)
	}
}

// uniqueName returns a lab name starting with prefix that no other test,
// in this process or another, uses at the same time.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func listed(t *testing.T) []string {
	t.Helper()
	names, err := lab.List()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// assertGone checks that lab name left no namespace and no state behind.
func assertGone(t *testing.T, name string) {
	t.Helper()
	ents, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "rn-"+name+"-") {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	if _, err := os.Stat("/run/rawnet/lab/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state of lab %s left behind (%v)", name, err)
	}
}

// BenchmarkUp measures building (up-ms) and removing a 5-router lab with
// loss, a silent router and a delayed responder.
func BenchmarkUp(b *testing.B) {
	labtest.RequireRoot(b)
	spec := lab.Spec{Routers: 5, LocalPrefix4: prefix4, LocalPrefix6: prefix6,
		Loss: []lab.Loss{{Link: 2, Percent: 10}}, Silent: []int{3}, Delay: 10 * time.Millisecond}
	var up time.Duration
	for b.Loop() {
		start := time.Now()
		l, err := lab.Up(context.Background(), "", spec)
		if err != nil {
			b.Fatal(err)
		}
		up += time.Since(start)
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "up-ms")
}

// TestVantagesAndMonitor: every vantage reaches dst through the routers
// (TTL 64 - 2 routers), src's lossy link drops only src's probes, mon
// reaches src and each vantage on its management link and nothing beyond.
func TestVantagesAndMonitor(t *testing.T) {
	l := labtest.Up(t, lab.Spec{Routers: 2, Vantages: 2, Monitor: true, Loss: []lab.Loss{{Link: 0, Percent: 100}}})
	dst := l.Dst.Addr4.String()
	for _, v := range l.Vantages {
		out := ping(t, v, "-c", "2", "-i", "0.2", "-W", "2", dst)
		mustContain(t, out, "ttl=62")
		if sent, got := received(t, out); got != sent {
			t.Errorf("%s -> dst: %d of %d answered, want all:\n%s", v.Name, got, sent, out)
		}
	}
	if _, got := received(t, ping(t, l.Src, "-c", "2", "-i", "0.2", "-W", "1", dst)); got != 0 {
		t.Errorf("src -> dst over a 100%% loss link: %d replies, want 0", got)
	}
	for _, n := range append([]*lab.Node{l.Src}, l.Vantages...) {
		ifc, ok := n.Iface("mon")
		if !ok {
			t.Fatalf("%s has no link to mon", n.Name)
		}
		out := ping(t, l.Mon, "-c", "1", "-W", "2", ifc.Addr4.Addr().String())
		if _, got := received(t, out); got != 1 {
			t.Errorf("mon -> %s's management address: no reply:\n%s", n.Name, out)
		}
	}
	out, err := l.Mon.Command(t.Context(), "ping", "-c", "1", "-W", "1", dst).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Network is unreachable") {
		t.Errorf("mon -> dst: %v, want no route (mon reaches only its neighbours):\n%s", err, out)
	}
}
