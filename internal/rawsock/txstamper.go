package rawsock

// TxStamper is what a socket offers whose kernel stamps the packets it
// sends (a Conn opened with Config.TxStamps, or an engine's Conn over
// one): TxKey before a send numbers its packets in order (the i-th of a
// batch is key+i), and TxStamp gives a packet's stamp by that number.
// TxStamp is called by the socket's one reader only. Engines time a reply
// from the stamp through SendTime; their test fakes have no TxStamper and
// time from the user-space send time.
type TxStamper interface {
	TxKey() (key uint32, ok bool)
	TxStamp(key uint32) (unixNano int64, ok bool)
}

// txStamperAfter is a TxStamper that can pass over a kept stamp older than
// the send to look for a newer one of the same number (Conn.TxStampAfter).
type txStamperAfter interface {
	TxStampAfter(key uint32, after int64) (unixNano int64, ok bool)
}

// SendTime is when the packet numbered key left, in Unix nanoseconds: the
// kernel's transmit stamp when st has one (kernel true), else sent, the
// time read before the send. A stamp before sent cannot be this packet's
// (the numbering slipped, say after a failed send) and is not used.
func SendTime(st TxStamper, key uint32, sent int64) (ns int64, kernel bool) {
	if st == nil {
		return sent, false
	}
	if a, ok := st.(txStamperAfter); ok {
		if ns, ok := a.TxStampAfter(key, sent); ok {
			return ns, true
		}
		return sent, false
	}
	if ns, ok := st.TxStamp(key); ok && ns >= sent {
		return ns, true
	}
	return sent, false
}

// TxStampState reports whether c (a Conn, or an engine's Conn over one)
// has kernel transmit stamps, and if not, why: the error of its
// TxStampErr method, or nil when c has none (it cannot have them).
func TxStampState(c any) (bool, error) {
	s, ok := c.(interface{ TxStampErr() error })
	if !ok {
		return false, nil
	}
	err := s.TxStampErr()
	return err == nil, err
}
