// Package unsupported makes the sentinel errors that rawnet's packages
// return on operating systems they have no code for. Each package keeps its
// own sentinel (icmp.ErrUnsupported, capture.ErrUnsupported, ...), with its
// own message, and every one of them also matches errors.ErrUnsupported, so
// a caller can ask errors.Is(err, errors.ErrUnsupported) whichever package
// the error came from.
package unsupported

import "errors"

// New returns a sentinel error with the message msg that wraps
// errors.ErrUnsupported. Its message is msg alone: the wrapped error adds
// nothing to it.
func New(msg string) error { return &sentinel{msg: msg} }

type sentinel struct{ msg string }

func (e *sentinel) Error() string { return e.msg }

func (e *sentinel) Unwrap() error { return errors.ErrUnsupported }
