package icmp

import (
	"net/netip"
)

// Kind is one kind of ping probe: what a probe is on the wire and which
// received packets answer it. The engine (Pinger) does everything else
// for every kind alike: scheduling and pacing (-i, --rate, -f), the
// per-target rings of recent probes, timeouts and late replies,
// statistics, events, UntilReplies, the tap and kernel transmit stamps.
// A kind only
//
//   - builds the request for one (target, sequence) into a buffer the
//     engine owns (Prepare once per run, Build per probe), which the
//     engine sends with Conn.WriteTo on the target's Conn, and
//   - matches a packet a Conn received back to (target, sequence), saying
//     what the packet says (Match): an echo reply, a TCP SYN-ACK or RST, a
//     UDP answer or port unreachable, an ICMP error about the probe, or
//     (link-layer kinds) the MAC address that answered.
//
// Kinds: Echo (ICMP echo, Config.Kind nil, ListenConfig.Proto ProtoICMP),
// TCPProbe (-P tcp, a SYN per probe) over a ProtoTCP conn and UDPProbe
// (-P udp) over a ProtoUDP conn. Each comes with its Conn from Listen; a
// new kind (ARP, NDP) adds a Kind, a Proto and a Conn, and no engine code
// beyond the tap (see Proto). The Conn interface stays as it is: ID is the
// kind's identifier (echo id, local port), Datagram says the kernel owns
// it, Packet carries what a kind reads (QueuedError for errors from a
// socket's error queue). Events carry what a Match says (Flags, Closed,
// MAC) to the sink.
//
// The probe's identity travels in the packet, so that concurrent rawnet
// runs (pings, traces, exporters) never take each other's answers: the
// engine's per-run random cookie is given to Build and Match, and a kind
// puts as much of it, the target index and the sequence as the protocol
// has room for where the answer (or an ICMP error's quote) echoes it. A
// kind is told the sequence in full; when its packets carry only part
// of it, or none, Match says so (MatchBy) and the engine finds the probe
// by the answering address.
//
// Build and Match run on the hot path: they must not allocate. Build is
// called by one goroutine at a time; Match by one goroutine per Conn,
// concurrently with Build and with each other, so a kind keeps no
// mutable state beyond what Prepare sets. A Kind value serves one run.
type Kind interface {
	// Proto is the IP protocol number of the kind's probes over IPv4 or
	// IPv6: the engine writes it into the IP headers it rebuilds for the
	// tap (pcap files). The tap records IP packets only: a kind whose
	// probes are not IP packets (ARP) needs it taught about frames.
	Proto(v6 bool) uint8
	// Len is the length of every probe message for a payload of size
	// bytes (Config.Size after its defaults).
	Len(size int) int
	// Prepare writes into b (Len(size) bytes, the engine's, the same
	// buffer on every Build of the run) what every probe of the run
	// shares, such as the payload filled with pattern.
	Prepare(b []byte, size int, pattern []byte)
	// Build writes probe pr (valid during the call only) into b, which
	// Prepare has prepared, and returns the message Conn.WriteTo sends:
	// the transport message from its first header byte (ICMP message, TCP
	// segment, UDP datagram), with its checksum when the socket does not
	// compute it.
	Build(b []byte, pr *Probe) []byte
	// Match reads pkt, which c received, and reports whether it answers
	// or reports on a probe of the run whose cookie is given; if so it
	// fills m.
	Match(c Conn, pkt *Packet, cookie uint64, m *Match) bool
}

// Probe is what a Kind builds one request from.
type Probe struct {
	Cookie uint64 // the run's random cookie
	Target uint32 // the target's index in Config.Targets
	Seq    uint32 // the probe's sequence number for that target, from 1
	// ID is the conn's identifier (Conn.ID): the echo identifier, or the
	// local port TCP and UDP probes leave from.
	ID       uint16
	V6       bool
	Src, Dst netip.Addr
}

// MatchBy says how a Match names its probe.
type MatchBy uint8

const (
	// ByProbe: Target and Seq are the probe's, read from the packet (and
	// the kind has checked the cookie).
	ByProbe MatchBy = iota
	// BySeq16: Peer is the target's address, Seq holds the low 16 bits of
	// the sequence; the engine takes the latest probe sent with them.
	BySeq16
	// ByLatest: Peer is the target's address and the packet does not say
	// which probe it answers; the engine takes the latest probe sent.
	ByLatest
)

// Match is what a Kind read in a received packet about one probe.
type Match struct {
	// Kind is EventReply (the target answered: echo reply, SYN-ACK, RST,
	// UDP answer or port unreachable, ARP/NDP reply) or EventError (an ICMP
	// error message about the probe, counted as ICMP ping counts it).
	Kind   EventKind
	By     MatchBy
	Target uint32     // ByProbe
	Seq    uint32     // ByProbe: the whole sequence; BySeq16: its low 16 bits
	Peer   netip.Addr // BySeq16, ByLatest: the target as the packet names it
	// ICMP error fields (EventError, and a UDP probe's port unreachable).
	ICMPType, ICMPCode uint8
	Info               uint32
	// Flags are the TCP flags of a TCP answer (TCPSA: open, TCPRA: closed).
	Flags uint8
	// Closed: the answer says the port is closed (RST, port unreachable).
	Closed bool
	// MAC is the link-layer address that answered (ARP, NDP); zero when
	// the kind has none.
	MAC [6]byte
}
