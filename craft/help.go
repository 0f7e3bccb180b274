package craft

import (
	"fmt"
	"strings"
)

// FieldHelp lists every layer of the spec language with its fields, what
// each takes and its aliases.
func FieldHelp() string {
	var b strings.Builder
	b.WriteString("Layers and fields (values: N, 0xN, A..B, lists A,B,C, rand; flags bare or =0/1)\n")
	for _, d := range layerDefs {
		fmt.Fprintf(&b, "\n%s", d.name)
		if len(d.aliases) > 0 {
			fmt.Fprintf(&b, " (also %s)", strings.Join(d.aliases, ", "))
		}
		b.WriteString("\n")
		for _, f := range d.fields {
			name := f.name
			switch f.kind {
			case kUint:
				name += fmt.Sprintf("=0..%d", f.max)
			case kFlag:
			default:
				name += "=" + kindHint[f.kind]
			}
			fmt.Fprintf(&b, "  %-22s %s", name, f.help)
			if len(f.aliases) > 0 {
				fmt.Fprintf(&b, " (also %s)", strings.Join(f.aliases, ", "))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

var kindHint = map[kind]string{
	kAddr4: "ADDR[/LEN]", kAddr6: "ADDR[/LEN]", kMAC: "MAC", kBytes: "HEX", kText: "TEXT", kPath: "FILE",
	kTCPFlags: "FSRPAUECN", kIPFlags: "DF+MF+evil", kSack: "L:R;L:R", kStamp: "VAL:ECR", kAddrs6: "A;B;C",
}
