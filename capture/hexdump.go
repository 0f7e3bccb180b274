package capture

// AppendHexDump appends data as tcpdump -x prints it: lines of 16 bytes in
// groups of two, each line a tab, the offset and a newline at the end:
//
//	\t0x0000:  4500 0054 1234 4000 4001 974d c612 0001
func AppendHexDump(dst, data []byte) []byte {
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		dst = append(dst, "\t0x"...)
		dst = appendHex16(dst, uint16(off))
		dst = append(dst, ": "...)
		for i := 0; i < len(line); i += 2 {
			dst = append(dst, ' ', hexDigits[line[i]>>4], hexDigits[line[i]&15])
			if i+1 < len(line) {
				dst = append(dst, hexDigits[line[i+1]>>4], hexDigits[line[i+1]&15])
			}
		}
		dst = append(dst, '\n')
	}
	return dst
}
