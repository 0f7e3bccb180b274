package rawsock

import (
	"errors"
	"testing"
)

type mapStamper map[uint32]int64

func (m mapStamper) TxKey() (uint32, bool) { return 0, true }
func (m mapStamper) TxStamp(key uint32) (int64, bool) {
	ns, ok := m[key]
	return ns, ok
}

// TestSendTime: the kernel's stamp when it has one no earlier than the
// user-space send time, else that time.
func TestSendTime(t *testing.T) {
	st := mapStamper{1: 1500, 2: 900}
	for _, tc := range []struct {
		name   string
		st     TxStamper
		key    uint32
		want   int64
		kernel bool
	}{
		{"stamped", st, 1, 1500, true},
		{"stamp before send: not this packet's", st, 2, 1000, false},
		{"no stamp", st, 3, 1000, false},
		{"no stamper", nil, 1, 1000, false},
	} {
		ns, kernel := SendTime(tc.st, tc.key, 1000)
		if ns != tc.want || kernel != tc.kernel {
			t.Errorf("%s: SendTime = %d, %v; want %d, %v", tc.name, ns, kernel, tc.want, tc.kernel)
		}
	}
}

type stampErr struct{ err error }

func (s stampErr) TxStampErr() error { return s.err }

// TestTxStampState: on without an error, off with the reason, off
// without one for what cannot have stamps.
func TestTxStampState(t *testing.T) {
	refused := errors.New("refused")
	for _, tc := range []struct {
		c   any
		on  bool
		err error
	}{{stampErr{}, true, nil}, {stampErr{refused}, false, refused}, {struct{}{}, false, nil}} {
		if on, err := TxStampState(tc.c); on != tc.on || err != tc.err {
			t.Errorf("TxStampState(%#v) = %v, %v; want %v, %v", tc.c, on, err, tc.on, tc.err)
		}
	}
}
