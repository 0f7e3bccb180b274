package capture

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rawnet/rawnet/internal/testenv"
	"github.com/rawnet/rawnet/internal/testtraffic"
	"github.com/rawnet/rawnet/pcap"
)

// tsharkField maps a tshark field to where --json has it: a layer, a
// member (found at any depth below the layer's object) and how tshark
// writes the value.
type tsharkField struct {
	tshark, layer, member string
	format                func(any) string
}

func jsonNum(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func jsonHex(digits int) func(any) string {
	return func(v any) string { return fmt.Sprintf("0x%0*x", digits, int64(v.(float64))) }
}

var tsharkFields = []tsharkField{
	{"dns.id", "dns", "id", jsonHex(4)},
	{"dns.qry.name", "dns", "qname", jsonNum},
	{"dns.a", "dns", "address:A", jsonNum},
	{"dns.aaaa", "dns", "address:AAAA", jsonNum},
	{"dns.cname", "dns", "cname", jsonNum},
	{"dns.mx.mail_exchange", "dns", "mx", jsonNum},
	{"dns.srv.port", "dns", "port", jsonNum},
	{"dns.resp.ttl", "dns", "ttl", jsonNum},
	{"ntp.stratum", "ntp", "stratum", jsonNum},
	{"ntp.flags.mode", "ntp", "mode", jsonNum},
	{"dhcp.option.dhcp", "dhcp", "message_type", dhcpTypeNumber},
	{"dhcp.hw.mac_addr", "dhcp", "chaddr", jsonNum},
	{"dhcpv6.msgtype", "dhcpv6", "msg_type", jsonNum},
	{"vxlan.vni", "vxlan", "vni", jsonNum},
	{"geneve.vni", "geneve", "vni", jsonHex(6)},
	{"gre.key", "gre", "key", jsonHex(8)},
	{"esp.spi", "esp", "spi", jsonHex(8)},
	{"esp.sequence", "esp", "seq", jsonNum},
}

func dhcpTypeNumber(v any) string {
	for i, name := range []string{"", "Discover", "Offer", "Request", "Decline", "Ack", "Nak", "Release", "Inform"} {
		if v == name {
			return fmt.Sprint(i)
		}
	}
	return fmt.Sprint(v)
}

// collectJSON appends the values of member in the objects of layer (and in
// everything nested in them) in document order; "address:A" takes the
// addresses of records of type 1, "address:AAAA" of type 28.
func collectJSON(v any, f tsharkField, inLayer bool, out *[]string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collectJSON(e, f, inLayer, out)
		}
	case map[string]any:
		if l, ok := x["layer"]; ok {
			inLayer = l == f.layer
		}
		member, typ := f.member, 0.0
		if m, t, ok := strings.Cut(f.member, ":"); ok {
			member, typ = m, map[string]float64{"A": 1, "AAAA": 28}[t]
		}
		if val, ok := x[member]; ok && inLayer && (typ == 0 || x["type"] == typ) {
			*out = append(*out, f.format(val))
		}
		for _, key := range []string{"query", "answer", "authority", "additional", "options", "encapsulated"} {
			if sub, ok := x[key]; ok {
				collectJSON(sub, f, inLayer, out)
			}
		}
	}
}

// TestJSONFieldsMatchTshark compares fields of the protocols above UDP and
// TCP and of tunnels in --json with what tshark decodes from the same
// packets, wherever rawnet decoded the layer.
func TestJSONFieldsMatchTshark(t *testing.T) {
	testenv.NeedTools(t, "tshark")
	frames := append(testtraffic.AppFrames(), testtraffic.TunnelFrames()...)
	path := filepath.Join(t.TempDir(), "app.pcap")
	writeTestPcap(t, path, pcap.Ethernet, frames)
	args := []string{"-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f.tshark)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	rows := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(rows) != len(frames) {
		t.Fatalf("tshark: %d rows for %d packets", len(rows), len(frames))
	}
	d := NewDecoder(pcap.Ethernet)
	compared := map[string]int{}
	for i, fr := range frames {
		d.Decode(fr)
		var doc any
		if err := json.Unmarshal(d.AppendJSON(nil), &doc); err != nil {
			t.Fatal(err)
		}
		want := strings.Split(rows[i], "|")
		for j, f := range tsharkFields {
			var got []string
			collectJSON(doc, f, false, &got)
			if len(got) == 0 {
				continue
			}
			compared[f.tshark]++
			if g := strings.Join(got, ","); g != want[j] {
				t.Errorf("packet %d %s: json %q, tshark %q", i+1, f.tshark, g, want[j])
			}
		}
	}
	for _, f := range tsharkFields {
		if compared[f.tshark] == 0 {
			t.Errorf("%s: no packet to compare (the test traffic lacks it)", f.tshark)
		}
	}
}
