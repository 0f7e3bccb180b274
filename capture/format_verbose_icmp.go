package capture

import (
	"github.com/gopacket/gopacket/layers"
	"github.com/rawnet/rawnet/internal/icmpmsg"
)

// icmpHeaderFields opens the ICMP or ICMPv6 layer with the fields both
// start with: type (and its name), code and checksum.
func icmpHeaderFields(w *fieldWriter, v6 bool, typ, code uint8, sum uint16, st csumStatus, want uint16) {
	if v6 {
		w.layer("icmpv6", "Internet Control Message Protocol v6")
	} else {
		w.layer("icmpv4", "Internet Control Message Protocol")
	}
	w.uintNote("type", "Type", uint64(typ), icmpmsg.Name(v6, typ))
	w.uint("code", "Code", uint64(code))
	w.checksum("checksum", "Checksum", sum, st, want)
}

func (s *stack) icmpv4Fields(w *fieldWriter) {
	ic := &s.icmp4
	typ := ic.TypeCode.Type()
	st, want := s.icmp4Checksum()
	icmpHeaderFields(w, false, typ, ic.TypeCode.Code(), ic.Checksum, st, want)
	switch typ {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply,
		layers.ICMPv4TypeTimestampRequest, layers.ICMPv4TypeTimestampReply:
		w.uint("id", "Identifier", uint64(ic.Id))
		w.uint("seq", "Sequence number", uint64(ic.Seq))
	case layers.ICMPv4TypeDestinationUnreachable:
		if ic.TypeCode.Code() == 4 {
			w.uint("mtu", "Next-hop MTU", uint64(ic.Seq))
		}
	case layers.ICMPv4TypeRedirect:
		w.addr("gateway", "Gateway address", ic.Contents[4:8])
	case layers.ICMPv4TypeParameterProblem:
		w.uint("pointer", "Pointer", uint64(ic.Contents[4]))
	}
	s.quotedFields(w)
	w.endLayer()
}

func (s *stack) icmpv6Fields(w *fieldWriter) {
	ic := &s.icmp6
	typ := ic.TypeCode.Type()
	st, want := s.icmp6Checksum()
	icmpHeaderFields(w, true, typ, ic.TypeCode.Code(), ic.Checksum, st, want)
	rest := ic.Payload
	switch {
	case s.has(kindICMPv6Echo):
		w.uint("id", "Identifier", uint64(s.echo6.Identifier))
		w.uint("seq", "Sequence number", uint64(s.echo6.SeqNumber))
	case typ == layers.ICMPv6TypePacketTooBig && len(rest) >= 4:
		w.uint("mtu", "MTU", uint64(be.Uint32(rest)))
	case typ == layers.ICMPv6TypeParameterProblem && len(rest) >= 4:
		w.uint("pointer", "Pointer", uint64(be.Uint32(rest)))
	case s.has(kindNeighborSolicitation):
		w.addr("target", "Target address", s.ns.TargetAddress)
		ndOptions(w, s.ns.Options)
	case s.has(kindNeighborAdvertisement):
		w.boolean("router", "Router", s.na.Flags&0x80 != 0)
		w.boolean("solicited", "Solicited", s.na.Flags&0x40 != 0)
		w.boolean("override", "Override", s.na.Flags&0x20 != 0)
		w.addr("target", "Target address", s.na.TargetAddress)
		ndOptions(w, s.na.Options)
	case s.has(kindRouterSolicitation):
		ndOptions(w, s.rs.Options)
	case s.has(kindRouterAdvertisement):
		ra := &s.ra
		w.uint("cur_hop_limit", "Cur hop limit", uint64(ra.HopLimit))
		w.hex("flags", "Flags", uint64(ra.Flags), 2)
		w.uint("router_lifetime", "Router lifetime", uint64(ra.RouterLifetime))
		w.uint("reachable_time", "Reachable time", uint64(ra.ReachableTime))
		w.uint("retrans_timer", "Retrans timer", uint64(ra.RetransTimer))
		ndOptions(w, ra.Options)
	}
	s.quotedFields(w)
	w.endLayer()
}

func ndOptions(w *fieldWriter, opts layers.ICMPv6Options) {
	if len(opts) == 0 {
		return
	}
	w.beginList("options", "Options")
	for i := range opts {
		w.item(ndOptionName(opts[i].Type), opts[i].Data)
	}
	w.endList()
}

func ndOptionName(t layers.ICMPv6Opt) string {
	switch t {
	case layers.ICMPv6OptSourceAddress:
		return "source-lladdr"
	case layers.ICMPv6OptTargetAddress:
		return "target-lladdr"
	case layers.ICMPv6OptPrefixInfo:
		return "prefix-info"
	case layers.ICMPv6OptRedirectedHeader:
		return "redirected-header"
	case layers.ICMPv6OptMTU:
		return "mtu"
	}
	return "unknown"
}

// quotedFields lists the layers of the packet an ICMP error quotes.
func (s *stack) quotedFields(w *fieldWriter) {
	if !s.hasQuoted {
		return
	}
	w.beginList("quoted", "Quoted packet")
	s.quoted.writeFields(w)
	w.endList()
}
