package craft

import (
	"fmt"
	"slices"
)

// follows lists, for each layer, what may come right before it in a stack.
// ip after icmp (and ip6 after icmp6) is the packet an error message quotes;
// ip or ip6 after ip or ip6 is a tunnel.
var follows = map[layerKind][]layerKind{
	lEth:     {},
	lVLAN:    {lEth, lVLAN},
	lIP:      {lEth, lVLAN, lIP, lIP6, lICMP, lHBH, lDstOpt, lRouting, lFrag6},
	lIP6:     {lEth, lVLAN, lIP, lIP6, lICMP6, lHBH, lDstOpt, lRouting, lFrag6},
	lHBH:     {lIP6},
	lDstOpt:  {lIP6, lHBH, lRouting, lFrag6, lDstOpt},
	lRouting: {lIP6, lHBH, lDstOpt},
	lFrag6:   {lIP6, lHBH, lDstOpt, lRouting},
	lICMP:    {lIP},
	lICMP6:   {lIP6, lHBH, lDstOpt, lRouting, lFrag6},
	lUDP:     {lIP, lIP6, lHBH, lDstOpt, lRouting, lFrag6},
	lTCP:     {lIP, lIP6, lHBH, lDstOpt, lRouting, lFrag6},
	lRaw:     {lEth, lVLAN, lIP, lIP6, lHBH, lDstOpt, lRouting, lFrag6, lICMP, lICMP6, lUDP, lTCP},
}

func (s *Spec) checkOrder() error {
	first := s.Layers[0]
	switch first.def.kind {
	case lEth, lIP, lIP6:
	default:
		return &SpecError{Col: first.col, Msg: fmt.Sprintf("a spec starts with eth, ip or ip6, not %s", first.def.name)}
	}
	for i := 1; i < len(s.Layers); i++ {
		prev, l := s.Layers[i-1], s.Layers[i]
		ok := false
		for _, k := range follows[l.def.kind] {
			if k == prev.def.kind {
				ok = true
			}
		}
		if !ok {
			return &SpecError{Col: l.col, Msg: fmt.Sprintf("%s cannot follow %s", l.def.name, prev.def.name)}
		}
	}
	last := s.Layers[len(s.Layers)-1]
	if k := last.def.kind; k == lEth || k == lVLAN {
		return &SpecError{Col: last.col + len(last.def.name), Msg: fmt.Sprintf("expected a layer after %s (ip, ip6 or raw)", last.def.name)}
	}
	for _, l := range s.Layers {
		if l.def.kind == lRaw && given(l, rawRand) && l.vals[rawRand].nums[0].lo == 1 && !given(l, rawLen) {
			return &SpecError{Col: l.vals[rawRand].col, Msg: "raw.rand needs a length: raw(len=N,rand)"}
		}
	}
	if err := s.checkAddrs(); err != nil {
		return err
	}
	return s.checkND()
}

// checkND asks for the target of a neighbour solicitation sent to a
// multicast address: only a unicast destination is its own target.
func (s *Spec) checkND() error {
	var ip6 *Layer
	for _, l := range s.Layers {
		switch l.def.kind {
		case lIP6:
			ip6 = l
		case lICMP6:
			if ip6 == nil || given(l, icmp6Target) || !mayBe(l, icmpType, 128, 135) {
				continue
			}
			for _, p := range ip6.vals[ip6Dst].pfx {
				if p.Addr().IsMulticast() {
					return &SpecError{Col: l.col + len(l.def.name), Msg: "icmp6.target is required: a neighbour solicitation to a multicast address cannot default it to ip6.dst"}
				}
			}
		}
	}
	return nil
}

// checkAddrs asks for a destination on the outermost IP layer and for a
// source and destination on quoted and tunnelled ones, which no route can
// fill in.
func (s *Spec) checkAddrs() error {
	seenIP := false
	for _, l := range s.Layers {
		src, dst := -1, -1
		switch l.def.kind {
		case lIP:
			src, dst = ipSrc, ipDst
		case lIP6:
			src, dst = ip6Src, ip6Dst
		default:
			continue
		}
		end := l.col + len(l.def.name)
		if !l.vals[dst].set {
			return &SpecError{Col: end, Msg: l.def.name + ".dst is required: " + l.def.name + "(dst=ADDR,...)"}
		}
		if l.vals[dst].rand {
			return &SpecError{Col: l.vals[dst].col, Msg: l.def.name + ".dst: rand is not allowed for addresses"}
		}
		if seenIP && !l.vals[src].set {
			return &SpecError{Col: end, Msg: l.def.name + ".src is required in a quoted or tunnelled packet"}
		}
		if l.vals[src].rand {
			return &SpecError{Col: l.vals[src].col, Msg: l.def.name + ".src: rand is not allowed for addresses"}
		}
		seenIP = true
	}
	return nil
}

// index collects the fields that expand and those that are random.
func (s *Spec) index() error {
	s.total = 1
	for _, l := range s.Layers {
		for fi := range l.vals {
			v := &l.vals[fi]
			if !v.set {
				continue
			}
			if v.rand {
				s.rands = append(s.rands, &randField{v: v, max: l.def.fields[fi].max})
				continue
			}
			v.pick(0)
			if v.count > 1 {
				s.multi = append(s.multi, v)
				if s.total*v.count/v.count != s.total || s.total*v.count > MaxPackets {
					return &SpecError{Col: v.col, Msg: fmt.Sprintf("the spec expands to more than %d packets", uint64(MaxPackets))}
				}
				s.total *= v.count
			}
		}
	}
	// The field written last in the spec varies fastest.
	slices.SortStableFunc(s.multi, func(a, b *Value) int { return a.ord - b.ord })
	return nil
}

// Count is the number of packets the spec expands to (the product of the
// alternatives of every field).
func (s *Spec) Count() uint64 { return s.total }

// pick makes packet i of the expansion current: the last field varies
// fastest.
func (s *Spec) pick(i uint64) {
	for k := len(s.multi) - 1; k >= 0; k-- {
		v := s.multi[k]
		v.pick(i % v.count)
		i /= v.count
	}
}

// draw gives every rand field a fresh value.
func (s *Spec) draw(r *rng) {
	for _, rf := range s.rands {
		rf.v.cur = r.upTo(rf.max)
	}
}
