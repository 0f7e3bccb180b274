package icmpmsg

// kinds4 names the ICMPv4 destination unreachable codes (RFC 792, 1122,
// 1812) in snake_case, as metric label values.
var kinds4 = [...]string{
	"net_unreachable", "host_unreachable", "protocol_unreachable", "port_unreachable",
	"fragmentation_needed", "source_route_failed", "net_unknown", "host_unknown",
	"source_host_isolated", "net_prohibited", "host_prohibited", "net_unreachable_for_tos",
	"host_unreachable_for_tos", "communication_prohibited", "precedence_violation", "precedence_cutoff",
}

// kinds6 names the ICMPv6 destination unreachable codes (RFC 4443) with
// the ICMPv4 words where the meaning is the same, so that one label value
// covers both families.
var kinds6 = [...]string{
	"net_unreachable", "communication_prohibited", "beyond_scope", "host_unreachable",
	"port_unreachable", "source_policy_failed", "reject_route",
}

// ErrorKind names an ICMP error message's kind in snake_case, as the
// exporter's rawnet_probe_errors_total{kind} and rawnet_trace_* label it:
// "host_unreachable", "port_unreachable", "time_exceeded",
// "fragmentation_needed" (ICMPv4 code 4 and ICMPv6 packet too big),
// "parameter_problem", ... Types that are not errors, and unknown codes,
// are "other".
func ErrorKind(v6 bool, typ, code uint8) string {
	if v6 {
		switch typ {
		case TypeDestUnreachable6:
			return codeKind(kinds6[:], code)
		case TypePacketTooBig6:
			return "fragmentation_needed"
		case TypeTimeExceeded6:
			return timeKind(code)
		case TypeParamProblem6:
			return "parameter_problem"
		}
		return "other"
	}
	switch typ {
	case TypeDestUnreachable4:
		return codeKind(kinds4[:], code)
	case TypeTimeExceeded4:
		return timeKind(code)
	case TypeParamProblem4:
		return "parameter_problem"
	case TypeSourceQuench4:
		return "source_quench"
	case TypeRedirect4:
		return "redirect"
	}
	return "other"
}

func codeKind(names []string, code uint8) string {
	if int(code) < len(names) {
		return names[code]
	}
	return "other"
}

func timeKind(code uint8) string {
	if code == 1 {
		return "reassembly_time_exceeded"
	}
	return "time_exceeded"
}
