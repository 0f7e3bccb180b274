// Package capture is rawnet's packet capture side: a reusable, allocation-free
// packet Decoder (gopacket decoding layers, preallocated) with tcpdump-style
// one-line summaries, tshark-style verbose listings, JSON and hex dumps, and
// tcpdump filter expressions compiled by libpcap (in a cgo build) and run in
// user space over packets read from files.
package capture
