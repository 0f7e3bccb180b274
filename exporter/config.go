package exporter

import (
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Defaults for keys the file leaves out.
const (
	DefaultResolveInterval = 5 * time.Minute // as smokeping_prober re-resolves
	DefaultInterval        = time.Second
	DefaultProtocol        = "icmp"
	DefaultSize            = 56
	DefaultModuleCount     = 5
	DefaultModuleInterval  = 100 * time.Millisecond
	DefaultModuleTimeout   = time.Second
	DefaultTraceMethod     = "udp"
	DefaultTraceMaxHops    = 30
	// MinSize is the smallest echo payload the exporter sends: 16 bytes
	// carry the cookie that tells this exporter's replies from anyone
	// else's on a shared socket (icmp.Demux).
	MinSize = 16
)

// Config is one exporter configuration file.
type Config struct {
	File            string // the path it was read from, as given
	Targets         []TargetGroup
	Traces          []TraceGroup
	Modules         map[string]Module
	ResolveInterval time.Duration
}

// Pos says where in the file a group or module starts, for the errors that
// a builder only finds later (an address that needs a socket the exporter
// did not open at start).
type Pos struct {
	Line int
	Path string // "targets[1]"
}

// Errorf returns a ConfigError at this position; field is appended to its
// path ("targets[1]" + "source").
func (p Pos) Errorf(file, field, format string, a ...any) error {
	path := p.Path
	if field != "" {
		path += "." + field
	}
	return &ConfigError{File: file, Line: p.Line, Field: path, Msg: fmt.Sprintf(format, a...)}
}

// TargetGroup is one entry of `targets:`: hosts probed continuously, each
// on its own schedule.
type TargetGroup struct {
	Pos
	Name      string        // the group label
	Hosts     []string      // names, addresses and CIDR prefixes, as written
	Interval  time.Duration // between two probes of one host
	Protocol  string        // icmp, tcp or udp
	Port      int           // tcp and udp
	Size      int           // payload bytes
	TOS       int           // IPv4 TOS / IPv6 traffic class; 0 keeps the default
	Source    netip.Addr    // local address to send from
	Interface string        // device to send through
	Labels    Labels        // constant labels of the group's series
}

// TraceGroup is one entry of `traces:`: periodic Paris traces.
type TraceGroup struct {
	Pos
	Name      string
	Hosts     []string
	Interval  time.Duration
	Method    string // udp, icmp or tcp
	Port      int
	MaxHops   int
	HopLabels bool
	Labels    Labels
}

// Module is one entry of `modules:`, what /probe?module=NAME runs.
type Module struct {
	Pos
	Name     string
	Protocol string
	Port     int
	Size     int
	TOS      int
	Count    int           // probes per scrape
	Interval time.Duration // between them
	Timeout  time.Duration // for the last reply
}

// Labels are a group's constant labels, in the order of the file.
type Labels []Label

// Label is one name and value.
type Label struct{ Name, Value string }

// ConfigError is a mistake in the file: where, which field, what.
type ConfigError struct {
	File  string
	Line  int // 0 when the error is about the file as a whole
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("exporter: %s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("exporter: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("exporter: %s: %s", e.File, e.Msg)
}

// LoadConfig reads and checks the file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and checks a configuration; name is the file name
// errors give.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}
