package config

// The Redis key layout (README.md, "Redis key layout", is the admin-facing copy of this).
//
// Configuration lives under one hash tag, {P} (P is the prefix, "sophia" by default), so
// that every write that must change several keys together — a sheet and the number
// index, a number moving between users — is one MULTI/EXEC or Lua script on one Cluster
// slot. It is small and written rarely. Per-call runtime state is tagged by user
// ({<user id>}), so it spreads over the Cluster's slots.
//
//	{P}:rev                   STRING  counter, bumped by every config write
//	{P}:epoch                 STRING  a random name of this data set, set by the first write
//	                                  into an empty one: daemons' caches of sheets are valid
//	                                  for one epoch (a wiped Redis starts another)
//	{P}:site:<id>             STRING  Site JSON (with version)
//	{P}:sites                 ZSET    site ids (score 0: lexicographic paging)
//	{P}:user:<id>             STRING  Sheet JSON (with version)
//	{P}:users                 ZSET    user ids (score 0: lexicographic paging)
//	{P}:site-users:<site>     ZSET    user ids of one site
//	{P}:numbers               HASH    number → user id: every number of a sheet (main and
//	                                  associated), so a number has one owner; only the main
//	                                  and callback numbers route calls to the user
//	{P}:devices               HASH    device endpoint → user id
//	{P}:pins                  HASH    user id → PIN hash (never returned)
//	{P}:media                 HASH    media name → MediaInfo JSON
//	{P}:media:<name>          STRING  the media file's bytes
//	{P}:media-users:<name>    SET     ids of users whose sheet references the media
//	{P}:user-refs:<id>        SET     ids of users whose sheet references user:<id>
//	                                  (forwards, simultaneous ring, supervision keys)
//	{P}:tokens                HASH    token name → Token JSON (name, scope, created, hash)
//	{P}:token-hashes          HASH    SHA-256 (hex) of a token's secret → Token JSON without
//	                                  the hash (Authenticate is one HGET)
//	{P}:audit:<kind>:<id>     LIST    newest first, JSON AuditEntry, trimmed to a bound;
//	                                  kind is user, site, media or token
//	P:changes                 pub/sub JSON Change per write (kind, id, version, op, rev)
//	P:rt:{<uid>}:device       HASH    state (online|offline), endpoint, at (unix ms)
//	P:rt:{<uid>}:calls        ZSET    call id → lease expiry (unix ms); expired ones never count
//	P:rt:{<uid>}:calllog      LIST    newest first, JSON call records, trimmed to a bound
//	P:rt:{<uid>}:presence     HASH    daemon id → "<ringing> <in call> <expiry, unix ms>":
//	                                  what each daemon's calls make of the user (BLF)
//	P:presence                pub/sub "<uid> <daemon id>" when a daemon's share changed
//
// A sheet or site JSON marshals "version" right after "id" (and "site"): the call path's
// script reads it there. A hand edit with redis-cli must keep the JSON valid and bump
// "version" (then the indexes are not updated: change numbers and devices through the
// API). Every key of {P} is on one Cluster slot, so the store's scripts and
// transactions run there; P:changes and P:presence are channels, not keys.
//
// Keys builds every name; nothing else formats a key.
type Keys struct {
	p   string // prefix
	cfg string // "{" + prefix + "}:"
}

// DefaultPrefix is the key prefix when none is configured.
const DefaultPrefix = "sophia"

// NewKeys returns the key names under prefix ("" means DefaultPrefix).
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keys{p: prefix, cfg: "{" + prefix + "}:"}
}

func (k Keys) Prefix() string                { return k.p }
func (k Keys) Rev() string                   { return k.cfg + "rev" }
func (k Keys) Epoch() string                 { return k.cfg + "epoch" }
func (k Keys) Site(id string) string         { return k.cfg + "site:" + id }
func (k Keys) Sites() string                 { return k.cfg + "sites" }
func (k Keys) User(id string) string         { return k.cfg + "user:" + id }
func (k Keys) Users() string                 { return k.cfg + "users" }
func (k Keys) SiteUsers(site string) string  { return k.cfg + "site-users:" + site }
func (k Keys) Numbers() string               { return k.cfg + "numbers" }
func (k Keys) Devices() string               { return k.cfg + "devices" }
func (k Keys) PINs() string                  { return k.cfg + "pins" }
func (k Keys) MediaIndex() string            { return k.cfg + "media" }
func (k Keys) Media(name string) string      { return k.cfg + "media:" + name }
func (k Keys) MediaUsers(name string) string { return k.cfg + "media-users:" + name }
func (k Keys) UserRefs(id string) string     { return k.cfg + "user-refs:" + id }
func (k Keys) Tokens() string                { return k.cfg + "tokens" }
func (k Keys) TokenHashes() string           { return k.cfg + "token-hashes" }
func (k Keys) Audit(kind, id string) string  { return k.cfg + "audit:" + kind + ":" + id }
func (k Keys) Changes() string               { return k.p + ":changes" }
func (k Keys) Device(uid string) string      { return k.p + ":rt:{" + uid + "}:device" }
func (k Keys) Calls(uid string) string       { return k.p + ":rt:{" + uid + "}:calls" }
func (k Keys) CallLog(uid string) string     { return k.p + ":rt:{" + uid + "}:calllog" }
func (k Keys) Presence(uid string) string    { return k.p + ":rt:{" + uid + "}:presence" }
func (k Keys) PresenceNotes() string         { return k.p + ":presence" }
