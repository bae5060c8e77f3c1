package supervisor

import "time"

// backoffDelay is the wait before restart number failures+1 of a crash loop:
// initial, doubled after each quick failure, capped at max.
func backoffDelay(failures int, initial, max time.Duration) time.Duration {
	d := initial
	for i := 0; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
