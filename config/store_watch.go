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
	sub := s.rdb.Subscribe(ctx, s.keys.Changes())
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", s.keys.Changes(), err)
	}
	out := make(chan Change, 64)
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
				var c Change
				if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
					s.log.Warn("undecodable change notification", "channel", m.Channel, "err", err)
					continue
				}
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
