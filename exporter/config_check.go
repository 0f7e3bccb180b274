package exporter

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

const (
	maxSize        = 65507 // largest ICMP/UDP payload of an IPv4 datagram
	maxModuleCount = 1000  // probes per /probe scrape
	// MaxPrefixHosts bounds the addresses one CIDR prefix in hosts: may
	// expand to (a /16 of IPv4, a /112 of IPv6).
	MaxPrefixHosts = 1 << 16
)

// reservedLabels are the label names the exporter sets itself; a group's
// labels: may not use them.
var reservedLabels = map[string]bool{
	"group": true, "host": true, "ip": true, "protocol": true, "kind": true,
	"direction": true, "flags": true, "method": true, "hop": true, "hop_ip": true,
	"le": true, "quantile": true, "job": true, "instance": true,
}

func checkLabelName(s string) error {
	if s == "" || strings.HasPrefix(s, "__") {
		return fmt.Errorf("%q is not a label name you may set", s)
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("%q is not a label name (letters, digits and _, not first a digit)", s)
		}
	}
	if reservedLabels[s] {
		return fmt.Errorf("%q is a label the exporter sets itself", s)
	}
	return nil
}

func (d *decoder) checkTargetGroup(g *TargetGroup, n ast.Node, seen map[string]int) error {
	if err := d.required(n, g.Path, seen, "name", "hosts"); err != nil {
		return err
	}
	if err := d.checkHosts(n, g.Path, g.Hosts); err != nil {
		return err
	}
	if err := d.checkPort(g.Path, g.Protocol, seen); err != nil {
		return err
	}
	if _, ok := seen["source"]; ok {
		if _, ok := seen["interface"]; ok {
			return &ConfigError{File: d.file, Line: seen["interface"], Field: g.Path + ".interface", Msg: "give source or interface, not both"}
		}
	}
	return nil
}

func (d *decoder) checkTraceGroup(g *TraceGroup, n ast.Node, seen map[string]int) error {
	if err := d.required(n, g.Path, seen, "name", "hosts"); err != nil {
		return err
	}
	if err := d.checkHosts(n, g.Path, g.Hosts); err != nil {
		return err
	}
	if l, ok := seen["port"]; ok && g.Method == "icmp" {
		return &ConfigError{File: d.file, Line: l, Field: g.Path + ".port", Msg: "only for method udp or tcp"}
	}
	return nil
}

func (d *decoder) checkModule(m *Module, n ast.Node, seen map[string]int) error {
	if err := d.checkPort(m.Path, m.Protocol, seen); err != nil {
		return err
	}
	if m.Timeout < m.Interval {
		return &ConfigError{File: d.file, Line: line(n), Field: m.Path + ".timeout", Msg: fmt.Sprintf("%s is shorter than the interval %s", m.Timeout, m.Interval)}
	}
	return nil
}

func (d *decoder) required(n ast.Node, path string, seen map[string]int, keys ...string) error {
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			return d.errAt(n, path+"."+k, "missing")
		}
	}
	return nil
}

// checkPort: tcp and udp need a port, icmp takes none.
func (d *decoder) checkPort(path, protocol string, seen map[string]int) error {
	l, ok := seen["port"]
	switch {
	case protocol == "icmp" && ok:
		return &ConfigError{File: d.file, Line: l, Field: path + ".port", Msg: "only for protocol tcp or udp"}
	case protocol != "icmp" && !ok:
		return &ConfigError{File: d.file, Line: seen["protocol"], Field: path + ".port", Msg: "missing: protocol " + protocol + " needs a port"}
	}
	return nil
}

// checkHosts checks the syntax of each entry: an address, a prefix of at
// most MaxPrefixHosts addresses, or a host name.
func (d *decoder) checkHosts(n ast.Node, path string, hosts []string) error {
	for i, h := range hosts {
		p := fmt.Sprintf("%s.hosts[%d]", path, i)
		if err := checkHost(h); err != nil {
			return &ConfigError{File: d.file, Line: hostLine(n, i), Field: p, Msg: err.Error()}
		}
	}
	return nil
}

func checkHost(h string) error {
	if strings.Contains(h, "/") {
		pfx, err := netip.ParsePrefix(h)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR prefix", h)
		}
		if pfx.Addr().BitLen()-pfx.Bits() > 16 {
			return fmt.Errorf("%s has more than %d addresses", h, MaxPrefixHosts)
		}
		return nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if !validHostName(h) {
		return fmt.Errorf("%q is neither an address, a prefix nor a host name", h)
	}
	return nil
}

func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, part := range strings.Split(h, ".") {
		if len(part) == 0 || len(part) > 63 || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		for _, r := range part {
			if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// hostLine finds the line of hosts[i] in the group mapping n.
func hostLine(n ast.Node, i int) int {
	if m, ok := unwrap(n).(*ast.MappingNode); ok {
		for _, mv := range m.Values {
			if mv.Key.GetToken().Value == "hosts" {
				if s, ok := unwrap(mv.Value).(*ast.SequenceNode); ok && i < len(s.Values) {
					return line(s.Values[i])
				}
			}
		}
	}
	return line(n)
}

// check looks at the file as a whole: group names are unique within
// targets: and within traces:, and there is something to do.
func (c *Config) check() error {
	if len(c.Targets) == 0 && len(c.Traces) == 0 && len(c.Modules) == 0 {
		return &ConfigError{File: c.File, Msg: "nothing to do: needs targets:, traces: or modules:"}
	}
	names := map[string]bool{}
	for _, g := range c.Targets {
		if names[g.Name] {
			return g.Errorf(c.File, "name", "%q names another group too", g.Name)
		}
		names[g.Name] = true
	}
	names = map[string]bool{}
	for _, g := range c.Traces {
		if names[g.Name] {
			return g.Errorf(c.File, "name", "%q names another group too", g.Name)
		}
		names[g.Name] = true
	}
	return nil
}
