package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/craft"
	"github.com/rawnet/rawnet/internal/jsonl"
	"github.com/rawnet/rawnet/pcap"
)

func decodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "decode",
		Usage:     "decode raw packet bytes given in hex and show every field",
		ArgsUsage: "HEX... | - (hex on standard input; tcpdump -x output works too)",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "link", Aliases: []string{"l"}, Value: "auto", Usage: "`TYPE` of the first layer: auto, eth, ip (IPv4 or IPv6), ip4, ip6, sll, sll2, null"},
			&cli.BoolFlag{Name: "line", Usage: "one tcpdump-style line per packet instead of every field"},
			&cli.BoolFlag{Name: "x", Aliases: []string{"hex"}, Usage: "add a hex dump"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "one JSON object per packet"},
		}, decoderFlags()...),
		Action: runDecode,
	}
}

var linkNames = map[string]pcap.LinkType{
	"eth": pcap.Ethernet, "ether": pcap.Ethernet, "ethernet": pcap.Ethernet, "ip": pcap.Raw, "raw": pcap.Raw,
	"ip4": pcap.IPv4, "ipv4": pcap.IPv4, "ip6": pcap.IPv6, "ipv6": pcap.IPv6, "sll": pcap.LinuxSLL,
	"sll2": pcap.LinuxSLL2, "null": pcap.Null, "loop": pcap.Loop,
}

func runDecode(c *cli.Context) error {
	name := strings.ToLower(c.String("link"))
	link, known := linkNames[name]
	if !known && name != "auto" {
		return usageErrorf("--link %s: want auto, eth, ip, ip4, ip6, sll, sll2 or null", c.String("link"))
	}
	cfg, err := decoderConfig(c)
	if err != nil {
		return err
	}
	var packets [][]byte
	args := c.Args().Slice()
	switch {
	case len(args) == 0:
		return usageErrorf("decode: missing HEX (or - for standard input)")
	case len(args) == 1 && args[0] == "-":
		var err error
		if packets, err = readHexPackets(os.Stdin); err != nil {
			return err
		}
	default:
		b, err := parseHexBytes(strings.Join(args, " "))
		if err != nil {
			return usageErrorf("decode: %v", err)
		}
		packets = [][]byte{b}
	}
	w := bufio.NewWriter(c.App.Writer)
	var j *jsonl.Writer
	if c.Bool("json") {
		j = jsonl.New(w)
	}
	// One decoder per link type for all the packets, so that TCP numbers
	// are relative to the first packet of their connection.
	decoders := map[pcap.LinkType]*capture.Decoder{}
	for i, p := range packets {
		l := link
		if !known {
			l = guessLink(p)
		}
		d, ok := decoders[l]
		if !ok {
			d = capture.NewDecoderConfig(l, cfg)
			decoders[l] = d
		}
		if err := decodeOne(w, j, c, i, p, d); err != nil {
			return err
		}
	}
	return flushOutput(w)
}

type jsonDecoded struct {
	Type   string          `json:"type"`
	Index  int             `json:"index"`
	Length int             `json:"length"`
	Link   string          `json:"link"`
	Layers json.RawMessage `json:"layers"`
}

func decodeOne(w *bufio.Writer, j *jsonl.Writer, c *cli.Context, i int, p []byte, d *capture.Decoder) error {
	_ = d.Decode(p)
	if j != nil {
		return jsonError(j.Emit(jsonDecoded{Type: "packet", Index: i, Length: len(p), Link: d.LinkType().String(), Layers: d.AppendJSON(nil)}))
	}
	if i > 0 {
		w.WriteByte('\n')
	}
	if c.Bool("line") {
		w.Write(d.AppendLine(nil))
		w.WriteByte('\n')
	} else {
		w.Write(d.AppendVerbose(nil))
	}
	if c.Bool("x") {
		w.Write(capture.AppendHexDump(nil, p))
	}
	return writeError(w)
}

// guessLink tells raw IPv4 and IPv6 from Ethernet by the version nibble and
// a plausible header.
func guessLink(p []byte) pcap.LinkType {
	if len(p) >= 20 && p[0]>>4 == 4 && p[0]&0xf >= 5 {
		return pcap.Raw
	}
	if len(p) >= 40 && p[0]>>4 == 6 {
		return pcap.Raw
	}
	return pcap.Ethernet
}

// parseHexBytes reads one packet's hex (at least one byte).
func parseHexBytes(s string) ([]byte, error) {
	b, err := craft.ParseHex(s)
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("no hex bytes given")
	}
	return b, err
}

// readHexPackets reads packets from text: hex lines, separated by blank
// lines; tcpdump -x offsets ("0x0010:") are skipped, offset 0 and lines
// that are not hex start a new packet.
func readHexPackets(r io.Reader) ([][]byte, error) {
	var packets [][]byte
	var cur []byte
	end := func() {
		if len(cur) > 0 {
			packets = append(packets, cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			end()
			continue
		}
		if off, rest, ok := cutOffset(text); ok {
			if off == 0 {
				end()
			}
			text = rest
		}
		b, err := parseHexBytes(text)
		if err != nil {
			end() // a summary line or other text: the next packet starts
			continue
		}
		cur = append(cur, b...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("decode: standard input line %d: %w", line, err)
	}
	end()
	if len(packets) == 0 {
		return nil, usageErrorf("decode: no hex bytes on standard input")
	}
	return packets, nil
}

// cutOffset splits tcpdump's "0x0010:" offset from a hex dump line.
func cutOffset(s string) (int64, string, bool) {
	head, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.HasPrefix(head, "0x") || len(head) < 3 {
		return 0, s, false
	}
	off, err := strconv.ParseInt(head[2:], 16, 64)
	if err != nil {
		return 0, s, false
	}
	return off, rest, true
}
