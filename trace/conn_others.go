//go:build !linux

package trace

// Listen is not implemented off Linux.
func Listen(ListenConfig) (Conn, error) { return nil, ErrUnsupported }
