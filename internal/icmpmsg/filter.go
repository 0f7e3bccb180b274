package icmpmsg

var (
	replyTypes4 = []uint8{TypeEchoReply4, TypeDestUnreachable4, TypeSourceQuench4, TypeRedirect4, TypeTimeExceeded4, TypeParamProblem4}
	replyTypes6 = []uint8{TypeEchoReply6, TypeDestUnreachable6, TypePacketTooBig6, TypeTimeExceeded6, TypeParamProblem6}
)

// ReplyTypes are the message types a prober's raw ICMP socket needs to
// see (its kernel ICMP filter passes these only): echo replies and the
// error messages that quote a probe. The slice is shared: do not modify.
func ReplyTypes(v6 bool) []uint8 {
	if v6 {
		return replyTypes6
	}
	return replyTypes4
}
