package priv

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// The tests read capabilities from /proc/<pid>/task/<tid>/status, the
// kernel's own account of every thread, as ground truth for Effective
// (capget) and Drop.

// parseCapability finds the line "<field>:\t<hex>" (e.g. CapEff) in the
// contents of /proc/<pid>/status and returns the mask.
func parseCapability(status, field string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(value), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("%w %s %q: %w", errParse, field, value, err)
		}
		return mask, nil
	}
	return 0, fmt.Errorf("%w %s: no such line in status", errParse, field)
}
