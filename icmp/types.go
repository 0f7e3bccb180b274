package icmp

import (
	"github.com/rawnet/rawnet/internal/icmpmsg"
	"github.com/rawnet/rawnet/internal/inet"
)

// The message types the engine sends and expects, from the ICMP codec
// (internal/icmpmsg), under the names the socket code has used.
const (
	TypeEchoReply4       = icmpmsg.TypeEchoReply4
	TypeDestUnreachable4 = icmpmsg.TypeDestUnreachable4
	TypeSourceQuench4    = icmpmsg.TypeSourceQuench4
	TypeRedirect4        = icmpmsg.TypeRedirect4
	TypeEchoRequest4     = icmpmsg.TypeEchoRequest4
	TypeTimeExceeded4    = icmpmsg.TypeTimeExceeded4
	TypeParamProblem4    = icmpmsg.TypeParamProblem4
	TypeDestUnreachable6 = icmpmsg.TypeDestUnreachable6
	TypePacketTooBig6    = icmpmsg.TypePacketTooBig6
	TypeTimeExceeded6    = icmpmsg.TypeTimeExceeded6
	TypeParamProblem6    = icmpmsg.TypeParamProblem6
	TypeEchoRequest6     = icmpmsg.TypeEchoRequest6
	TypeEchoReply6       = icmpmsg.TypeEchoReply6
)

const (
	protoICMP4    = inet.ProtoICMP
	protoICMP6    = inet.ProtoICMPv6
	echoHeaderLen = icmpmsg.HeaderLen
	ipv4HeaderLen = inet.IPv4HeaderLen
	ipv6HeaderLen = inet.IPv6HeaderLen
	maxPayload4   = 65535 - ipv4HeaderLen - echoHeaderLen
)
