package exporter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// decoder turns the YAML syntax tree into a Config. It walks the tree
// itself rather than unmarshalling into structs so that every error can
// name the line and the field path (targets[1].interval), and so that an
// unknown key is an error at its own line.
type decoder struct{ file string }

func decode(name string, data []byte) (*Config, error) {
	d := decoder{file: name}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, d.syntaxError(err)
	}
	cfg := &Config{File: name, ResolveInterval: DefaultResolveInterval}
	if len(f.Docs) > 1 {
		return nil, &ConfigError{File: name, Line: line(f.Docs[1].Body), Msg: "more than one YAML document"}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, &ConfigError{File: name, Msg: "empty: needs targets:, traces: or modules:"}
	}
	err = d.fields(f.Docs[0].Body, "", func(key string, v ast.Node, path string) error {
		switch key {
		case "targets":
			return d.list(v, path, func(n ast.Node, p string) error {
				g, err := d.targetGroup(n, p)
				cfg.Targets = append(cfg.Targets, g)
				return err
			})
		case "traces":
			return d.list(v, path, func(n ast.Node, p string) error {
				g, err := d.traceGroup(n, p)
				cfg.Traces = append(cfg.Traces, g)
				return err
			})
		case "modules":
			cfg.Modules = map[string]Module{}
			return d.fields(v, path, func(name string, n ast.Node, p string) error {
				m, err := d.module(name, n, p)
				cfg.Modules[name] = m
				return err
			})
		case "resolve_interval":
			cfg.ResolveInterval, err = d.duration(v, path)
			return err
		}
		return d.unknown(v, path)
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func (d *decoder) targetGroup(n ast.Node, path string) (TargetGroup, error) {
	g := TargetGroup{Pos: Pos{Line: line(n), Path: path}, Interval: DefaultInterval, Protocol: DefaultProtocol}
	seen, err := decodeFields(d, n, path, &g, targetGroupFields)
	if err != nil {
		return g, err
	}
	return g, d.checkTargetGroup(&g, n, seen)
}

func (d *decoder) traceGroup(n ast.Node, path string) (TraceGroup, error) {
	g := TraceGroup{Pos: Pos{Line: line(n), Path: path}, Interval: DefaultInterval, Method: DefaultTraceMethod, MaxHops: DefaultTraceMaxHops}
	seen, err := decodeFields(d, n, path, &g, traceGroupFields)
	if err != nil {
		return g, err
	}
	return g, d.checkTraceGroup(&g, n, seen)
}

func (d *decoder) module(name string, n ast.Node, path string) (Module, error) {
	m := Module{Pos: Pos{Line: line(n), Path: path}, Name: name, Protocol: DefaultProtocol,
		Count: DefaultModuleCount, Interval: DefaultModuleInterval, Timeout: DefaultModuleTimeout}
	seen, err := decodeFields(d, n, path, &m, moduleFields)
	if err != nil {
		return m, err
	}
	return m, d.checkModule(&m, n, seen)
}

// The keys of a targets:, traces: and modules: entry, each with the
// parser of its value and the field that holds it.
var (
	targetGroupFields = map[string]fieldParser[TargetGroup]{
		"name":      parseInto((*decoder).nonEmpty, func(g *TargetGroup) *string { return &g.Name }),
		"hosts":     parseInto((*decoder).strings, func(g *TargetGroup) *[]string { return &g.Hosts }),
		"interval":  parseInto((*decoder).duration, func(g *TargetGroup) *time.Duration { return &g.Interval }),
		"protocol":  parseInto(oneOf("icmp", "tcp", "udp"), func(g *TargetGroup) *string { return &g.Protocol }),
		"port":      parseInto(intIn(1, 65535), func(g *TargetGroup) *int { return &g.Port }),
		"size":      parseInto(intIn(MinSize, maxSize), func(g *TargetGroup) *int { return &g.Size }),
		"tos":       parseInto(intIn(0, 255), func(g *TargetGroup) *int { return &g.TOS }),
		"source":    parseInto((*decoder).addr, func(g *TargetGroup) *netip.Addr { return &g.Source }),
		"interface": parseInto((*decoder).nonEmpty, func(g *TargetGroup) *string { return &g.Interface }),
		"labels":    parseInto((*decoder).labels, func(g *TargetGroup) *Labels { return &g.Labels }),
	}
	traceGroupFields = map[string]fieldParser[TraceGroup]{
		"name":       parseInto((*decoder).nonEmpty, func(g *TraceGroup) *string { return &g.Name }),
		"hosts":      parseInto((*decoder).strings, func(g *TraceGroup) *[]string { return &g.Hosts }),
		"interval":   parseInto((*decoder).duration, func(g *TraceGroup) *time.Duration { return &g.Interval }),
		"method":     parseInto(oneOf("udp", "icmp", "tcp"), func(g *TraceGroup) *string { return &g.Method }),
		"port":       parseInto(intIn(1, 65535), func(g *TraceGroup) *int { return &g.Port }),
		"max_hops":   parseInto(intIn(1, 255), func(g *TraceGroup) *int { return &g.MaxHops }),
		"hop_labels": parseInto((*decoder).boolean, func(g *TraceGroup) *bool { return &g.HopLabels }),
		"labels":     parseInto((*decoder).labels, func(g *TraceGroup) *Labels { return &g.Labels }),
	}
	moduleFields = map[string]fieldParser[Module]{
		"protocol": parseInto(oneOf("icmp", "tcp", "udp"), func(m *Module) *string { return &m.Protocol }),
		"port":     parseInto(intIn(1, 65535), func(m *Module) *int { return &m.Port }),
		"size":     parseInto(intIn(MinSize, maxSize), func(m *Module) *int { return &m.Size }),
		"tos":      parseInto(intIn(0, 255), func(m *Module) *int { return &m.TOS }),
		"count":    parseInto(intIn(1, maxModuleCount), func(m *Module) *int { return &m.Count }),
		"interval": parseInto((*decoder).duration, func(m *Module) *time.Duration { return &m.Interval }),
		"timeout":  parseInto((*decoder).duration, func(m *Module) *time.Duration { return &m.Timeout }),
	}
)

// A fieldParser reads the value v of one key (at path) into the struct
// being decoded.
type fieldParser[T any] func(d *decoder, v ast.Node, path string, into *T) error

// parseInto makes the fieldParser that reads a value with read and stores
// it in the field that at points to.
func parseInto[T, V any](read func(*decoder, ast.Node, string) (V, error), at func(*T) *V) fieldParser[T] {
	return func(d *decoder, v ast.Node, path string, into *T) error {
		x, err := read(d, v, path)
		*at(into) = x
		return err
	}
}

// intIn reads a whole number in lo..hi.
func intIn(lo, hi int) func(*decoder, ast.Node, string) (int, error) {
	return func(d *decoder, n ast.Node, path string) (int, error) { return d.integer(n, path, lo, hi) }
}

// oneOf reads one of the words allowed.
func oneOf(allowed ...string) func(*decoder, ast.Node, string) (string, error) {
	return func(d *decoder, n ast.Node, path string) (string, error) { return d.oneOf(n, path, allowed...) }
}

// decodeFields decodes the mapping n into *into with the parsers of
// table, in the file's order, and returns the line of each key given; a
// key not in table is an unknown key.
func decodeFields[T any](d *decoder, n ast.Node, path string, into *T, table map[string]fieldParser[T]) (map[string]int, error) {
	seen := map[string]int{}
	err := d.fields(n, path, func(key string, v ast.Node, p string) error {
		seen[key] = line(v)
		parse, ok := table[key]
		if !ok {
			return d.unknown(v, p)
		}
		return parse(d, v, p, into)
	})
	return seen, err
}

// fields calls f for each key of the mapping n, in order; a key given twice
// is an error.
func (d *decoder) fields(n ast.Node, path string, f func(key string, v ast.Node, path string) error) error {
	n = unwrap(n)
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		return d.errAt(n, path, "must be a mapping (key: value), not %s", kind(n))
	}
	seen := map[string]bool{}
	for _, mv := range values {
		k, ok := unwrap(mv.Key).(ast.ScalarNode)
		if !ok {
			return d.errAt(mv.Key, path, "keys must be plain names")
		}
		key := fmt.Sprint(k.GetValue())
		p := key
		if path != "" {
			p = path + "." + key
		}
		if seen[key] {
			return d.errAt(mv.Key, p, "given twice")
		}
		seen[key] = true
		v := mv.Value
		if v == nil {
			v = mv.Key
		}
		if err := f(key, v, p); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) list(n ast.Node, path string, f func(n ast.Node, path string) error) error {
	s, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		return d.errAt(n, path, "must be a list (- ...), not %s", kind(n))
	}
	for i, v := range s.Values {
		if err := f(v, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) unknown(n ast.Node, path string) error {
	return d.errAt(n, path, "unknown key")
}

// scalar returns the text of a scalar value; strict refuses numbers and
// booleans where a string is wanted.
func (d *decoder) scalar(n ast.Node, path string) (string, *token.Token, error) {
	n = unwrap(n)
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, v.Token, nil
	case *ast.LiteralNode:
		return v.Value.Value, v.Start, nil
	case *ast.IntegerNode:
		return v.Token.Value, v.Token, nil
	case *ast.FloatNode:
		return v.Token.Value, v.Token, nil
	case *ast.BoolNode:
		return v.Token.Value, v.Token, nil
	}
	return "", nil, d.errAt(n, path, "must be a single value, not %s", kind(n))
}

func (d *decoder) nonEmpty(n ast.Node, path string) (string, error) {
	if _, ok := unwrap(n).(*ast.StringNode); !ok {
		if _, ok := unwrap(n).(*ast.LiteralNode); !ok {
			return "", d.errAt(n, path, "must be a string, not %s", kind(n))
		}
	}
	s, _, err := d.scalar(n, path)
	if err == nil && s == "" {
		err = d.errAt(n, path, "must not be empty")
	}
	return s, err
}

func (d *decoder) strings(n ast.Node, path string) ([]string, error) {
	var out []string
	err := d.list(n, path, func(v ast.Node, p string) error {
		s, _, err := d.scalar(v, p)
		if err == nil && s == "" {
			err = d.errAt(v, p, "must not be empty")
		}
		out = append(out, s)
		return err
	})
	if err == nil && len(out) == 0 {
		err = d.errAt(n, path, "must list at least one")
	}
	return out, err
}

func (d *decoder) oneOf(n ast.Node, path string, allowed ...string) (string, error) {
	s, _, err := d.scalar(n, path)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", d.errAt(n, path, "%q is not one of %s", s, joinOr(allowed))
}

func (d *decoder) integer(n ast.Node, path string, lo, hi int) (int, error) {
	if _, ok := unwrap(n).(*ast.IntegerNode); !ok {
		return 0, d.errAt(n, path, "must be a whole number, not %s", kind(n))
	}
	s, _, _ := d.scalar(n, path)
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < int64(lo) || v > int64(hi) {
		return 0, d.errAt(n, path, "%s is outside %d..%d", s, lo, hi)
	}
	return int(v), nil
}

func (d *decoder) boolean(n ast.Node, path string) (bool, error) {
	b, ok := unwrap(n).(*ast.BoolNode)
	if !ok {
		return false, d.errAt(n, path, "must be true or false, not %s", kind(n))
	}
	return b.Value, nil
}

// duration reads a Go duration ("1s", "500ms", "5m"); it must be positive.
func (d *decoder) duration(n ast.Node, path string) (time.Duration, error) {
	s, _, err := d.scalar(n, path)
	if err != nil {
		return 0, err
	}
	v, perr := time.ParseDuration(s)
	if perr != nil {
		return 0, d.errAt(n, path, "%q is not a duration (like 500ms, 1s, 5m)", s)
	}
	if v <= 0 {
		return 0, d.errAt(n, path, "%s must be positive", s)
	}
	return v, nil
}

func (d *decoder) labels(n ast.Node, path string) (Labels, error) {
	var out Labels
	err := d.fields(n, path, func(key string, v ast.Node, p string) error {
		if err := checkLabelName(key); err != nil {
			return d.errAt(v, p, "%v", err)
		}
		s, _, err := d.scalar(v, p)
		out = append(out, Label{Name: key, Value: s})
		return err
	})
	return out, err
}

func (d *decoder) errAt(n ast.Node, path, format string, a ...any) error {
	return &ConfigError{File: d.file, Line: line(n), Field: path, Msg: fmt.Sprintf(format, a...)}
}

// syntaxError reduces the parser's error (several lines with the source
// quoted) to one line with its line number.
func (d *decoder) syntaxError(err error) error {
	var te interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &te) && te.GetToken() != nil {
		return &ConfigError{File: d.file, Line: te.GetToken().Position.Line, Msg: "YAML: " + te.GetMessage()}
	}
	return &ConfigError{File: d.file, Msg: "YAML: " + err.Error()}
}

// unwrap looks through tags and anchors to the value.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// kind names what a node is, for "must be a list, not a string".
func kind(n ast.Node) string {
	switch unwrap(n).(type) {
	case nil, *ast.NullNode:
		return "empty"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.AliasNode:
		return "an alias (not supported)"
	}
	return "a " + unwrap(n).Type().String()
}

func joinOr(s []string) string {
	out := ""
	for i, v := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " or "
		default:
			out += ", "
		}
		out += v
	}
	return out
}

func (d *decoder) addr(n ast.Node, path string) (netip.Addr, error) {
	s, _, err := d.scalar(n, path)
	if err != nil {
		return netip.Addr{}, err
	}
	a, perr := netip.ParseAddr(s)
	if perr != nil {
		return netip.Addr{}, d.errAt(n, path, "%q is not an IP address", s)
	}
	return a, nil
}
