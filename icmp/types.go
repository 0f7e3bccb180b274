package icmp

import (
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

const (
	protoICMP4    = inet.ProtoICMP
	protoICMP6    = inet.ProtoICMPv6
	protoTCP      = inet.ProtoTCP
	protoUDP      = inet.ProtoUDP
	echoHeaderLen = icmpmsg.HeaderLen
	udpHeaderLen  = 8
	tcpHeaderLen  = 20
	ipv4HeaderLen = inet.IPv4HeaderLen
	ipv6HeaderLen = inet.IPv6HeaderLen
	maxPayload4   = 65535 - ipv4HeaderLen - echoHeaderLen
)
