package udp

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxPorts is the number of distinct UDP ports (1..65535).
const MaxPorts = 65535

// ParsePorts reads a port list such as "53,123,161,1000-2000": numbers
// and inclusive ranges 1..65535, separated by commas. Ports come back in
// the order given, each once.
func ParsePorts(s string) ([]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("udp: empty port list")
	}
	var seen [MaxPorts + 1]bool
	var ports []uint16
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, err := parseRange(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		for p := lo; p <= hi; p++ {
			if !seen[p] {
				seen[p] = true
				ports = append(ports, uint16(p))
			}
		}
	}
	return ports, nil
}

func parseRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a, s); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parsePort(b, s); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("udp: port range %q runs backwards", s)
	}
	return lo, hi, nil
}

func parsePort(s, part string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxPorts {
		return 0, fmt.Errorf("udp: %q is not a port or range of ports 1..65535", part)
	}
	return n, nil
}
