package icmpmsg

// ICMPv4 message types (RFC 792, RFC 950, RFC 1256).
const (
	TypeEchoReply4        = 0
	TypeDestUnreachable4  = 3
	TypeSourceQuench4     = 4
	TypeRedirect4         = 5
	TypeEchoRequest4      = 8
	TypeRouterAdvert4     = 9
	TypeRouterSolicit4    = 10
	TypeTimeExceeded4     = 11
	TypeParamProblem4     = 12
	TypeTimestampRequest4 = 13
	TypeTimestampReply4   = 14
	TypeInfoRequest4      = 15
	TypeInfoReply4        = 16
	TypeAddrMaskRequest4  = 17
	TypeAddrMaskReply4    = 18
)

// ICMPv6 message types (RFC 4443, RFC 4861, RFC 2710, RFC 3810).
const (
	TypeDestUnreachable6 = 1
	TypePacketTooBig6    = 2
	TypeTimeExceeded6    = 3
	TypeParamProblem6    = 4
	TypeEchoRequest6     = 128
	TypeEchoReply6       = 129
	TypeMLDQuery6        = 130
	TypeMLDReport6       = 131
	TypeMLDDone6         = 132
	TypeRouterSolicit6   = 133
	TypeRouterAdvert6    = 134
	TypeNeighborSolicit6 = 135
	TypeNeighborAdvert6  = 136
	TypeRedirect6        = 137
	TypeMLDv2Report6     = 143
)

// Class is what kind of message an ICMP or ICMPv6 type is.
type Class uint8

const (
	// ClassUnknown: a type this package does not know (ICMPv4) or an
	// ICMPv6 informational type it does not know.
	ClassUnknown Class = iota
	// ClassEchoRequest and ClassEchoReply: ping.
	ClassEchoRequest
	ClassEchoReply
	// ClassError: an assigned error type (ICMPv4 destination unreachable,
	// source quench, redirect, time exceeded, parameter problem; ICMPv6
	// types 1 to 4). It quotes the datagram that caused it (error.go).
	ClassError
	// ClassUnassignedError: an ICMPv6 type below 128 that RFC 4443 does
	// not assign. Its type bit makes it an error, and RFC 4443 section
	// 2.4 (a) says to pass it to the sender of the datagram it quotes,
	// but what its first four bytes after the checksum mean is unknown.
	ClassUnassignedError
	// ClassQuery and ClassQueryReply: the ICMPv4 queries other than echo
	// (timestamp, information, address mask), which carry an identifier
	// and a sequence number as echoes do.
	ClassQuery
	ClassQueryReply
	// ClassInformational: router and neighbour discovery, multicast
	// listener discovery, ICMPv6 redirect.
	ClassInformational
)

// IsError reports whether c is an error class, assigned or not.
func (c Class) IsError() bool { return c == ClassError || c == ClassUnassignedError }

// HasIDSeq reports whether messages of class c carry an identifier and a
// sequence number after the checksum (echoes and queries).
func (c Class) HasIDSeq() bool {
	switch c {
	case ClassEchoRequest, ClassEchoReply, ClassQuery, ClassQueryReply:
		return true
	}
	return false
}

// IsRequest reports whether c asks for an answer (echo request, query).
func (c Class) IsRequest() bool { return c == ClassEchoRequest || c == ClassQuery }

// IsReply reports whether c answers a request (echo reply, query reply).
func (c Class) IsReply() bool { return c == ClassEchoReply || c == ClassQueryReply }

func (c Class) String() string {
	return [...]string{"unknown", "echo-request", "echo-reply", "error", "unassigned-error",
		"query", "query-reply", "informational"}[c]
}

// typeInfo is what rawnet knows of one message type: its class and its
// name as rawnet prints it.
type typeInfo struct {
	class Class
	name  string
}

var types4 = [256]typeInfo{
	TypeEchoReply4:        {ClassEchoReply, "echo reply"},
	TypeDestUnreachable4:  {ClassError, "destination unreachable"},
	TypeSourceQuench4:     {ClassError, "source quench"},
	TypeRedirect4:         {ClassError, "redirect"},
	TypeEchoRequest4:      {ClassEchoRequest, "echo request"},
	TypeRouterAdvert4:     {ClassInformational, ""},
	TypeRouterSolicit4:    {ClassInformational, ""},
	TypeTimeExceeded4:     {ClassError, "time exceeded"},
	TypeParamProblem4:     {ClassError, "parameter problem"},
	TypeTimestampRequest4: {ClassQuery, "timestamp request"},
	TypeTimestampReply4:   {ClassQueryReply, "timestamp reply"},
	TypeInfoRequest4:      {ClassQuery, ""},
	TypeInfoReply4:        {ClassQueryReply, ""},
	TypeAddrMaskRequest4:  {ClassQuery, ""},
	TypeAddrMaskReply4:    {ClassQueryReply, ""},
}

var types6 = func() [256]typeInfo {
	var t [256]typeInfo
	for i := range 128 {
		t[i].class = ClassUnassignedError
	}
	for typ, info := range map[uint8]typeInfo{
		TypeDestUnreachable6: {ClassError, "destination unreachable"},
		TypePacketTooBig6:    {ClassError, "packet too big"},
		TypeTimeExceeded6:    {ClassError, "time exceeded"},
		TypeParamProblem6:    {ClassError, "parameter problem"},
		TypeEchoRequest6:     {ClassEchoRequest, "echo request"},
		TypeEchoReply6:       {ClassEchoReply, "echo reply"},
		TypeMLDQuery6:        {ClassInformational, "multicast listener query"},
		TypeMLDReport6:       {ClassInformational, "multicast listener report"},
		TypeMLDDone6:         {ClassInformational, "multicast listener done"},
		TypeRouterSolicit6:   {ClassInformational, "router solicitation"},
		TypeRouterAdvert6:    {ClassInformational, "router advertisement"},
		TypeNeighborSolicit6: {ClassInformational, "neighbor solicitation"},
		TypeNeighborAdvert6:  {ClassInformational, "neighbor advertisement"},
		TypeRedirect6:        {ClassInformational, "redirect"},
		TypeMLDv2Report6:     {ClassInformational, "multicast listener report v2"},
	} {
		t[typ] = info
	}
	return t
}()

func info(v6 bool, t uint8) *typeInfo {
	if v6 {
		return &types6[t]
	}
	return &types4[t]
}

// Classify returns the class of ICMPv4 (v6 false) or ICMPv6 type t.
func Classify(v6 bool, t uint8) Class { return info(v6, t).class }

// IsError reports whether type t is an error message of its family
// (assigned or, for ICMPv6, unassigned).
func IsError(v6 bool, t uint8) bool { return Classify(v6, t).IsError() }

// Name is the name rawnet prints for a type ("echo request", "time
// exceeded"), "" for the types it has no name for.
func Name(v6 bool, t uint8) string { return info(v6, t).name }

// RequestType returns the type of the request that a message of type t
// answers or is: the echo request for an echo reply, the matching query
// for a query reply, t itself for a request. ok is false for types that
// are neither requests nor replies.
func RequestType(v6 bool, t uint8) (req uint8, ok bool) {
	switch Classify(v6, t) {
	case ClassEchoRequest, ClassQuery:
		return t, true
	case ClassEchoReply:
		if v6 {
			return TypeEchoRequest6, true
		}
		return TypeEchoRequest4, true
	case ClassQueryReply:
		return t - 1, true // RFC 792 and RFC 950 number each reply after its query
	}
	return 0, false
}

// Destination unreachable codes that tell a closed port from a filter.
const (
	CodePortUnreachable4 = 3 // RFC 792
	CodePortUnreachable6 = 4 // RFC 4443
)
