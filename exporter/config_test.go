package exporter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const goodConfig = `resolve_interval: 1m
targets:
  - name: lan
    hosts: [198.18.0.1, "198.18.1.0/30", host.example]
    interval: 500ms
    size: 100
    tos: 184
    source: 198.18.0.2
    labels: {site: ams, tier: 1}
  - name: web
    hosts:
      - 198.18.0.1
    protocol: tcp
    port: 443
traces:
  - name: paths
    hosts: [fd00::1]
    method: tcp
    port: 80
    max_hops: 12
    hop_labels: true
modules:
  icmp5:
    count: 5
  udp:
    protocol: udp
    port: 7007
    interval: 200ms
    timeout: 2s
`

func TestParseConfigGood(t *testing.T) {
	c, err := ParseConfig("good.yml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.ResolveInterval != time.Minute || len(c.Targets) != 2 || len(c.Traces) != 1 || len(c.Modules) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	g := c.Targets[0]
	if g.Name != "lan" || len(g.Hosts) != 3 || g.Interval != 500*time.Millisecond || g.Protocol != "icmp" ||
		g.Size != 100 || g.TOS != 184 || g.Source != netip.MustParseAddr("198.18.0.2") || g.Line != 3 || g.Path != "targets[0]" {
		t.Errorf("targets[0] = %+v", g)
	}
	if len(g.Labels) != 2 || g.Labels[0] != (Label{"site", "ams"}) || g.Labels[1] != (Label{"tier", "1"}) {
		t.Errorf("labels = %v", g.Labels)
	}
	if w := c.Targets[1]; w.Protocol != "tcp" || w.Port != 443 || w.Interval != DefaultInterval {
		t.Errorf("targets[1] = %+v", w)
	}
	if tr := c.Traces[0]; tr.Method != "tcp" || tr.Port != 80 || tr.MaxHops != 12 || !tr.HopLabels {
		t.Errorf("traces[0] = %+v", tr)
	}
	if m := c.Modules["icmp5"]; m.Count != 5 || m.Protocol != "icmp" || m.Interval != DefaultModuleInterval || m.Timeout != DefaultModuleTimeout {
		t.Errorf("modules.icmp5 = %+v", m)
	}
	if m := c.Modules["udp"]; m.Port != 7007 || m.Timeout != 2*time.Second || m.Name != "udp" {
		t.Errorf("modules.udp = %+v", m)
	}
}

// Every broken file names the file, the line and the field.
func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown top key", "targetz: []\n", "bad.yml:1: targetz: unknown key"},
		{"unknown group key", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    bogus: 1\n", "bad.yml:4: targets[0].bogus: unknown key"},
		{"bad interval", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n  - name: b\n    hosts: [198.18.0.1]\n    interval: 1 sec\n", `bad.yml:6: targets[1].interval: "1 sec" is not a duration`},
		{"negative interval", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    interval: -1s\n", "bad.yml:4: targets[0].interval: -1s must be positive"},
		{"missing name", "targets:\n  - hosts: [198.18.0.1]\n", "bad.yml:2: targets[0].name: missing"},
		{"missing hosts", "targets:\n  - name: a\n", "bad.yml:2: targets[0].hosts: missing"},
		{"empty hosts", "targets:\n  - name: a\n    hosts: []\n", "bad.yml:3: targets[0].hosts: must list at least one"},
		{"bad host", "targets:\n  - name: a\n    hosts:\n      - 198.18.0.1\n      - bad host!\n", `bad.yml:5: targets[0].hosts[1]: "bad host!" is neither`},
		{"huge prefix", "targets:\n  - name: a\n    hosts: [10.0.0.0/8]\n", "bad.yml:3: targets[0].hosts[0]: 10.0.0.0/8 has more than 65536 addresses"},
		{"bad protocol", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    protocol: sctp\n", `bad.yml:4: targets[0].protocol: "sctp" is not one of icmp, tcp or udp`},
		{"port for icmp", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    port: 80\n", "bad.yml:4: targets[0].port: only for protocol tcp or udp"},
		{"tcp without port", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    protocol: tcp\n", "bad.yml:4: targets[0].port: missing"},
		{"port range", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    protocol: udp\n    port: 70000\n", "bad.yml:5: targets[0].port: 70000 is outside 1..65535"},
		{"size small", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    size: 8\n", "bad.yml:4: targets[0].size: 8 is outside 16..65507"},
		{"size string", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    size: big\n", "bad.yml:4: targets[0].size: must be a whole number, not a string"},
		{"tos", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    tos: 256\n", "bad.yml:4: targets[0].tos: 256 is outside 0..255"},
		{"source", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    source: lo\n", `bad.yml:4: targets[0].source: "lo" is not an IP address`},
		{"source and interface", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    source: 198.18.0.2\n    interface: lo\n", "bad.yml:5: targets[0].interface: give source or interface, not both"},
		{"reserved label", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    labels:\n      host: x\n", `bad.yml:5: targets[0].labels.host: "host" is a label the exporter sets itself`},
		{"bad label", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n    labels:\n      1x: x\n", `bad.yml:5: targets[0].labels.1x: "1x" is not a label name`},
		{"duplicate name", "targets:\n  - name: a\n    hosts: [198.18.0.1]\n  - name: a\n    hosts: [198.18.0.2]\n", `bad.yml:4: targets[1].name: "a" names another group too`},
		{"duplicate key", "targets:\n  - name: a\n    name: b\n    hosts: [198.18.0.1]\n", `bad.yml:3: YAML: mapping key "name" already defined`},
		{"targets not a list", "targets:\n  name: a\n", "bad.yml:2: targets: must be a list"},
		{"trace method", "traces:\n  - name: a\n    hosts: [198.18.0.1]\n    method: sctp\n", `bad.yml:4: traces[0].method: "sctp" is not one of udp, icmp or tcp`},
		{"trace max_hops", "traces:\n  - name: a\n    hosts: [198.18.0.1]\n    max_hops: 0\n", "bad.yml:4: traces[0].max_hops: 0 is outside 1..255"},
		{"trace hop_labels", "traces:\n  - name: a\n    hosts: [198.18.0.1]\n    hop_labels: yes please\n", "bad.yml:4: traces[0].hop_labels: must be true or false"},
		{"module count", "modules:\n  m:\n    count: 0\n", "bad.yml:3: modules.m.count: 0 is outside 1..1000"},
		{"module timeout", "modules:\n  m:\n    interval: 2s\n    timeout: 1s\n", "bad.yml:3: modules.m.timeout: 1s is shorter than the interval 2s"},
		{"module udp port", "modules:\n  m:\n    protocol: udp\n", "bad.yml:3: modules.m.port: missing"},
		{"resolve_interval", "resolve_interval: often\ntargets: []\n", `bad.yml:1: resolve_interval: "often" is not a duration`},
		{"syntax", "targets:\n  - name: a\n   hosts: [\n", "bad.yml:"},
		{"empty", "", "bad.yml: empty"},
		{"nothing to do", "targets: []\n", "bad.yml: nothing to do"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("bad.yml", []byte(tc.file))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "exporter: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line containing %q", msg, tc.want)
			}
		})
	}
}
