package target

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		if network == "ip" || (network == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestExpand(t *testing.T) {
	res := fakeResolver{"dual.lab": {netip.MustParseAddr("fd00::5"), netip.MustParseAddr("198.18.0.5")}}
	tests := []struct {
		args []string
		fam  Family
		want []string
	}{
		{[]string{"198.18.3.2"}, Any, []string{"198.18.3.2"}},
		{[]string{"fd00::1"}, V6, []string{"fd00::1"}},
		{[]string{"198.19.0.0/30"}, Any, []string{"198.19.0.0", "198.19.0.1", "198.19.0.2", "198.19.0.3"}},
		{[]string{"198.19.0.7/30"}, Any, []string{"198.19.0.4", "198.19.0.5", "198.19.0.6", "198.19.0.7"}},
		{[]string{"fd00:99::/127"}, Any, []string{"fd00:99::", "fd00:99::1"}},
		{[]string{"dual.lab"}, Any, []string{"198.18.0.5"}},
		{[]string{"dual.lab"}, V6, []string{"fd00::5"}},
		{[]string{"198.18.0.1", "198.18.0.2/32"}, V4, []string{"198.18.0.1", "198.18.0.2"}},
	}
	for _, tc := range tests {
		got, err := Expand(context.Background(), tc.args, Options{Family: tc.fam, Resolver: res})
		if err != nil {
			t.Fatalf("Expand(%v): %v", tc.args, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("Expand(%v) = %v, want %v", tc.args, got, tc.want)
		}
		for i := range got {
			if got[i].Addr.String() != tc.want[i] {
				t.Errorf("Expand(%v)[%d] = %s, want %s", tc.args, i, got[i].Addr, tc.want[i])
			}
		}
	}
}

func TestExpandErrors(t *testing.T) {
	res := fakeResolver{}
	for _, args := range [][]string{
		{"nonexistent.invalid"}, {""}, {"198.18.0.0/33"}, {"10.0.0.0/8"}, {"fd00::/64"}, {"fd00::1"}, {"198.18.0.0/24", "198.18.1.0/24"},
	} {
		o := Options{Family: V4, Resolver: res, Max: 300}
		if args[0] == "10.0.0.0/8" || args[0] == "fd00::/64" {
			o.Family = Any
		}
		_, err := Expand(context.Background(), args, o)
		if !errors.Is(err, ErrBad) {
			t.Errorf("Expand(%q) error = %v, want ErrBad", args, err)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"198.18.0.0/30", "fd00::/126", "1.2.3.4", "::ffff:1.2.3.4", "a/b", "/", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := Expand(context.Background(), []string{s}, Options{Resolver: fakeResolver{}, Max: 1024})
		if err == nil && (len(ts) == 0 || len(ts) > 1024) {
			t.Fatalf("Expand(%q) gave %d targets", s, len(ts))
		}
	})
}
