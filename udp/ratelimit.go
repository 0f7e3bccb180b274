package udp

import "time"

// bucket is a token bucket over a caller's clock in nanoseconds: rate
// tokens per second, at most burst held. The zero bucket (rate 0) lets
// everything through.
type bucket struct {
	tokens float64
	last   int64
}

// take spends one token at time now if one is there.
func (b *bucket) take(now int64, rate, burst float64) bool {
	if rate <= 0 {
		return true
	}
	if b.last == 0 {
		b.tokens = burst
	} else if now > b.last {
		b.tokens = min(burst, b.tokens+float64(now-b.last)*rate/1e9)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// burstFor allows 10ms worth of tokens at once, and at least one batch.
func burstFor(rate float64) float64 { return max(float64(MaxBatch), rate/100) }

// wait is how long until take can succeed at rate.
func (b *bucket) wait(now int64, rate float64) time.Duration {
	if rate <= 0 || b.last == 0 {
		return 0
	}
	have := b.tokens + float64(now-b.last)*rate/1e9
	if have >= 1 {
		return 0
	}
	return time.Duration((1 - have) / rate * 1e9)
}
