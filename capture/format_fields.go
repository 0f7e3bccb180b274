package capture

import (
	"strconv"

	"github.com/rawnet/rawnet/internal/jsonl"
)

// fieldWriter writes the fields of layers either as indented text lines
// (AppendVerbose) or as JSON objects (AppendJSON), so that both formats
// list the same fields.
type fieldWriter struct {
	b     []byte
	json  bool
	depth int  // text: indentation level of the current layer
	first bool // json: no field written yet in the current object
}

func (w *fieldWriter) indent(extra int) {
	for i := 0; i < w.depth+extra; i++ {
		w.b = append(w.b, "    "...)
	}
}

// layer starts a layer: a title line, or a JSON object with "layer":name.
func (w *fieldWriter) layer(name, title string) { w.begin(`{"layer":"`, name, title) }

// begin starts a JSON object whose first member is open (`{"member":"`)
// followed by name, or in text a title line whose fields are indented under it.
func (w *fieldWriter) begin(open, name, title string) {
	if w.json {
		if !w.first {
			w.b = append(w.b, ',')
		}
		w.first = false
		w.b = append(w.b, open...)
		w.b = jsonl.AppendStringContent(w.b, name)
		w.b = append(w.b, '"')
		return
	}
	w.indent(0)
	w.b = append(w.b, title...)
	w.b = append(w.b, '\n')
}

func (w *fieldWriter) endLayer() {
	if w.json {
		w.b = append(w.b, '}')
	}
}

// key starts a field: `,"key":` or the indented `Label: `.
func (w *fieldWriter) key(key, label string) {
	if w.json {
		w.b = append(w.b, `,"`...)
		w.b = append(w.b, key...)
		w.b = append(w.b, `":`...)
		return
	}
	w.indent(1)
	w.b = append(w.b, label...)
	w.b = append(w.b, ": "...)
}

func (w *fieldWriter) end() {
	if !w.json {
		w.b = append(w.b, '\n')
	}
}

func (w *fieldWriter) uint(key, label string, v uint64) {
	w.key(key, label)
	w.b = strconv.AppendUint(w.b, v, 10)
	w.end()
}

// uintNote writes a number with a note in text (e.g. "Protocol: 17 (UDP)").
func (w *fieldWriter) uintNote(key, label string, v uint64, note string) {
	w.key(key, label)
	w.b = strconv.AppendUint(w.b, v, 10)
	if !w.json && note != "" {
		w.b = append(w.b, " ("...)
		w.b = append(w.b, note...)
		w.b = append(w.b, ')')
	}
	w.end()
}

// hex writes v as 0x and digits hex digits in text, as a number in JSON.
func (w *fieldWriter) hex(key, label string, v uint64, digits int) {
	w.key(key, label)
	if w.json {
		w.b = strconv.AppendUint(w.b, v, 10)
	} else {
		w.b = append(w.b, "0x"...)
		for i := digits - 1; i >= 0; i-- {
			w.b = append(w.b, hexDigits[v>>(4*uint(i))&15])
		}
	}
	w.end()
}

func (w *fieldWriter) str(key, label, v string) {
	w.key(key, label)
	if w.json {
		w.b = append(w.b, '"')
		w.b = jsonl.AppendStringContent(w.b, v)
		w.b = append(w.b, '"')
	} else {
		w.b = append(w.b, v...)
	}
	w.end()
}

func (w *fieldWriter) boolean(key, label string, v bool) {
	w.key(key, label)
	if w.json {
		w.b = strconv.AppendBool(w.b, v)
	} else if v {
		w.b = append(w.b, "Set"...)
	} else {
		w.b = append(w.b, "Not set"...)
	}
	w.end()
}

func (w *fieldWriter) addr(key, label string, ip []byte) {
	w.key(key, label)
	if w.json {
		w.b = append(w.b, '"')
	}
	w.b = appendIP(w.b, ip)
	if w.json {
		w.b = append(w.b, '"')
	}
	w.end()
}

func (w *fieldWriter) mac(key, label string, mac []byte) {
	w.key(key, label)
	if w.json {
		w.b = append(w.b, '"')
	}
	w.b = appendMAC(w.b, mac)
	if w.json {
		w.b = append(w.b, '"')
	}
	w.end()
}

// data writes bytes: their length and hex digits.
func (w *fieldWriter) data(key, label string, d []byte) {
	w.key(key, label)
	if w.json {
		w.b = append(w.b, '"')
		w.b = appendHexBytes(w.b, d)
		w.b = append(w.b, '"')
	} else {
		w.b = strconv.AppendInt(w.b, int64(len(d)), 10)
		w.b = append(w.b, " bytes"...)
		if len(d) > 0 {
			w.b = append(w.b, ": "...)
			const max = 32
			w.b = appendHexBytes(w.b, d[:min(len(d), max)])
			if len(d) > max {
				w.b = append(w.b, "..."...)
			}
		}
	}
	w.end()
}

// checksum writes a checksum with its verification: tshark's
// "[correct]"/"[incorrect, should be 0x...]" in text, "checksum_status"
// in JSON.
func (w *fieldWriter) checksum(key, label string, v uint16, st csumStatus, want uint16) {
	w.key(key, label)
	if w.json {
		w.b = strconv.AppendUint(w.b, uint64(v), 10)
		w.b = append(w.b, `,"`...)
		w.b = append(w.b, key...)
		w.b = append(w.b, `_status":"`...)
		w.b = append(w.b, csumWord(st)...)
		w.b = append(w.b, '"')
		if st == csumIncorrect {
			w.b = append(w.b, `,"`...)
			w.b = append(w.b, key...)
			w.b = append(w.b, `_expected":`...)
			w.b = strconv.AppendUint(w.b, uint64(want), 10)
		}
		return
	}
	w.b = append(w.b, "0x"...)
	w.b = appendHex16(w.b, v)
	w.b = append(w.b, " ["...)
	w.b = append(w.b, csumWord(st)...)
	if st == csumIncorrect {
		w.b = append(w.b, ", should be 0x"...)
		w.b = appendHex16(w.b, want)
	}
	w.b = append(w.b, "]\n"...)
}

func csumWord(st csumStatus) string {
	switch st {
	case csumCorrect:
		return "correct"
	case csumIncorrect:
		return "incorrect"
	case csumNone:
		return "none"
	}
	return "unverified"
}

// beginList starts a nested list of layers (the packet an ICMP error
// quotes) or of options.
func (w *fieldWriter) beginList(key, label string) {
	if w.json {
		w.b = append(w.b, `,"`...)
		w.b = append(w.b, key...)
		w.b = append(w.b, `":[`...)
		w.first = true
		return
	}
	w.indent(1)
	w.b = append(w.b, label...)
	w.b = append(w.b, ":\n"...)
	w.depth += 2
}

func (w *fieldWriter) endList() {
	if w.json {
		w.b = append(w.b, ']')
		return
	}
	w.depth -= 2
}

// item writes one option-like entry of a list: {"name":..,"value":..} in
// JSON, "name value" in text.
func (w *fieldWriter) item(name string, value []byte) {
	if w.json {
		if !w.first {
			w.b = append(w.b, ',')
		}
		w.first = false
		w.b = append(w.b, `{"name":"`...)
		w.b = jsonl.AppendStringContent(w.b, name)
		w.b = append(w.b, '"')
		if len(value) > 0 {
			w.b = append(w.b, `,"value":"`...)
			w.b = appendHexBytes(w.b, value)
			w.b = append(w.b, '"')
		}
		w.b = append(w.b, '}')
		return
	}
	w.indent(0)
	w.b = append(w.b, name...)
	if len(value) > 0 {
		w.b = append(w.b, ' ')
		w.b = appendHexBytes(w.b, value)
	}
	w.b = append(w.b, '\n')
}

// bytesStr writes bytes that are text (a DNS name, a file name) as a
// string, escaped for JSON, non-printable bytes as tcpdump escapes them
// in text.
func (w *fieldWriter) bytesStr(key, label string, v []byte) {
	w.key(key, label)
	if w.json {
		w.b = append(w.b, '"')
		for _, c := range v {
			switch {
			case c == '"' || c == '\\':
				w.b = append(w.b, '\\', c)
			case c < 0x20 || c >= 0x7f:
				w.b = append(w.b, `\u00`...)
				w.b = append(w.b, hexDigits[c>>4], hexDigits[c&15])
			default:
				w.b = append(w.b, c)
			}
		}
		w.b = append(w.b, '"')
	} else {
		for _, c := range v {
			w.b = appendPrintable(w.b, c)
		}
	}
	w.end()
}

// beginItem starts one structured entry of a list (a DNS question, a
// DHCP option): a JSON object whose first member is "name", or a title
// line with the entry's fields indented under it.
func (w *fieldWriter) beginItem(name string) { w.begin(`{"name":"`, name, name) }

func (w *fieldWriter) endItem() {
	if w.json {
		w.b = append(w.b, '}')
	}
}
