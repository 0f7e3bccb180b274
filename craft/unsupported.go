package craft

import "github.com/rawnet/rawnet/internal/unsupported"

// ErrUnsupported is returned (wrapped) on systems where rawnet cannot send
// crafted packets (everywhere but Linux). It matches errors.ErrUnsupported.
var ErrUnsupported = unsupported.New("craft: sending crafted packets is not implemented on this operating system")
