package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ListOptions page through a list ordered by id: After is the last id of the previous
// page ("" for the first), Limit the page size (0 means 50, at most 500).
type ListOptions struct {
	After string
	Limit int
}

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// decodeSite decodes a stored site (our own JSON; fields a hand edit left out keep
// DefaultSite's values).
func decodeSite(raw string) (*Site, error) {
	s := DefaultSite()
	s.ID, s.Name = "", ""
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// readSite returns a site and its stored JSON ("" when absent).
func (s *Store) readSite(ctx context.Context, id string) (*Site, string, error) {
	raw, err := s.rdb.Get(ctx, s.keys.Site(id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read site %q: %w", id, err)
	}
	site, err := decodeSite(raw)
	if err != nil {
		return nil, "", fmt.Errorf("decode site %q: %w", id, err)
	}
	return site, raw, nil
}

// GetSite returns a site, or ErrNotFound. The default site always exists: the first
// read creates it in Redis with DefaultSite's values.
func (s *Store) GetSite(ctx context.Context, id string) (*Site, error) {
	site, _, err := s.readSite(ctx, id)
	if err != nil {
		return nil, err
	}
	if site == nil && id == DefaultSiteID {
		if err := s.ensureDefault(ctx); err != nil {
			return nil, err
		}
		site, _, err = s.readSite(ctx, id)
		if err != nil {
			return nil, err
		}
	}
	if site == nil {
		return nil, fmt.Errorf("site %q: %w", id, ErrNotFound)
	}
	return site, nil
}

// ensureDefault creates the default site if it does not exist.
func (s *Store) ensureDefault(ctx context.Context) error {
	s.defaultMu.Lock()
	defer s.defaultMu.Unlock()
	t := newTx()
	t.check("get", s.keys.Site(DefaultSiteID), "", "")
	s.createDefaultOps(t)
	if _, err := s.run(ctx, t); err != nil && !errors.Is(err, errStale) {
		return fmt.Errorf("create the default site: %w", err)
	}
	s.defaultOK = true // created now, or it existed (stale)
	return nil
}

// createDefaultOps adds the creation of the default site to t (which checks it is absent).
func (s *Store) createDefaultOps(t *tx) {
	d := DefaultSite()
	d.Version = 1
	data, _ := json.Marshal(d)
	t.op("set", s.keys.Site(DefaultSiteID), string(data), "")
	t.op("zadd", s.keys.Sites(), DefaultSiteID, "")
	s.record(t, KindSite, DefaultSiteID, "sophia", OpCreate, 1, nil)
}

// PutSite creates (site.Version 0) or replaces (site.Version = the stored version) a
// site, normalized and validated, and returns it as stored. A stale version, or 0 for a
// site that exists, is ErrVersionConflict; an update of a missing site ErrNotFound.
func (s *Store) PutSite(ctx context.Context, in *Site, actor string) (*Site, error) {
	var site Site
	err := retryStale(ctx, func() error {
		site = *in
		site.OutsideCalls.Allow = append([]string(nil), in.OutsideCalls.Allow...)
		site.OutsideCalls.Block = append([]string(nil), in.OutsideCalls.Block...)
		site.Normalize()
		if err := site.Validate(); err != nil {
			return err
		}
		old, raw, err := s.readSite(ctx, site.ID)
		if err != nil {
			return err
		}
		switch {
		case old == nil && site.Version != 0:
			return fmt.Errorf("site %q: %w", site.ID, ErrNotFound)
		case old != nil && old.Version != site.Version:
			return fmt.Errorf("site %q is at version %d, not %d: %w", site.ID, old.Version, site.Version, ErrVersionConflict)
		}
		site.Version++
		data, err := json.Marshal(&site)
		if err != nil {
			return fmt.Errorf("marshal site %q: %w", site.ID, err)
		}
		t := newTx()
		t.check("get", s.keys.Site(site.ID), "", raw)
		t.op("set", s.keys.Site(site.ID), string(data), "")
		t.op("zadd", s.keys.Sites(), site.ID, "")
		op, before := OpUpdate, any(old)
		if old == nil {
			op = OpCreate
			d := DefaultSite()
			d.ID, d.Name = site.ID, ""
			before = &d
		}
		s.record(t, KindSite, site.ID, actor, op, site.Version, diff(before, &site, "version"))
		if _, err := s.run(ctx, t); err != nil {
			return fmt.Errorf("write site %q: %w", site.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &site, nil
}

// DeleteSite deletes a site (version: the stored version, or 0 for any). A site users
// still belong to is refused with an *InUseError naming them; the default site cannot
// be deleted.
func (s *Store) DeleteSite(ctx context.Context, id string, version int64, actor string) error {
	if id == DefaultSiteID {
		return &ValidationError{Problems: []Problem{{"id", "the default site cannot be deleted"}}}
	}
	err := retryStale(ctx, func() error {
		old, raw, err := s.readSite(ctx, id)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("site %q: %w", id, ErrNotFound)
		}
		if version != 0 && old.Version != version {
			return fmt.Errorf("site %q is at version %d, not %d: %w", id, old.Version, version, ErrVersionConflict)
		}
		users, err := s.rdb.ZRange(ctx, s.keys.SiteUsers(id), 0, 9).Result()
		if err != nil {
			return fmt.Errorf("read users of site %q: %w", id, err)
		}
		if len(users) > 0 {
			return &InUseError{What: "site " + id, Users: users}
		}
		t := newTx()
		t.check("get", s.keys.Site(id), "", raw)
		t.check("zcard", s.keys.SiteUsers(id), "", "0")
		t.op("del", s.keys.Site(id), "", "")
		t.op("zrem", s.keys.Sites(), id, "")
		s.record(t, KindSite, id, actor, OpDelete, 0, nil)
		if _, err := s.run(ctx, t); err != nil {
			return fmt.Errorf("delete site %q: %w", id, err)
		}
		return nil
	})
	return err
}

// ListSites returns a page of sites ordered by id, and the After of the next page (""
// when this one is the last).
func (s *Store) ListSites(ctx context.Context, o ListOptions) ([]*Site, string, error) {
	s.defaultMu.Lock()
	ok := s.defaultOK
	s.defaultMu.Unlock()
	if !ok {
		if err := s.ensureDefault(ctx); err != nil {
			return nil, "", err
		}
	}
	limit := pageLimit(o.Limit)
	ids, err := s.rdb.ZRangeByLex(ctx, s.keys.Sites(), &redis.ZRangeBy{
		Min: lexAfter(o.After), Max: "+", Count: int64(limit + 1),
	}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list sites: %w", err)
	}
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	if len(ids) == 0 {
		return []*Site{}, "", nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.keys.Site(id)
	}
	raws, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, "", fmt.Errorf("read sites: %w", err)
	}
	out := make([]*Site, 0, len(ids))
	for i, r := range raws {
		str, ok := r.(string)
		if !ok {
			continue // deleted between the two reads
		}
		site, err := decodeSite(str)
		if err != nil {
			return nil, "", fmt.Errorf("decode site %q: %w", ids[i], err)
		}
		out = append(out, site)
	}
	return out, next, nil
}

// lexAfter is the ZRANGEBYLEX minimum for the ids after after.
func lexAfter(after string) string {
	if after == "" {
		return "-"
	}
	return "(" + after
}
