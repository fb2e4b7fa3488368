package fakeari

import (
	"container/heap"
	"sync"
	"time"
)

// scheduler runs the fake's own timers (answer delays, dial timeouts, playback
// lengths, DTMF pacing, restart windows) one at a time, in deadline order, so
// that two timers a few milliseconds apart never swap even on a loaded machine.
//
// In real mode the fake's "seconds" are real seconds multiplied by scale; in
// manual mode nothing fires until Advance moves the fake's clock.
type scheduler struct {
	mu     sync.Mutex
	manual bool
	scale  float64
	now    time.Time // manual mode only
	q      timerHeap
	seq    uint64
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	// busy serialises callbacks: Advance and the real-time loop never run two at once.
	busy sync.Mutex
}

type timer struct {
	at   time.Time
	seq  uint64
	fn   func()
	idx  int
	dead bool
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *timerHeap) Push(x any)   { t := x.(*timer); t.idx = len(*h); *h = append(*h, t) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

func newScheduler(manual bool, scale float64, start time.Time) *scheduler {
	s := &scheduler{manual: manual, scale: scale, now: start,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if manual {
		close(s.done)
	} else {
		go s.loop()
	}
	return s
}

// Now is the fake's clock: real time, or the manual clock.
func (s *scheduler) Now() time.Time {
	if !s.manual {
		return time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// after schedules fn once d of fake time has passed (d is scaled in real mode).
// fn runs without any lock of the scheduler held.
func (s *scheduler) after(d time.Duration, fn func()) *timer {
	t := &timer{fn: fn}
	s.start(t, d)
	return t
}

// start schedules a timer whose fn is already set.
func (s *scheduler) start(t *timer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var at time.Time
	if s.manual {
		at = s.now.Add(d)
	} else {
		at = time.Now().Add(time.Duration(float64(d) * s.scale))
	}
	s.seq++
	t.at, t.seq = at, s.seq
	heap.Push(&s.q, t)
	if !s.manual && t.idx == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// cancel stops t if it has not fired; safe on nil and on fired timers.
func (s *scheduler) cancel(t *timer) {
	if t == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.dead = true
	if t.idx >= 0 && t.idx < len(s.q) && s.q[t.idx] == t {
		heap.Remove(&s.q, t.idx)
	}
}

// advance moves the manual clock by d, firing every timer due on the way in
// deadline order, with the clock set to each timer's deadline while it runs.
func (s *scheduler) advance(d time.Duration) {
	s.busy.Lock()
	defer s.busy.Unlock()
	s.mu.Lock()
	end := s.now.Add(d)
	for len(s.q) > 0 && !s.q[0].at.After(end) {
		t := heap.Pop(&s.q).(*timer)
		if t.at.After(s.now) {
			s.now = t.at
		}
		s.mu.Unlock()
		t.fn()
		s.mu.Lock()
	}
	s.now = end
	s.mu.Unlock()
}

// alive reports whether t was neither cancelled nor removed: a callback that
// raced with cancel checks it once it holds the fake's lock.
func (s *scheduler) alive(t *timer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !t.dead
}

func (s *scheduler) loop() {
	defer close(s.done)
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for {
		s.mu.Lock()
		var wait time.Duration = time.Hour
		var due *timer
		if len(s.q) > 0 {
			if w := time.Until(s.q[0].at); w <= 0 {
				due = heap.Pop(&s.q).(*timer)
			} else {
				wait = w
			}
		}
		s.mu.Unlock()
		if due != nil {
			s.busy.Lock()
			due.fn()
			s.busy.Unlock()
			continue
		}
		idle.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-idle.C:
		}
	}
}

func (s *scheduler) close() {
	if s.manual {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
