package config

import "sync"

// memo remembers the results of a pure, slow function of strings (number parsing with
// phonenumbers costs tens of microseconds; a write validates the same numbers again and
// again). It holds at most memoSize entries and starts over when full, so that numbers
// seen once (dialed numbers, bad input) cannot grow it without bound.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

const memoSize = 8192

func (m *memo[V]) get(key string, compute func() V) V {
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoSize {
		m.m = make(map[string]V, 64)
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}
