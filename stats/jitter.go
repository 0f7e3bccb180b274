package stats

import (
	"math"
	"time"
)

// Jitter estimates interarrival jitter as RFC 3550 (section 6.4.1) defines
// it for RTP. For packets i and j with send times S and receive times R,
//
//	D(i,j) = (Rj − Ri) − (Sj − Si) = (Rj − Sj) − (Ri − Si)
//
// the change in one-way transit time, and after each packet i
//
//	J(i) = J(i−1) + (|D(i−1,i)| − J(i−1)) / 16
//
// an exponentially smoothed mean deviation with gain 1/16. A constant clock
// offset between sender and receiver cancels out in D, so S and R may come
// from different clocks. The first packet only sets the reference transit
// time. The zero value is ready to use; add packets in order of arrival.
type Jitter struct {
	n       int
	transit time.Duration // R − S of the previous packet
	j       float64       // nanoseconds
}

// Add records one packet by its send and receive times.
func (j *Jitter) Add(sent, received time.Time) {
	j.AddTransit(received.Sub(sent))
}

// AddTransit records one packet by its transit time R − S, for callers that
// already have it.
func (j *Jitter) AddTransit(transit time.Duration) {
	if j.n > 0 {
		d := math.Abs(float64(transit - j.transit))
		j.j += (d - j.j) / 16
	}
	j.transit = transit
	j.n++
}

// Count is the number of packets added.
func (j *Jitter) Count() int { return j.n }

// Value is the current jitter estimate J, rounded to the nanosecond; 0
// before the second packet.
func (j *Jitter) Value() time.Duration { return time.Duration(math.Round(j.j)) }
