package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxMediaBytes bounds one media file (a WAV of 16-bit 8 kHz mono is 16 kB/s: 32 MiB is
// over half an hour; a CD-quality hold music loop of 3 minutes is 32 MiB).
const MaxMediaBytes = 32 << 20

// MediaInfo describes a file of the media library.
type MediaInfo struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	SHA256     string      `json:"sha256"` // hex; also a good HTTP ETag
	Format     AudioFormat `json:"format"`
	DurationMS int64       `json:"duration_ms"`
	CreatedAt  time.Time   `json:"created_at"`
}

// PutMedia stores (or replaces) a file of the media library. Only WAV PCM is accepted;
// anything else is a *ValidationError saying why (path "name" or "file").
func (s *Store) PutMedia(ctx context.Context, name string, data []byte, actor string) (*MediaInfo, error) {
	var ps problems
	ps.id("name", name)
	if len(data) > MaxMediaBytes {
		ps.addf("file", "%d bytes is more than the %d a media file may hold", len(data), MaxMediaBytes)
	}
	format, ms, err := ParseWAV(data)
	if err != nil && len(data) <= MaxMediaBytes {
		ps.add("file", err.Error())
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	info := &MediaInfo{
		Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		Format: format, DurationMS: ms, CreatedAt: s.now().UTC().Truncate(time.Millisecond),
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("marshal media info: %w", err)
	}
	err = retryStale(ctx, func() error {
		old, raw, err := s.mediaInfo(ctx, name)
		if err != nil {
			return err
		}
		t := newTx()
		t.check("hget", s.keys.MediaIndex(), name, raw)
		t.op("set", s.keys.Media(name), string(data), "")
		t.op("hset", s.keys.MediaIndex(), name, string(infoJSON))
		op := OpCreate
		if old != nil {
			op = OpUpdate
		}
		s.record(t, KindMedia, name, actor, op, 0, diff(old, info, "created_at"))
		if _, err := s.run(ctx, t); err != nil {
			return fmt.Errorf("write media %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (s *Store) mediaInfo(ctx context.Context, name string) (*MediaInfo, string, error) {
	raw, err := s.rdb.HGet(ctx, s.keys.MediaIndex(), name).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read media %q: %w", name, err)
	}
	var m MediaInfo
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, "", fmt.Errorf("decode media %q: %w", name, err)
	}
	return &m, raw, nil
}

// GetMedia returns a media file's bytes and description, or ErrNotFound.
func (s *Store) GetMedia(ctx context.Context, name string) ([]byte, *MediaInfo, error) {
	pipe := s.rdb.Pipeline()
	infoCmd := pipe.HGet(ctx, s.keys.MediaIndex(), name)
	dataCmd := pipe.Get(ctx, s.keys.Media(name))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("read media %q: %w", name, err)
	}
	raw, err := infoCmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("media %q: %w", name, ErrNotFound)
	}
	data, err2 := dataCmd.Bytes()
	if err != nil || err2 != nil {
		return nil, nil, fmt.Errorf("read media %q: %w", name, errors.Join(err, err2))
	}
	var m MediaInfo
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, nil, fmt.Errorf("decode media %q: %w", name, err)
	}
	return data, &m, nil
}

// ListMedia returns the library's descriptions, by name.
func (s *Store) ListMedia(ctx context.Context) ([]*MediaInfo, error) {
	all, err := s.rdb.HGetAll(ctx, s.keys.MediaIndex()).Result()
	if err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	out := make([]*MediaInfo, 0, len(all))
	for name, raw := range all {
		var m MediaInfo
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("decode media %q: %w", name, err)
		}
		out = append(out, &m)
	}
	slices.SortFunc(out, func(a, b *MediaInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// MediaUsers returns the ids of the users whose sheet references a media file.
func (s *Store) MediaUsers(ctx context.Context, name string) ([]string, error) {
	users, err := s.rdb.SMembers(ctx, s.keys.MediaUsers(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("read users of media %q: %w", name, err)
	}
	slices.Sort(users)
	return users, nil
}

// DeleteMedia deletes a media file, refused with an *InUseError naming the users whose
// sheet references it.
func (s *Store) DeleteMedia(ctx context.Context, name, actor string) error {
	err := retryStale(ctx, func() error {
		old, raw, err := s.mediaInfo(ctx, name)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("media %q: %w", name, ErrNotFound)
		}
		users, err := s.MediaUsers(ctx, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &InUseError{What: "media " + name, Users: users[:min(len(users), 10)]}
		}
		t := newTx()
		t.check("hget", s.keys.MediaIndex(), name, raw)
		t.check("scard", s.keys.MediaUsers(name), "", "0")
		t.op("del", s.keys.Media(name), "", "")
		t.op("hdel", s.keys.MediaIndex(), name, "")
		s.record(t, KindMedia, name, actor, OpDelete, 0, nil)
		if _, err := s.run(ctx, t); err != nil {
			return fmt.Errorf("delete media %q: %w", name, err)
		}
		return nil
	})
	return err
}
