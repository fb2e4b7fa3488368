package config

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Runtime state is per user, under P:rt:{<uid>}:…, so that it spreads over a Cluster's
// slots; it is written by the PBX adapters (device events, call leases), never audited
// and never published.

// SetDeviceState records the state of a device endpoint as the PBX reported it, and
// returns the user it belongs to (ErrNotFound when no sheet holds the endpoint).
func (s *Store) SetDeviceState(ctx context.Context, endpoint string, st DeviceState) (string, error) {
	uid, err := s.rdb.HGet(ctx, s.keys.Devices(), endpoint).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("device %q: %w", endpoint, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("look up device %q: %w", endpoint, err)
	}
	err = s.rdb.HSet(ctx, s.keys.Device(uid),
		"state", st.String(),
		"at", strconv.FormatInt(s.now().UnixMilli(), 10),
		"endpoint", endpoint).Err()
	if err != nil {
		return "", fmt.Errorf("record state of device %q: %w", endpoint, err)
	}
	return uid, nil
}

// AcquireCall counts call callID as active for user uid until now+lease (renew it before
// then with RenewCall) and returns the user's active calls including this one. Expired
// leases never count and are pruned here: a daemon that dies mid-call leaves no count
// stuck beyond its lease.
func (s *Store) AcquireCall(ctx context.Context, uid, callID string, lease time.Duration) (int, error) {
	if lease <= 0 {
		return 0, fmt.Errorf("acquire call %q: lease %v must be positive", callID, lease)
	}
	now := s.now().UnixMilli()
	key := s.keys.Calls(uid)
	var count *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now, 10))
		p.ZAdd(ctx, key, redis.Z{Score: float64(now + lease.Milliseconds()), Member: callID})
		count = p.ZCount(ctx, key, "("+strconv.FormatInt(now, 10), "+inf")
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("acquire call %q of user %q: %w", callID, uid, err)
	}
	return int(count.Val()), nil
}

// RenewCall extends the lease of an active call to now+lease; ErrNotFound if the call
// holds no lease (released, or expired and pruned).
func (s *Store) RenewCall(ctx context.Context, uid, callID string, lease time.Duration) error {
	now := s.now().UnixMilli()
	n, err := s.rdb.ZAddArgs(ctx, s.keys.Calls(uid), redis.ZAddArgs{
		XX: true, Ch: true,
		Members: []redis.Z{{Score: float64(now + lease.Milliseconds()), Member: callID}},
	}).Result()
	if err != nil {
		return fmt.Errorf("renew call %q of user %q: %w", callID, uid, err)
	}
	if n == 0 {
		// XX with CH counts 0 both for a missing member and an unchanged score.
		if _, err := s.rdb.ZScore(ctx, s.keys.Calls(uid), callID).Result(); errors.Is(err, redis.Nil) {
			return fmt.Errorf("call %q of user %q: %w", callID, uid, ErrNotFound)
		}
	}
	return nil
}

// ReleaseCall ends a call's lease (releasing an unknown call does nothing).
func (s *Store) ReleaseCall(ctx context.Context, uid, callID string) error {
	if err := s.rdb.ZRem(ctx, s.keys.Calls(uid), callID).Err(); err != nil {
		return fmt.Errorf("release call %q of user %q: %w", callID, uid, err)
	}
	return nil
}

// ActiveCalls returns the user's unexpired call leases.
func (s *Store) ActiveCalls(ctx context.Context, uid string) (int, error) {
	n, err := s.rdb.ZCount(ctx, s.keys.Calls(uid), "("+strconv.FormatInt(s.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("count calls of user %q: %w", uid, err)
	}
	return int(n), nil
}
