package unsupported_test

import (
	"errors"
	"testing"

	"github.com/rawnet/rawnet/capture"
	"github.com/rawnet/rawnet/craft"
	"github.com/rawnet/rawnet/icmp"
	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/priv"
	"github.com/rawnet/rawnet/trace"
	"github.com/rawnet/rawnet/udp"
)

// Every package's "not implemented on this operating system" sentinel
// matches errors.ErrUnsupported (the *_others.go files wrap these).
func TestEveryPackageSentinelIsErrUnsupported(t *testing.T) {
	for name, err := range map[string]error{
		"icmp":                        icmp.ErrUnsupported,
		"trace":                       trace.ErrUnsupported,
		"udp":                         udp.ErrUnsupported,
		"craft":                       craft.ErrUnsupported,
		"capture":                     capture.ErrUnsupported,
		"priv":                        priv.ErrUnsupported,
		"lab":                         lab.ErrUnsupported,
		"capture filters without cgo": capture.ErrFilterNeedsCgo,
		"priv drop":                   priv.ErrDropUnsupported,
	} {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: errors.Is(%q, errors.ErrUnsupported) is false", name, err)
		}
	}
}
