package unsupported

import (
	"errors"
	"fmt"
	"testing"
)

func TestNewMatchesErrUnsupportedAndKeepsItsMessage(t *testing.T) {
	err := New("pkg: not implemented on this operating system")
	if got := err.Error(); got != "pkg: not implemented on this operating system" {
		t.Errorf("message %q", got)
	}
	wrapped := fmt.Errorf("%w (plan9)", err)
	if !errors.Is(wrapped, errors.ErrUnsupported) || !errors.Is(wrapped, err) {
		t.Errorf("errors.Is(%v): ErrUnsupported %v, sentinel %v", wrapped, errors.Is(wrapped, errors.ErrUnsupported), errors.Is(wrapped, err))
	}
	if errors.Is(New("other"), err) {
		t.Error("two sentinels match each other")
	}
}
