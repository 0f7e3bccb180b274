//go:build cgo

package capture

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>

// libpcap is opened with dlopen on the first filter compilation, not linked:
// linking it made the dynamic loader map libpcap and what it needs (libdbus,
// libsystemd, libgcrypt, liblzma, libzstd, liblz4, ...) at every start of
// every command, about 1.8 ms of a 5 ms `rawnet --version` (see
// scripts/bench-startup.sh). Only the types come from <pcap/pcap.h>.
typedef pcap_t *(*open_dead_fn)(int, int);
typedef int (*compile_fn)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
typedef char *(*geterr_fn)(pcap_t *);
typedef void (*close_fn)(pcap_t *);
typedef void (*freecode_fn)(struct bpf_program *);

typedef struct {
	open_dead_fn open_dead;
	compile_fn compile;
	geterr_fn geterr;
	close_fn close;
	freecode_fn freecode;
} pcap_fns;

// load_pcap opens the shared library name and resolves the five functions
// rawnet calls. On failure it copies dlerror's message to errbuf.
static int load_pcap(const char *name, pcap_fns *f, char *errbuf, size_t errlen) {
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(errbuf, errlen, "%s", dlerror());
		return -1;
	}
	f->open_dead = (open_dead_fn)dlsym(h, "pcap_open_dead");
	f->compile = (compile_fn)dlsym(h, "pcap_compile");
	f->geterr = (geterr_fn)dlsym(h, "pcap_geterr");
	f->close = (close_fn)dlsym(h, "pcap_close");
	f->freecode = (freecode_fn)dlsym(h, "pcap_freecode");
	if (!f->open_dead || !f->compile || !f->geterr || !f->close || !f->freecode) {
		snprintf(errbuf, errlen, "%s lacks pcap_open_dead, pcap_compile, pcap_geterr, pcap_close or pcap_freecode", name);
		dlclose(h);
		return -1;
	}
	return 0;
}

// fns holds the functions CompileFilter calls, in C memory: Go memory
// may not hold what cgo passes back in.
static pcap_fns fns;

static int load_global(const char *name, int keep, char *errbuf, size_t errlen) {
	pcap_fns f;
	int rc = load_pcap(name, &f, errbuf, errlen);
	if (rc == 0 && keep) {
		fns = f;
	}
	return rc;
}

// compile_filter compiles expr for a dead handle of the given link type;
// on failure it copies libpcap's message to errbuf.
static int compile_filter(int dlt, int snaplen, const char *expr, struct bpf_program *prog, char *errbuf, size_t errlen) {
	pcap_fns *f = &fns;
	pcap_t *p = f->open_dead(dlt, snaplen);
	if (p == NULL) {
		snprintf(errbuf, errlen, "pcap_open_dead failed");
		return -1;
	}
	int rc = f->compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0) {
		snprintf(errbuf, errlen, "%s", f->geterr(p));
	}
	f->close(p);
	return rc;
}

static void free_code(struct bpf_program *prog) { fns.freecode(prog); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/pcap"
)

// libpcapNames are the sonames tried in turn: Debian's libpcap0.8 package,
// then other distributions' names, then the development symlink.
var libpcapNames = []string{"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"}

var libpcap struct {
	once sync.Once
	err  error
	mu   sync.Mutex // pcap_compile is not thread-safe in older libpcaps
}

// loadLibpcap opens the first of names that loads and has the functions
// rawnet calls, for CompileFilter when keep is true; the error wraps
// ErrNoLibpcap and gives dlopen's reasons.
func loadLibpcap(names []string, keep bool) error {
	k := C.int(0)
	if keep {
		k = 1
	}
	var why []string
	var errbuf [256]C.char
	for _, name := range names {
		cname := C.CString(name)
		rc := C.load_global(cname, k, &errbuf[0], C.size_t(len(errbuf)))
		C.free(unsafe.Pointer(cname))
		if rc == 0 {
			return nil
		}
		why = append(why, C.GoString(&errbuf[0]))
	}
	return fmt.Errorf("%w (install Debian's libpcap0.8 or your system's libpcap): %s", ErrNoLibpcap, strings.Join(why, "; "))
}

// CompileFilter compiles a tcpdump filter expression with libpcap for
// packets of the given link type and snapshot length (pcap.DefaultSnaplen
// when 0). libpcap is loaded on the first call; when it cannot be, the
// error wraps ErrNoLibpcap. An expression libpcap rejects gives an error
// wrapping ErrBadFilter with libpcap's message.
func CompileFilter(expr string, link pcap.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	libpcap.once.Do(func() { libpcap.err = loadLibpcap(libpcapNames, true) })
	if libpcap.err != nil {
		return nil, fmt.Errorf("cannot compile filter %q: %w", expr, libpcap.err)
	}
	if snaplen <= 0 {
		snaplen = pcap.DefaultSnaplen
	}
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var prog C.struct_bpf_program
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	libpcap.mu.Lock()
	defer libpcap.mu.Unlock()
	if C.compile_filter(C.int(dltFor(link)), C.int(snaplen), cexpr, &prog, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return nil, fmt.Errorf("%w %q: %s", ErrBadFilter, expr, C.GoString(&errbuf[0]))
	}
	defer C.free_code(&prog)
	insns := unsafe.Slice(prog.bf_insns, prog.bf_len)
	out := make([]bpf.RawInstruction, len(insns))
	for i, in := range insns {
		out[i] = bpf.RawInstruction{Op: uint16(in.code), Jt: uint8(in.jt), Jf: uint8(in.jf), K: uint32(in.k)}
	}
	return out, nil
}

// libpcapLoads reports whether libpcap loads from names, as CompileFilter
// would load it, without keeping it for CompileFilter.
func libpcapLoads(names []string) error {
	return loadLibpcap(names, false)
}
