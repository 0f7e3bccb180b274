package capture

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rawnet/rawnet/pcap"
)

// DecoderConfig says how a Decoder shows packets. The zero value prints
// as tcpdump -nn does by default.
type DecoderConfig struct {
	// AbsoluteSeq prints TCP sequence and acknowledgement numbers as they
	// are on the wire (tcpdump -S). Without it they are relative to each
	// connection's first, as tcpdump prints them by default.
	AbsoluteSeq bool
	// DecodeAs decodes the payload of the given ports as the given
	// protocol, before the ports tcpdump chooses by (see ParseDecodeAs).
	DecodeAs []DecodeAs
}

// AppProto is a protocol the Decoder decodes above UDP or TCP.
type AppProto uint8

// The protocols above UDP and TCP that the Decoder knows.
const (
	AppNone AppProto = iota
	AppDNS
	AppMDNS
	AppNTP
	AppDHCPv4
	AppDHCPv6
	AppVXLAN
	AppGeneve
	AppESP // UDP-encapsulated ESP (RFC 3948), port 4500
	numApps
)

var appNames = [numApps]string{
	AppNone: "none", AppDNS: "dns", AppMDNS: "mdns", AppNTP: "ntp", AppDHCPv4: "dhcp",
	AppDHCPv6: "dhcp6", AppVXLAN: "vxlan", AppGeneve: "geneve", AppESP: "esp",
}

func (p AppProto) String() string {
	if p < numApps {
		return appNames[p]
	}
	return "app-" + strconv.Itoa(int(p))
}

// DecodeAs maps one UDP or TCP port to a protocol: packets from or to the
// port are decoded as that protocol whatever tcpdump would choose.
type DecodeAs struct {
	TCP   bool // TCP port; UDP otherwise
	Port  uint16
	Proto AppProto
}

// ParseDecodeAs parses "udp:5300=dns" or "tcp:5300=dns": a transport, a
// port and a protocol (dns, mdns, ntp, dhcp, dhcp6, vxlan, geneve, esp
// over UDP; dns over TCP; none to show the payload undecoded).
func ParseDecodeAs(s string) (DecodeAs, error) {
	var d DecodeAs
	tr, rest, ok := strings.Cut(s, ":")
	port, proto, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 {
		return d, fmt.Errorf("%q: want udp:PORT=PROTO or tcp:PORT=PROTO, e.g. udp:5300=dns", s)
	}
	switch strings.ToLower(tr) {
	case "udp":
	case "tcp":
		d.TCP = true
	default:
		return d, fmt.Errorf("%q: transport %q: want udp or tcp", s, tr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return d, fmt.Errorf("%q: port %q: want a number from 0 to 65535", s, port)
	}
	d.Port = uint16(n)
	d.Proto = numApps
	for p, name := range appNames {
		if strings.EqualFold(proto, name) {
			d.Proto = AppProto(p)
		}
	}
	switch {
	case d.Proto == numApps:
		return d, fmt.Errorf("%q: protocol %q: want one of %s", s, proto, strings.Join(appNames[:], ", "))
	case d.TCP && d.Proto != AppDNS && d.Proto != AppNone:
		return d, fmt.Errorf("%q: over tcp only dns (or none) is decoded", s)
	}
	return d, nil
}

// NewDecoderConfig returns a Decoder for packets of the given link type
// (see NewDecoder) that shows them as cfg says.
func NewDecoderConfig(link pcap.LinkType, cfg DecoderConfig) *Decoder {
	d := NewDecoder(link)
	d.conf.abs = cfg.AbsoluteSeq
	for _, m := range cfg.DecodeAs {
		tab := &d.conf.udp
		if m.TCP {
			tab = &d.conf.tcp
		}
		if *tab == nil {
			*tab = make(map[uint16]AppProto)
		}
		(*tab)[m.Port] = m.Proto
	}
	return d
}

// appConf is what the stacks of one Decoder share: the port overrides.
type appConf struct {
	abs      bool
	udp, tcp map[uint16]AppProto
}

// udpApp chooses the protocol of a UDP payload by its ports, in the order
// tcpdump's udp_print tries them.
func (c *appConf) udpApp(sport, dport uint16) AppProto {
	if c.udp != nil {
		if p, ok := c.udp[sport]; ok {
			return p
		}
		if p, ok := c.udp[dport]; ok {
			return p
		}
	}
	either := func(p uint16) bool { return sport == p || dport == p }
	switch {
	case either(53):
		return AppDNS
	case either(5353):
		return AppMDNS
	case either(67) || either(68):
		return AppDHCPv4
	case either(4500):
		return AppESP
	case either(123):
		return AppNTP
	case either(546) || either(547):
		return AppDHCPv6
	case either(4789):
		return AppVXLAN
	case either(6081):
		return AppGeneve
	}
	return AppNone
}

// tcpApp is udpApp for TCP: DNS on port 53.
func (c *appConf) tcpApp(sport, dport uint16) AppProto {
	if c.tcp != nil {
		if p, ok := c.tcp[sport]; ok {
			return p
		}
		if p, ok := c.tcp[dport]; ok {
			return p
		}
	}
	if sport == 53 || dport == 53 {
		return AppDNS
	}
	return AppNone
}
