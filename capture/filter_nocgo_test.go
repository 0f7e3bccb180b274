//go:build !cgo

package capture

import (
	"errors"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/pcap"
)

func TestCompileFilterNeedsCgo(t *testing.T) {
	_, err := CompileFilter("icmp", pcap.Ethernet, 0)
	if !errors.Is(err, ErrFilterNeedsCgo) || !strings.Contains(err.Error(), "cgo") {
		t.Fatalf("err = %v, want ErrFilterNeedsCgo", err)
	}
}
