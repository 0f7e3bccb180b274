package udp

import (
	"errors"
	"net/netip"
	"testing"
)

// The three engines take their socket in the config, like every other
// engine's New, and refuse a config without one.
func TestNewWithoutConn(t *testing.T) {
	_, errProbe := NewProbe(ProbeConfig{Remote: netip.MustParseAddrPort("198.18.1.2:7")})
	_, errScan := NewScanner(ScanConfig{Target: netip.MustParseAddr("198.18.1.2"), Ports: []uint16{7}})
	_, errServer := NewServer(ServerConfig{})
	for name, err := range map[string]error{"NewProbe": errProbe, "NewScanner": errScan, "NewServer": errServer} {
		if !errors.Is(err, errNoConn) {
			t.Errorf("%s without Conn: %v, want errNoConn", name, err)
		}
	}
}
