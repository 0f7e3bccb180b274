package craft

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rawnet/rawnet/tap"
)

// Config says how to send a spec. The zero value sends every packet of
// the expansion once, as fast as possible, on L3 where that keeps every
// field as the spec says.
type Config struct {
	Spec     *Spec         // what to send (Parse)
	Count    uint64        // sends of the whole expansion; 0 means 1 unless Duration is set
	Rate     float64       // packets per second; 0: as fast as the kernel takes them
	Duration time.Duration // stop sending after this long (0: no limit)
	Fragment int           // split the IP payload into fragments of at most this many bytes
	L2       bool          // send whole frames with AF_PACKET even when L3 would do
	L3       bool          // never switch to AF_PACKET for speed (fields the kernel rewrites still need L2)
	Iface    string        // the interface to send on (default: the route's)
	Wait     time.Duration // after sending, take answers for this long
	Seed     uint64        // seed for rand values (0: from the clock)
	DryRun   bool          // build only: no sockets, no neighbour resolution

	// Tap, if set, sees every frame sent and every answer received
	// (frames as Link says), for a pcap file.
	Tap tap.Func
}

// Plan is a spec made ready to send: defaults resolved from the routing
// and neighbour tables, and the way of sending chosen.
type Plan struct {
	cfg     Config
	spec    *Spec
	b       *Builder
	l2      bool
	v6      bool
	ipAt    int // index of the outermost IP layer
	iface   *net.Interface
	link    string // the interface link-local destinations are on: their zone, else Iface
	notes   []string
	linkLen int
	tx      sender   // opened by Open, handed to Run
	rx      receiver // with Wait
}

// New resolves the defaults of cfg.Spec and chooses how to send it; Run
// sends it. Like the other engines' New, it takes everything in its Config.
func New(cfg Config) (*Plan, error) {
	spec := cfg.Spec
	if spec == nil || len(spec.Layers) == 0 {
		return nil, fmt.Errorf("%w: no layers to send", ErrSpec)
	}
	p := &Plan{cfg: cfg, spec: spec}
	p.ipAt = -1
	for i, l := range spec.Layers {
		if k := l.def.kind; k == lIP || k == lIP6 {
			p.ipAt, p.v6 = i, k == lIP6
			break
		}
	}
	if cfg.Fragment > 0 && p.ipAt < 0 {
		return nil, errNoIP
	}
	env, err := p.environment()
	if err != nil {
		return nil, err
	}
	p.b = NewBuilder(spec, env, cfg.Seed)
	p.b.idPerPacket = cfg.Fragment > 0
	return p, nil
}

// firstDst is the outermost IP layer's first destination.
func (p *Plan) firstDst() netip.Addr {
	l := p.spec.Layers[p.ipAt]
	fi := ipDst
	if p.v6 {
		fi = ip6Dst
	}
	v := l.vals[fi]
	v.pick(0)
	return v.addr.WithZone(v.zone)
}

func (p *Plan) environment() (Env, error) {
	var env Env
	first := p.spec.Layers[0].def.kind
	p.l2 = p.cfg.L2 || first == lEth
	if reason := p.kernelRewrites(); reason != "" && !p.l2 {
		p.l2 = true
		p.notes = append(p.notes, "sending on L2 (AF_PACKET): "+reason)
	}
	if p.ipAt < 0 {
		return env, p.l2Env(&env, netip.Addr{})
	}
	dst := p.firstDst()
	p.link = dst.Zone()
	if p.link == "" {
		p.link = p.cfg.Iface
	}
	src, err := SourceFor(dst, p.cfg.Iface)
	if err != nil && !p.cfg.DryRun {
		return env, err
	}
	if dst.Is4() {
		env.Src4 = src
	} else {
		env.Src6 = src
	}
	if !p.l2 && p.bulk() {
		if r, err := LookupRoute(dst); err == nil && isEthernet(r.Iface) {
			p.l2 = true
			p.notes = append(p.notes, "sending on L2 (AF_PACKET) for speed: a bulk send at --rate 0 to one destination; --l3 keeps the kernel's IP output path")
		}
	}
	if !p.l2 {
		p.ndLinkAddr(&env, dst)
		return env, nil
	}
	return env, p.l2Env(&env, dst)
}

// ndLinkAddr finds, for packets sent on L3, the MAC that neighbour
// discovery messages carry in their link-layer address options by
// default: that of the interface -I names or the route to dst uses.
// (L2 sends know it already.) Without one the option is left out.
func (p *Plan) ndLinkAddr(env *Env, dst netip.Addr) {
	need := false
	for _, l := range p.spec.Layers {
		need = need || l.def.kind == lICMP6 && mayBe(l, icmpType, 128, 133, 135, 136)
	}
	if !need {
		return
	}
	var ifc *net.Interface
	if p.cfg.Iface != "" {
		ifc, _ = net.InterfaceByName(p.cfg.Iface)
	} else if r, err := LookupRoute(dst); err == nil {
		ifc = r.Iface
	}
	if isEthernet(ifc) {
		env.SrcMAC = ifc.HardwareAddr
	}
}

// bulk reports whether the plan is a bulk send that L2 makes faster: as
// fast as possible, many packets, one destination (so one route and one
// next hop serve them all).
func (p *Plan) bulk() bool {
	if p.cfg.L3 || p.cfg.Rate != 0 || p.cfg.DryRun || p.ipAt != 0 {
		return false
	}
	if total := p.Total(); total != 0 && total < 1000 {
		return false
	}
	l := p.spec.Layers[p.ipAt]
	fi := ipDst
	if p.v6 {
		fi = ip6Dst
	}
	return l.vals[fi].count == 1
}

func isEthernet(ifc *net.Interface) bool {
	return ifc != nil && ifc.Flags&net.FlagLoopback == 0 && len(ifc.HardwareAddr) == 6
}

// l2Env finds the interface, its MAC and the next hop's for L2 sends.
func (p *Plan) l2Env(env *Env, dst netip.Addr) error {
	var hop netip.Addr
	if dst.IsValid() {
		r, err := LookupRoute(dst)
		if err != nil && p.cfg.Iface == "" {
			return err
		}
		if err == nil {
			p.iface, hop = r.Iface, r.NextHop
		}
	}
	if p.cfg.Iface != "" {
		ifc, err := net.InterfaceByName(p.cfg.Iface)
		if err != nil {
			return fmt.Errorf("craft: interface %s: %w", p.cfg.Iface, err)
		}
		if p.iface == nil || p.iface.Index != ifc.Index {
			hop = dst
		}
		p.iface = ifc
	}
	if p.iface == nil {
		return fmt.Errorf("craft: an L2 send needs an interface: give -I IFACE")
	}
	env.SrcMAC = p.iface.HardwareAddr
	p.linkLen = 14
	if p.spec.Layers[0].def.kind != lEth {
		p.spec.Layers = append([]*Layer{newLayer(lEth)}, p.spec.Layers...)
		p.ipAt++
	}
	if !hop.IsValid() || given(p.spec.Layers[0], ethDst) {
		return nil
	}
	hw, err := Neighbour(p.iface, hop, !p.cfg.DryRun)
	if err != nil && !p.cfg.DryRun {
		return err
	}
	env.DstMAC = hw
	p.notes = append(p.notes, fmt.Sprintf("L2 on %s, next hop %s at %s", p.iface.Name, hop, hw))
	return nil
}

func newLayer(k layerKind) *Layer {
	for i := range layerDefs {
		if layerDefs[i].kind == k {
			return &Layer{def: &layerDefs[i], vals: make([]Value, len(layerDefs[i].fields))}
		}
	}
	return nil
}

// kernelRewrites says why an IPv4 raw socket would not send the packet as
// the spec has it: Linux sets the total length and header checksum itself,
// fills in a zero id and rejects a header length it does not like.
func (p *Plan) kernelRewrites() string {
	if p.ipAt != 0 || p.v6 {
		return ""
	}
	l := p.spec.Layers[0]
	switch {
	case given(l, ipLen):
		return "the kernel would rewrite the IPv4 total length the spec sets"
	case given(l, ipChksum):
		return "the kernel would rewrite the IPv4 header checksum the spec sets"
	case given(l, ipIHL) || given(l, ipVersion):
		return "the kernel checks the IPv4 version and header length the spec sets"
	case given(l, ipID) && hasZero(&l.vals[ipID]):
		return "the kernel would replace an IPv4 id of 0"
	case given(l, ipSrc) && hasUnspecified(&l.vals[ipSrc]):
		return "the kernel would replace a source address of 0.0.0.0"
	}
	return ""
}

func hasZero(v *Value) bool {
	for _, s := range v.nums {
		if s.lo == 0 {
			return true
		}
	}
	return v.rand
}

func hasUnspecified(v *Value) bool {
	for _, p := range v.pfx {
		if p.Contains(netip.IPv4Unspecified()) {
			return true
		}
	}
	return false
}

// L2 reports whether frames go out through AF_PACKET.
func (p *Plan) L2() bool { return p.l2 }

// Interface is the interface L2 frames go out on (nil for L3).
func (p *Plan) Interface() *net.Interface { return p.iface }

// Notes are what verbose mode tells the user about the plan.
func (p *Plan) Notes() []string { return p.notes }

// Spec is the plan's spec (with the eth layer an L2 send adds).
func (p *Plan) Spec() *Spec { return p.spec }

// Total is how many packets the plan sends in all (before fragmenting), or
// 0 when only Duration bounds it.
func (p *Plan) Total() uint64 {
	if p.cfg.Count == 0 && p.cfg.Duration > 0 {
		return 0
	}
	return max(1, p.cfg.Count) * p.spec.total
}

// Each builds the packets of the plan without sending them and hands each
// frame (each fragment with --fragment) to fn, with the packet's number;
// frame is valid during the call. It stops after limit packets (0: all)
// or when fn returns an error.
func (p *Plan) Each(limit uint64, fn func(i uint64, frame []byte) error) error {
	total := p.Total()
	if total == 0 || limit > 0 && limit < total {
		total = limit
	}
	buf := make([]byte, 0, 2048)
	frag := make([]byte, 0, 2048)
	if rec := p.cfg.Tap; rec != nil {
		inner := fn
		fn = func(i uint64, frame []byte) error {
			rec(tap.Out, time.Now(), frame)
			return inner(i, frame)
		}
	}
	for i := uint64(0); i < total; i++ {
		pkt := p.b.Build(buf, i)
		buf = pkt[:0]
		if p.cfg.Fragment <= 0 {
			if err := fn(i, pkt); err != nil {
				return err
			}
			continue
		}
		fp, err := planFragments(pkt[p.linkLen:], p.cfg.Fragment)
		if err != nil {
			return err
		}
		id := p.fragmentID(pkt)
		for k := 0; k < fp.count; k++ {
			frag = writeFragment(frag, pkt[:p.linkLen], pkt[p.linkLen:], fp, k, id)
			if err := fn(i, frag); err != nil {
				return err
			}
		}
	}
	return nil
}

// fragmentID is the IPv6 fragment id: random per packet. (IPv4 fragments
// keep the packet's own id.)
func (p *Plan) fragmentID(pkt []byte) uint32 { return uint32(p.b.r.next()) }

// SetTap sets the hook that sees every frame sent and every answer (for
// a pcap file whose link type depends on the plan: see L2).
func (p *Plan) SetTap(fn tap.Func) { p.cfg.Tap = fn }
