package trace

import (
	"math"
	"slices"
	"testing"
)

// mdaBrute is the MDA stopping rule by counting: the least n with
// (k+1) * (k/(k+1))^n <= 1-confidence.
func mdaBrute(confidence float64, k int) int {
	for n := 1; ; n++ {
		if float64(k+1)*math.Pow(float64(k)/float64(k+1), float64(n)) <= 1-confidence {
			return n
		}
	}
}

func TestMDATable(t *testing.T) {
	n := mdaTable(0.95, 128)
	// The published 95% stopping points (Augustin et al.) start so.
	if want := []int{1, 6, 11, 16, 21, 27}; !slices.Equal(n[:6], want) {
		t.Errorf("mdaTable(0.95)[:6] = %v, want %v", n[:6], want)
	}
	for k := 1; k < len(n); k++ {
		want := min(mdaBrute(0.95, k), 128)
		if n[k] != want {
			t.Errorf("n[%d] = %d, counting gives %d", k, n[k], want)
		}
		if n[k] < n[k-1] {
			t.Errorf("not monotonic at %d: %d < %d", k, n[k], n[k-1])
		}
	}
	if last := n[len(n)-1]; last != 128 || n[len(n)-2] >= 128 {
		t.Errorf("table does not end at the cap: ...%v", n[len(n)-3:])
	}
	// A higher confidence needs more probes; a lower cap ends sooner.
	n99 := mdaTable(0.99, 1024)
	if n99[1] != mdaBrute(0.99, 1) || n99[1] <= n[1] {
		t.Errorf("mdaTable(0.99)[1] = %d, want %d", n99[1], mdaBrute(0.99, 1))
	}
	small := mdaTable(0.95, 16)
	if !slices.Equal(small, []int{1, 6, 11, 16}) {
		t.Errorf("mdaTable(0.95, 16) = %v, want [1 6 11 16]", small)
	}
}

func TestMDANeed(t *testing.T) {
	n := mdaTable(0.95, 128)
	for k, want := range map[int]int{0: 6, 1: 6, 2: 11, 5: 27, 1000: 128} {
		if got := mdaNeed(n, k); got != want {
			t.Errorf("mdaNeed(%d) = %d, want %d", k, got, want)
		}
	}
}
