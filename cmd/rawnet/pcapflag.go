package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/pcap"
	"github.com/rawnet/rawnet/tap"
)

// openPcap creates the --write file (pcap, or pcapng for *.pcapng) and
// the tap that records into it; nil, nil without --write.
func openPcap(c *cli.Context) (*pcap.File, tap.Func, error) { return openPcapLink(c, pcap.Raw) }

// openPcapLink is openPcap for packets of link type link (Ethernet for
// ping -P arp and ndp, whose taps see whole frames).
func openPcapLink(c *cli.Context, link pcap.LinkType) (*pcap.File, tap.Func, error) {
	name := c.String("write")
	if name == "" {
		return nil, nil, nil
	}
	f, err := pcap.Create(name, link)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Tap(), nil
}

// closePcap closes the --write file, if there is one.
func closePcap(f *pcap.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
