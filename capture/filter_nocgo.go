//go:build !cgo

package capture

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/rawnet/rawnet/pcap"
)

// CompileFilter needs libpcap, which this binary (built without cgo)
// cannot call: it returns an error wrapping ErrFilterNeedsCgo.
func CompileFilter(expr string, link pcap.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	return nil, fmt.Errorf("%w: this rawnet was built with CGO_ENABLED=0; cannot compile %q (build with 'make build')", ErrFilterNeedsCgo, expr)
}
