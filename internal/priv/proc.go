package priv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errParse is wrapped by the errors of the /proc parsers.
var errParse = errors.New("priv: cannot parse")

// parsePingGroupRange parses the contents of
// /proc/sys/net/ipv4/ping_group_range: two group ids, "low high". The
// kernel's default "1 0" is an empty range.
func parsePingGroupRange(s string) (lo, hi uint32, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%w ping_group_range %q: want two group ids", errParse, s)
	}
	l, err1 := strconv.ParseUint(f[0], 10, 32)
	h, err2 := strconv.ParseUint(f[1], 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("%w ping_group_range %q: %w", errParse, s, err)
	}
	return uint32(l), uint32(h), nil
}

// anyInRange reports whether one of gids lies in [lo, hi].
func anyInRange(lo, hi uint32, gids []int) bool {
	for _, g := range gids {
		if g >= 0 && uint64(g) >= uint64(lo) && uint64(g) <= uint64(hi) {
			return true
		}
	}
	return false
}
