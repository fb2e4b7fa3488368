package fakeesl

import (
	"sort"
	"sync"
	"time"
)

// Clock is the fake's only source of time: ring timeouts, "answers after N s", linger,
// playback lengths and event timestamps all go through it.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f once d of this clock's time has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the timer; it reports whether it was still pending.
	Stop() bool
}

// ScaledClock is wall-clock time with every delay multiplied by Scale: with Scale 0.01 a
// 20 s ring timeout fires after 200 ms of real time. Scale <= 0 means 1. Now() advances
// at the same scaled rate from the moment the clock is made, so event timestamps and
// durations (billsec…) stay consistent with the delays.
type ScaledClock struct {
	Scale float64
	once  sync.Once
	base  time.Time
	start time.Time
}

// NewScaledClock returns a clock whose delays last scale times their nominal length.
func NewScaledClock(scale float64) *ScaledClock { return &ScaledClock{Scale: scale} }

func (c *ScaledClock) init() {
	c.once.Do(func() {
		c.start = time.Now()
		c.base = c.start
	})
}

func (c *ScaledClock) scale() float64 {
	if c.Scale <= 0 {
		return 1
	}
	return c.Scale
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	c.init()
	real := time.Since(c.start)
	return c.base.Add(time.Duration(float64(real) / c.scale()))
}

// AfterFunc runs f after d*Scale of real time.
func (c *ScaledClock) AfterFunc(d time.Duration, f func()) Timer {
	c.init()
	return time.AfterFunc(time.Duration(float64(d)*c.scale()), f)
}

// ManualClock only moves when a test calls Advance or Set; timers that come due run in
// the caller's goroutine, in due order. Tests use it to make ring timeouts instantaneous
// and deterministic: start a bridge, Advance(20*time.Second), read the result.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*manualTimer
}

type manualTimer struct {
	c   *ManualClock
	at  time.Time
	seq int
	f   func()
}

// NewManualClock starts at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d. A d <= 0 timer runs at the next Advance (even by 0).
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, running every timer due on the way (timers that
// those timers schedule included) at its own due time.
func (c *ManualClock) Advance(d time.Duration) {
	c.Set(c.Now().Add(d))
}

// Set moves the clock to t (never backwards), running the timers due by then.
func (c *ManualClock) Set(t time.Time) {
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		next := c.timers[0]
		c.timers = c.timers[1:]
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// next returns the due time of the earliest pending timer.
func (c *ManualClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	first := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(first) {
			first = t.at
		}
	}
	return first, true
}

// Pending is the number of timers not yet run.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
