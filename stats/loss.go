package stats

// LossPct is the share of sent that did not come back, in percent: 0 when
// nothing was sent, and never below 0 when more came back than was sent
// (duplicates counted by a caller, a peer's count that ran ahead). Every
// loss figure rawnet prints (ping, trace, udp, read --stats) is this one.
func LossPct[N ~int | ~int64 | ~uint32 | ~uint64](sent, received N) float64 {
	if sent <= 0 || received >= sent {
		return 0
	}
	return 100 * float64(sent-received) / float64(sent)
}
