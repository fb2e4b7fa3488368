package config

import (
	"context"
	"encoding/json"
	"fmt"
)

// Watch subscribes to the changes every daemon publishes on P:changes and returns them
// on a channel, once the subscription is active (a write after Watch returns is seen).
// The channel is closed when ctx ends; its goroutine ends with it. go-redis resubscribes
// after a lost connection, but what was published meanwhile is lost: a subscriber that
// must not miss a change compares Change.Rev (or Store.Rev) with the last it saw.
func (s *Store) Watch(ctx context.Context) (<-chan Change, error) {
	return subscribe(ctx, s, s.keys.Changes(), func(payload string) (Change, bool) {
		var c Change
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			s.log.Warn("undecodable change notification", "channel", s.keys.Changes(), "err", err)
			return c, false
		}
		return c, true
	})
}

// subscribe delivers the messages of a pub/sub channel, decoded (a message decode
// refuses is dropped), once the subscription is active, until ctx ends.
func subscribe[T any](ctx context.Context, s *Store, channel string, decode func(string) (T, bool)) (<-chan T, error) {
	sub := s.rdb.Subscribe(ctx, channel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	out := make(chan T, 64)
	msgs := sub.Channel()
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				v, ok := decode(m.Payload)
				if !ok {
					continue
				}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
