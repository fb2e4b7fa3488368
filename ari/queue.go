package ari

import "sync"

// queue is an unbounded FIFO between one producer and one consumer: the WebSocket
// reader and the dispatcher, the dispatcher and a call's goroutine. It never blocks the
// producer and never drops: a burst only grows it (each call's events are few, and the
// dispatcher only decodes and routes).
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	head   int
	closed bool
	wake   chan struct{} // cap 1: something was put, or the queue was closed
}

func newQueue[T any]() *queue[T] { return &queue[T]{wake: make(chan struct{}, 1)} }

func (q *queue[T]) put(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.signal()
}

func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next returns the oldest item; ok false when there is none now. closed reports a closed
// and empty queue.
func (q *queue[T]) next() (v T, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.items) {
		v = q.items[q.head]
		var zero T
		q.items[q.head] = zero
		q.head++
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
		}
		return v, true, false
	}
	return v, false, q.closed
}

// ready is signalled when next may have something.
func (q *queue[T]) ready() <-chan struct{} { return q.wake }
