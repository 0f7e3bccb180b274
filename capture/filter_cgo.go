//go:build cgo

package capture

/*
#cgo LDFLAGS: -lpcap
#include <stdlib.h>
#include <pcap/pcap.h>

// compile_filter compiles expr for a dead handle of the given link type;
// on failure it copies libpcap's message to errbuf.
static int compile_filter(int dlt, int snaplen, const char *expr, struct bpf_program *prog, char *errbuf, size_t errlen) {
	pcap_t *p = pcap_open_dead(dlt, snaplen);
	if (p == NULL) {
		snprintf(errbuf, errlen, "pcap_open_dead failed");
		return -1;
	}
	int rc = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0) {
		snprintf(errbuf, errlen, "%s", pcap_geterr(p));
	}
	pcap_close(p);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/pcap"
)

// CompileFilter compiles a tcpdump filter expression with libpcap for
// packets of the given link type and snapshot length (pcap.DefaultSnaplen
// when 0). An expression libpcap rejects gives an error wrapping
// ErrBadFilter with libpcap's message.
func CompileFilter(expr string, link pcap.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	if snaplen <= 0 {
		snaplen = pcap.DefaultSnaplen
	}
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var prog C.struct_bpf_program
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	if C.compile_filter(C.int(dltFor(link)), C.int(snaplen), cexpr, &prog, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return nil, fmt.Errorf("%w %q: %s", ErrBadFilter, expr, C.GoString(&errbuf[0]))
	}
	defer C.pcap_freecode(&prog)
	insns := unsafe.Slice(prog.bf_insns, prog.bf_len)
	out := make([]bpf.RawInstruction, len(insns))
	for i, in := range insns {
		out[i] = bpf.RawInstruction{Op: uint16(in.code), Jt: uint8(in.jt), Jf: uint8(in.jf), K: uint32(in.k)}
	}
	return out, nil
}
