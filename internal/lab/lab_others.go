//go:build !linux

package lab

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

var errOS = fmt.Errorf("%w, not %s", ErrUnsupported, runtime.GOOS)

// Up is not implemented on this system.
func Up(ctx context.Context, name string, spec Spec) (*Lab, error) { return nil, errOS }

// Close does nothing on this system: no lab can exist.
func (l *Lab) Close() error { return nil }

// List is not implemented on this system.
func List() ([]string, error) { return nil, errOS }

// Down is not implemented on this system.
func Down(name string) error { return errOS }

// Do is not implemented on this system.
func (n *Node) Do(fn func() error) error { return errOS }

// A Responder answers echo requests after a delay (Linux only).
type Responder struct{}

// ListenResponder is not implemented on this system.
func ListenResponder(delay time.Duration) (*Responder, error) { return nil, errOS }

// Serve is not implemented on this system.
func (r *Responder) Serve(ctx context.Context) error { return errOS }

// Close does nothing on this system.
func (r *Responder) Close() error { return nil }

// ServeDelayed is not implemented on this system.
func ServeDelayed(ctx context.Context, delay time.Duration) error { return errOS }
