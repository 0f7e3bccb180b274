package capture

import (
	"testing"

	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// testPackets returns the mixed test traffic (see package testtraffic).
func testPackets(testing.TB) [][]byte { return testtraffic.Frames() }

// writeTestPcap writes frames to a pcap file, 1 ms apart.
func writeTestPcap(t testing.TB, path string, link pcap.LinkType, frames [][]byte) {
	t.Helper()
	if err := testtraffic.WritePcap(path, link, frames); err != nil {
		t.Fatal(err)
	}
}
