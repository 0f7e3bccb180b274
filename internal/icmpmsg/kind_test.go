package icmpmsg

import "testing"

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		v6        bool
		typ, code uint8
		want      string
	}{
		{false, TypeDestUnreachable4, 1, "host_unreachable"},
		{false, TypeDestUnreachable4, 3, "port_unreachable"},
		{false, TypeDestUnreachable4, 4, "fragmentation_needed"},
		{false, TypeDestUnreachable4, 13, "communication_prohibited"},
		{false, TypeDestUnreachable4, 16, "other"},
		{false, TypeTimeExceeded4, 0, "time_exceeded"},
		{false, TypeTimeExceeded4, 1, "reassembly_time_exceeded"},
		{false, TypeParamProblem4, 0, "parameter_problem"},
		{false, TypeEchoReply4, 0, "other"},
		{true, TypeDestUnreachable6, 0, "net_unreachable"},
		{true, TypeDestUnreachable6, 3, "host_unreachable"},
		{true, TypeDestUnreachable6, 4, "port_unreachable"},
		{true, TypeDestUnreachable6, 1, "communication_prohibited"},
		{true, TypePacketTooBig6, 0, "fragmentation_needed"},
		{true, TypeTimeExceeded6, 0, "time_exceeded"},
		{true, TypeParamProblem6, 2, "parameter_problem"},
		{true, TypeDestUnreachable6, 99, "other"},
	} {
		if got := ErrorKind(tc.v6, tc.typ, tc.code); got != tc.want {
			t.Errorf("ErrorKind(v6=%v, %d, %d) = %q, want %q", tc.v6, tc.typ, tc.code, got, tc.want)
		}
	}
}
