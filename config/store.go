package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Errors callers branch on (the API maps them to 404, 409 and 409).
var (
	ErrNotFound        = errors.New("not found")
	ErrVersionConflict = errors.New("version conflict: changed since it was read")
	ErrInUse           = errors.New("in use")
)

// InUseError is a refused delete: something still uses what was to be deleted. It
// matches ErrInUse with errors.Is.
type InUseError struct {
	What  string   // "site lyon", "media busy-fr"
	Users []string // the users using it (at most the first few)
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("%s is used by user %s", e.What, strings.Join(e.Users, ", "))
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// DefaultAuditLimit is how many audit entries are kept per object when Options says 0.
const DefaultAuditLimit = 200

// Options configure a Store. The zero value but for Client is a working default.
type Options struct {
	Client     redis.UniversalClient // required: standalone, Sentinel or Cluster
	Prefix     string                // key prefix; "" means DefaultPrefix
	Now        func() time.Time      // the clock (leases, audit); nil means time.Now
	Logger     *slog.Logger          // nil discards
	AuditLimit int                   // entries kept per object; 0 means DefaultAuditLimit
	// PINCost is the bcrypt cost of PIN hashes; 0 means bcrypt.DefaultCost (10: about
	// 50 ms a hash). Tests lower it.
	PINCost int
	// CallLogLimit is how many call records each user's call log keeps; 0 means
	// DefaultCallLogLimit.
	CallLogLimit int
}

func (o *Options) validate() error {
	if o.Client == nil {
		return errors.New("config.Options: Client is required")
	}
	if strings.ContainsAny(o.Prefix, "{}: \t\r\n") {
		return fmt.Errorf("config.Options: prefix %q must not contain braces, colons or blanks", o.Prefix)
	}
	if o.PINCost != 0 && (o.PINCost < bcrypt.MinCost || o.PINCost > bcrypt.MaxCost) {
		return fmt.Errorf("config.Options: PINCost %d is not a bcrypt cost (%d to %d)", o.PINCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if o.CallLogLimit < 0 {
		return fmt.Errorf("config.Options: CallLogLimit %d is negative", o.CallLogLimit)
	}
	if o.AuditLimit < 0 {
		return fmt.Errorf("config.Options: AuditLimit %d is negative", o.AuditLimit)
	}
	return nil
}

// Store keeps sites, user sheets, media, tokens and PINs in Redis (key layout: keys.go),
// and serves the call path (CallView). It is safe for use by many goroutines; all its
// state is in Redis but for a cache of compiled sheets, checked against Redis on every
// read.
//
// Every write is validated, then applied by one Lua script (store_tx.go) on the {P}
// slot that first re-checks every fact the validation relied on (the stored object, the
// number and device owners, that referenced users and media exist) and only then writes
// the object and every index, bumps {P}:rev, appends the audit entry and publishes the
// Change. A fact that changed in between makes the script refuse and the write start
// over, so no write is lost, no index is half-updated, and of two writers claiming one
// number exactly one wins (the other gets a validation problem naming the owner).
type Store struct {
	rdb          redis.UniversalClient
	keys         Keys
	now          func() time.Time
	log          *slog.Logger
	auditLimit   int
	pinCost      int
	callLogLimit int

	views viewCache // compiled sheets of the call path (store_callview.go)
	// viewIndexes is the index a call view is read through, by viewIndex: {P}:numbers
	// (also the unused KEYS[1] of a read by user id), {P}:devices. Built once: the call
	// path allocates no key it can avoid.
	viewIndexes [byDevice + 1]string
	epochKey    string      // {P}:epoch, named once: the call-view script reads it on every call
	noEvalRO    atomic.Bool // the server has no EVALSHA_RO (Redis < 7.0): use EVALSHA

	defaultMu sync.Mutex
	defaultOK bool // the default site is known to exist in Redis
}

// New returns a Store over o.Client. It does not touch Redis: sophiad starts while Redis
// is unreachable, and every method reports the outage in its own error. It adds a hook
// to the client (a dial empties the call-view cache); for a Cluster, create the Store
// before the client's first command.
func New(o Options) (*Store, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		rdb:        o.Client,
		keys:       NewKeys(o.Prefix),
		now:        o.Now,
		log:        o.Logger,
		auditLimit: o.AuditLimit,
		pinCost:    o.PINCost,
	}
	if s.pinCost == 0 {
		s.pinCost = bcrypt.DefaultCost
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.auditLimit == 0 {
		s.auditLimit = DefaultAuditLimit
	}
	s.callLogLimit = o.CallLogLimit
	if s.callLogLimit == 0 {
		s.callLogLimit = DefaultCallLogLimit
	}
	s.views.init()
	s.viewIndexes = [...]string{byUser: s.keys.Numbers(), byNumber: s.keys.Numbers(), byDevice: s.keys.Devices()}
	s.epochKey = s.keys.Epoch()
	return s, nil
}

// Keys returns the key names the store uses.
func (s *Store) Keys() Keys { return s.keys }

// Ping checks that Redis answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Rev returns the configuration revision, bumped by every write: a subscriber that may
// have missed a Change (a reconnect) compares it with the last it saw.
func (s *Store) Rev(ctx context.Context) (int64, error) {
	n, err := s.rdb.Get(ctx, s.keys.Rev()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read config revision: %w", err)
	}
	return n, nil
}

// maxAttempts bounds how often a write starts over because what it read changed (each
// time because another write succeeded, so the system as a whole makes progress).
const maxAttempts = 200

// retryStale runs attempt, which reads what it needs and writes with s.run, again while
// it fails on errStale (what it read changed before its write), backing off between
// tries, up to maxAttempts times.
func retryStale(ctx context.Context, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if !errors.Is(err, errStale) || n >= maxAttempts {
			return err
		}
		if err := backoff(ctx, n); err != nil {
			return err
		}
	}
}

// backoff waits a little before attempt n starts over, more as n grows, with jitter so
// that racing writers spread out; it returns ctx's error if ctx ends first.
func backoff(ctx context.Context, n int) error {
	ceiling := min(time.Duration(n+1)*200*time.Microsecond, 20*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ParseRedisURL returns a client for a Redis URL in one of these forms:
//
//	redis://[[user]:password@]host[:port][/db][?option=value…]   a standalone server
//	rediss://…                                                   the same over TLS
//	unix://[[user]:password@]/path/redis.sock[?db=N]             a local socket
//	redis+cluster://[[user]:password@]host1:port,host2:port[?…]  a Cluster (seed nodes)
//	redis://host1:port,host2:port[?…]                            also a Cluster
//	redis://host1:port?addr=host2:port&addr=host3:port           also a Cluster (go-redis's form)
//	redis+sentinel://[[user]:password@]s1:26379,s2:26379/master[/db][?…]
//	                                                             Sentinel: the sentinels, then the master's name
//	rediss+cluster://…, rediss+sentinel://…                      over TLS
//
// Options are go-redis's URL options (dial_timeout=3s, pool_size=20, …). For Sentinel,
// the URL's user and password authenticate to the master and to the sentinels alike; a
// sentinel without a port is on 26379.
func ParseRedisURL(raw string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redis URL %q: no scheme (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://)", redact(raw))
	}
	base, kind, _ := strings.Cut(scheme, "+")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hostlist := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(hostlist, ",")
	switch {
	case base == "unix":
	case base != "redis" && base != "rediss":
		return nil, fmt.Errorf("redis URL %q: unknown scheme %q", redact(raw), scheme)
	case kind == "" && len(hosts) > 1:
		kind = "cluster"
	}
	// The go-redis parsers take one host and the others as addr= options.
	withAddrs := func(path string, query url.Values) string {
		for _, h := range hosts[1:] {
			query.Add("addr", h)
		}
		u := base + "://" + userinfo + hosts[0] + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		return u
	}
	path, rawQuery, _ := strings.Cut(tail, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
	}
	switch kind {
	case "":
		if query.Has("addr") {
			o, err := redis.ParseClusterURL(raw)
			if err != nil {
				return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
			}
			return redis.NewClusterClient(o), nil
		}
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		return redis.NewClient(o), nil
	case "cluster":
		if path != "" && path != "/" {
			return nil, fmt.Errorf("redis URL %q: a Cluster has no database number", redact(raw))
		}
		o, err := redis.ParseClusterURL(withAddrs("", query))
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		return redis.NewClusterClient(o), nil
	case "sentinel":
		for i, h := range hosts {
			if _, _, err := net.SplitHostPort(h); err != nil {
				hosts[i] = net.JoinHostPort(h, "26379")
			}
		}
		parts := strings.Split(strings.Trim(path, "/"), "/")
		if parts[0] == "" || len(parts) > 2 {
			return nil, fmt.Errorf("redis URL %q: want redis+sentinel://sentinel1,sentinel2/<master name>[/db]", redact(raw))
		}
		query.Set("master_name", parts[0])
		db := ""
		if len(parts) == 2 {
			db = "/" + parts[1]
		}
		o, err := redis.ParseFailoverURL(withAddrs(db, query))
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %w", redact(raw), err)
		}
		if o.Password == "" && o.Username == "" {
			o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
		}
		return redis.NewFailoverClient(o), nil
	default:
		return nil, fmt.Errorf("redis URL %q: unknown scheme %q", redact(raw), scheme)
	}
}

// redact hides a URL's password for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
