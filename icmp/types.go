package icmp

import (
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

const (
	protoICMP4    = inet.ProtoICMP
	protoICMP6    = inet.ProtoICMPv6
	echoHeaderLen = icmpmsg.HeaderLen
	ipv4HeaderLen = inet.IPv4HeaderLen
	ipv6HeaderLen = inet.IPv6HeaderLen
	maxPayload4   = 65535 - ipv4HeaderLen - echoHeaderLen
)
