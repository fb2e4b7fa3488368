package config

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Scope kinds: what a token may see and change.
const (
	ScopeAll  = "all"  // everything
	ScopeSite = "site" // one site and its users
	ScopeUser = "user" // one user's own sheet (self-service)
)

// Scope is a token's reach.
type Scope struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"` // the site or user id (Kind site or user)
}

// Token is an API bearer token as listed: never its secret nor the secret's hash.
type Token struct {
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// tokenRecord is a token as stored in {P}:tokens: with the secret's hash, so that
// deleting the token can delete its {P}:token-hashes entry.
type tokenRecord struct {
	Token
	Hash string `json:"hash"`
}

// TokenPrefix starts every secret CreateToken makes, so that a leaked one is
// recognizable (secret scanners, logs).
const TokenPrefix = "sph_"

// MinTokenSecret is the shortest secret EnsureToken accepts (SOPHIA_ADMIN_TOKEN).
const MinTokenSecret = 16

// tokenHash is the SHA-256 of a secret, hex. A secret CreateToken makes has 256 random
// bits: no password-style slow hash is needed, since guessing it is hopeless either way,
// and a fast hash keeps Authenticate (every API request) one HGET and one SHA-256.
func tokenHash(secret Secret) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func (s *Store) checkScope(ctx context.Context, sc Scope) error {
	var ps problems
	switch sc.Kind {
	case ScopeAll:
		ps.need(sc.ID == "", "scope.id", "must be empty for scope all")
	case ScopeSite:
		if ps.id("scope.id", sc.ID); len(ps) == 0 {
			if _, err := s.GetSite(ctx, sc.ID); errors.Is(err, ErrNotFound) {
				ps.addf("scope.id", "no site %q", sc.ID)
			} else if err != nil {
				return err
			}
		}
	case ScopeUser:
		if ps.id("scope.id", sc.ID); len(ps) == 0 {
			if _, err := s.GetUser(ctx, sc.ID); errors.Is(err, ErrNotFound) {
				ps.addf("scope.id", "no user %q", sc.ID)
			} else if err != nil {
				return err
			}
		}
	default:
		ps.add("scope.kind", "must be one of all, site, user")
	}
	return ps.err()
}

// CreateToken makes a token named name (unique, an id) with a fresh random secret,
// returned once: only its hash is stored.
func (s *Store) CreateToken(ctx context.Context, name string, scope Scope, actor string) (*Token, Secret, error) {
	var ps problems
	ps.id("name", name)
	if err := ps.err(); err != nil {
		return nil, "", err
	}
	if err := s.checkScope(ctx, scope); err != nil {
		return nil, "", err
	}
	if rec, _, err := s.tokenRecord(ctx, name); err != nil {
		return nil, "", err
	} else if rec != nil {
		return nil, "", &ValidationError{Problems: []Problem{{"name", fmt.Sprintf("a token named %q already exists", name)}}}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("token secret: %w", err)
	}
	secret := Secret(TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]))
	tok := &Token{Name: name, Scope: scope, CreatedAt: s.now().UTC().Truncate(time.Second), CreatedBy: actor}
	if err := s.putToken(ctx, tok, tokenHash(secret), "", actor); err != nil {
		return nil, "", err
	}
	return tok, secret, nil
}

// putToken stores tok (replacing the stored record oldRaw, "" to create).
func (s *Store) putToken(ctx context.Context, tok *Token, hash, oldRaw, actor string) error {
	rec, err := json.Marshal(tokenRecord{Token: *tok, Hash: hash})
	if err != nil {
		return fmt.Errorf("marshal token: %w", err)
	}
	pub, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("marshal token: %w", err)
	}
	t := newTx()
	t.check("hget", s.keys.Tokens(), tok.Name, oldRaw)
	op := OpCreate
	var before any
	if oldRaw != "" {
		var old tokenRecord
		if err := json.Unmarshal([]byte(oldRaw), &old); err == nil {
			t.op("hdel", s.keys.TokenHashes(), old.Hash, "")
			before = &old.Token
		}
		op = OpUpdate
	}
	t.op("hset", s.keys.Tokens(), tok.Name, string(rec))
	t.op("hset", s.keys.TokenHashes(), hash, string(pub))
	s.record(t, KindToken, tok.Name, actor, op, 0, diff(before, tok, "created_at"))
	_, err = s.run(ctx, t)
	if errors.Is(err, errStale) {
		return &ValidationError{Problems: []Problem{{"name", fmt.Sprintf("a token named %q already exists", tok.Name)}}}
	}
	if err != nil {
		return fmt.Errorf("write token %q: %w", tok.Name, err)
	}
	return nil
}

// Authenticate returns the token whose secret this is, or ErrNotFound: one HGET of the
// secret's SHA-256 (the API calls it on every request).
func (s *Store) Authenticate(ctx context.Context, secret Secret) (*Token, error) {
	if secret == "" {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	raw, err := s.rdb.HGet(ctx, s.keys.TokenHashes(), tokenHash(secret)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	var tok Token
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		return nil, fmt.Errorf("decode token: %w", err)
	}
	return &tok, nil
}

func (s *Store) tokenRecord(ctx context.Context, name string) (*tokenRecord, string, error) {
	raw, err := s.rdb.HGet(ctx, s.keys.Tokens(), name).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read token %q: %w", name, err)
	}
	var rec tokenRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, "", fmt.Errorf("decode token %q: %w", name, err)
	}
	return &rec, raw, nil
}

// ListTokens returns every token by name, without secrets or hashes.
func (s *Store) ListTokens(ctx context.Context) ([]*Token, error) {
	all, err := s.rdb.HGetAll(ctx, s.keys.Tokens()).Result()
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]*Token, 0, len(all))
	for name, raw := range all {
		var rec tokenRecord
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return nil, fmt.Errorf("decode token %q: %w", name, err)
		}
		tok := rec.Token
		out = append(out, &tok)
	}
	slices.SortFunc(out, func(a, b *Token) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteToken revokes a token at once, for every daemon (ErrNotFound if none has the name).
func (s *Store) DeleteToken(ctx context.Context, name, actor string) error {
	rec, raw, err := s.tokenRecord(ctx, name)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("token %q: %w", name, ErrNotFound)
	}
	t := newTx()
	t.check("hget", s.keys.Tokens(), name, raw)
	t.op("hdel", s.keys.Tokens(), name, "")
	t.op("hdel", s.keys.TokenHashes(), rec.Hash, "")
	s.record(t, KindToken, name, actor, OpDelete, 0, nil)
	if _, err := s.run(ctx, t); errors.Is(err, errStale) {
		return fmt.Errorf("token %q changed while being deleted: %w", name, ErrVersionConflict)
	} else if err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	return nil
}

// EnsureToken makes the token name have this secret and scope (SOPHIA_ADMIN_TOKEN at
// start): nothing is written when it already does, so every daemon may call it.
func (s *Store) EnsureToken(ctx context.Context, name string, secret Secret, scope Scope) error {
	var ps problems
	ps.id("name", name)
	ps.need(len(secret) >= MinTokenSecret, "secret", fmt.Sprintf("must be at least %d characters", MinTokenSecret))
	if err := ps.err(); err != nil {
		return err
	}
	if err := s.checkScope(ctx, scope); err != nil {
		return err
	}
	hash := tokenHash(secret)
	for attempt := 0; ; attempt++ {
		rec, raw, err := s.tokenRecord(ctx, name)
		if err != nil {
			return err
		}
		if rec != nil && rec.Hash == hash && rec.Scope == scope {
			return nil
		}
		tok := &Token{Name: name, Scope: scope, CreatedAt: s.now().UTC().Truncate(time.Second), CreatedBy: "sophiad"}
		err = s.putToken(ctx, tok, hash, raw, "sophiad")
		var ve *ValidationError
		if errors.As(err, &ve) && attempt < 3 {
			continue // another daemon ensured it meanwhile: check again
		}
		return err
	}
}

// HasTokens reports whether any token exists (first start: make an admin token).
func (s *Store) HasTokens(ctx context.Context) (bool, error) {
	n, err := s.rdb.HLen(ctx, s.keys.Tokens()).Result()
	if err != nil {
		return false, fmt.Errorf("count tokens: %w", err)
	}
	return n > 0, nil
}

var pinRE = regexp.MustCompile(`^[0-9]{4,12}$`)

// SetPIN sets a user's voicemail PIN (4 to 12 digits), stored as a bcrypt hash in
// {P}:pins and never returned; the audit records "pin changed" without the value.
func (s *Store) SetPIN(ctx context.Context, uid string, pin Secret, actor string) error {
	if !pinRE.MatchString(string(pin)) {
		return &ValidationError{Problems: []Problem{{"pin", "must be 4 to 12 digits"}}}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), s.pinCost)
	if err != nil {
		return fmt.Errorf("hash PIN: %w", err)
	}
	err = retryStale(ctx, func() error {
		cur, err := s.readUsers(ctx, []string{uid})
		if err != nil {
			return err
		}
		if cur[0].sheet == nil {
			return fmt.Errorf("user %q: %w", uid, ErrNotFound)
		}
		t := newTx()
		t.check("get", s.keys.User(uid), "", cur[0].raw)
		t.op("hset", s.keys.PINs(), uid, string(hash))
		s.record(t, KindUser, uid, actor, OpPIN, cur[0].sheet.Version, nil)
		if _, err := s.run(ctx, t); err != nil {
			return fmt.Errorf("set PIN of user %q: %w", uid, err)
		}
		return nil
	})
	return err
}

// CheckPIN reports whether pin is the user's PIN (false when none is set). Callers limit
// attempts: a 4-digit PIN is guessable by anyone allowed to try often.
func (s *Store) CheckPIN(ctx context.Context, uid string, pin Secret) (bool, error) {
	hash, err := s.rdb.HGet(ctx, s.keys.PINs(), uid).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read PIN of user %q: %w", uid, err)
	}
	err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pin))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check PIN of user %q: %w", uid, err)
	}
	return true, nil
}
