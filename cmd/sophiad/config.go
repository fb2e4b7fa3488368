package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/esl"
	"github.com/sophia-pbx/sophia/switchboard"
)

// ariOptions returns the adapter's options from the configuration (board nil: only
// to validate).
// apiAddr is the API's bound address, for the default media URL.
func (c *Config) ariOptions(board *switchboard.Board, apiAddr string) ari.Options {
	media := c.ARIMedia
	if media == "" {
		media = defaultMedia(apiAddr)
	}
	return ari.Options{URL: c.ARIURL, User: c.ARIUser, Password: c.ARIPassword, App: c.ARIApp,
		Trunk: c.ARITrunk, Media: media, ConfirmPrompt: c.ARIConfirmPrompt, Board: board}
}

// eslOptions returns the FreeSWITCH adapter's options from the configuration (board and
// store nil: only to validate). apiAddr is the API's bound address, for the default
// media URL.
func (c *Config) eslOptions(board *switchboard.Board, store *config.Store, apiAddr string) esl.Options {
	media := c.ESLMedia
	if media == "" {
		media = defaultMedia(apiAddr)
	}
	return esl.Options{Listen: c.ESLListen, Addr: c.ESLAddr, Password: c.ESLPassword, Gateway: c.ESLGateway,
		Media: media, ConfirmPrompt: c.ESLConfirmPrompt, Board: board, Store: store}
}

// defaultMedia is sophiad's public media route as a PBX on the same host reaches it.
func defaultMedia(apiAddr string) string {
	host, port, _ := net.SplitHostPort(apiAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/media"
}

// FreeSWITCH reports whether a FreeSWITCH is configured.
func (c *Config) FreeSWITCH() bool { return c.ESLListen != "" || c.ESLAddr != "" }

// Config is sophiad's resolved configuration: each flag, else its SOPHIA_* environment
// twin, else the default (README.md, "Configuration").
type Config struct {
	RedisURL        string // "" = the embedded store in DataDir
	RedisPrefix     string
	APIAddr         string
	DataDir         string
	LogFormat       string // json | text
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	Demo            bool
	CheckConfig     bool
	// Asterisk (ARI): ARIURL "" means no Asterisk.
	ARIURL, ARIUser, ARIApp, ARITrunk, ARIMedia string
	ARIPassword                                 config.Secret
	ARIConfirmPrompt                            string // "" = the adapter's default
	// FreeSWITCH (Event Socket): ESLListen "" and ESLAddr "" mean no FreeSWITCH.
	ESLListen, ESLAddr, ESLGateway, ESLMedia string
	ESLPassword                              config.Secret
	ESLConfirmPrompt                         string // "" = the adapter's default
	// UnknownNumber is what happens to a call to a number no user owns: continue (back
	// to the PBX's dialplan) or reject. Region reads national numbers the PBX passes.
	UnknownNumber string
	Region        string
	// AdminToken comes from SOPHIA_ADMIN_TOKEN only (a flag would show in ps): when set,
	// a token named "admin" of scope all with this secret exists after start.
	AdminToken config.Secret
}

// Embedded reports whether sophiad runs its own store.
func (c *Config) Embedded() bool { return c.RedisURL == "" }

// LogValue logs the configuration without secrets: the Redis URL's password is
// masked, the admin token only said to be set.
func (c *Config) LogValue() slog.Value {
	redis := "embedded"
	if !c.Embedded() {
		redis = redactURL(c.RedisURL)
	}
	return slog.GroupValue(
		slog.String("redis", redis),
		slog.String("redis_prefix", c.RedisPrefix),
		slog.String("api_addr", c.APIAddr),
		slog.String("data_dir", c.DataDir),
		slog.String("log_format", c.LogFormat),
		slog.String("log_level", c.LogLevel.String()),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Bool("demo", c.Demo),
		slog.Bool("admin_token_from_env", c.AdminToken != ""),
		slog.String("ari_url", redactURL(c.ARIURL)),
		slog.String("ari_user", c.ARIUser),
		slog.Bool("ari_password_set", c.ARIPassword != ""),
		slog.String("ari_app", c.ARIApp),
		slog.String("ari_trunk", c.ARITrunk),
		slog.String("ari_media", c.ARIMedia),
		slog.String("ari_confirm_prompt", c.ARIConfirmPrompt),
		slog.String("esl_listen", c.ESLListen),
		slog.String("esl_addr", c.ESLAddr),
		slog.Bool("esl_password_set", c.ESLPassword != ""),
		slog.String("esl_gateway", c.ESLGateway),
		slog.String("esl_media", c.ESLMedia),
		slog.String("esl_confirm_prompt", c.ESLConfirmPrompt),
		slog.String("unknown_number", c.UnknownNumber),
		slog.String("region", c.Region),
	)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable]"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// envName is the environment twin of a flag: --api-addr → SOPHIA_API_ADDR.
func envName(flagName string) string {
	return "SOPHIA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// errUsage marks a configuration the user must fix (exit code 2).
var errUsage = errors.New("usage")

// parseConfig resolves args and the environment into a validated Config. Help (-h)
// returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("sophiad", flag.ContinueOnError)
	fs.SetOutput(out)
	var level, format string
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL: redis://, rediss://, redis-sentinel:// or a cluster URL; unset = the embedded store in --data-dir")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", config.DefaultPrefix, "prefix of every Redis key sophia writes")
	fs.StringVar(&c.APIAddr, "api-addr", "127.0.0.1:8080", "address the admin API listens on")
	fs.StringVar(&c.DataDir, "data-dir", "./sophia-data", "directory of the embedded store (unused with --redis-url)")
	fs.StringVar(&format, "log-format", "text", "log format: text or json")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long requests in flight may take to finish at shutdown")
	fs.BoolVar(&c.Demo, "demo", false, "load a sample company (site acme, 5 users, media) if missing")
	fs.BoolVar(&c.CheckConfig, "check-config", false, "validate the configuration, print it and exit")
	var ariPassword string
	fs.StringVar(&c.ARIURL, "ari-url", "", "Asterisk's ARI, e.g. http://127.0.0.1:8088; unset = no Asterisk")
	fs.StringVar(&c.ARIUser, "ari-user", "sophia", "ARI user (ari.conf)")
	fs.StringVar(&ariPassword, "ari-password", "", "ARI password (prefer SOPHIA_ARI_PASSWORD: a flag shows in ps)")
	fs.StringVar(&c.ARIApp, "ari-app", "sophia", "the Stasis application: Stasis(<app>,inbound) and Stasis(<app>,outbound) in extensions.conf")
	fs.StringVar(&c.ARITrunk, "ari-trunk", "", "dial string for outside numbers, {number} standing for the number, e.g. PJSIP/{number}@trunk")
	fs.StringVar(&c.ARIMedia, "ari-media", "", "where Asterisk fetches the media library: an http(s) URL of sophiad's /media (default: http://<api-addr>/media) or a shared directory")
	fs.StringVar(&c.ARIConfirmPrompt, "ari-confirm-prompt", "", "what whoever answers a \"press 1 to accept\" leg hears, as an Asterisk media URI (default sound:beep), e.g. sound:custom/press-1-to-accept")
	var eslPassword string
	fs.StringVar(&c.ESLListen, "esl-listen", "", "where FreeSWITCH's socket application connects, e.g. 127.0.0.1:8084; unset = no FreeSWITCH calls")
	fs.StringVar(&c.ESLAddr, "esl-addr", "", "FreeSWITCH's Event Socket (registrations, presence), e.g. 127.0.0.1:8021; unset = none")
	fs.StringVar(&eslPassword, "esl-password", "", "Event Socket password (event_socket.conf.xml; prefer SOPHIA_ESL_PASSWORD: a flag shows in ps)")
	fs.StringVar(&c.ESLGateway, "esl-gateway", "", "dial string for outside numbers, {number} standing for the number, e.g. sofia/gateway/trunk/{number}")
	fs.StringVar(&c.ESLMedia, "esl-media", "", "where FreeSWITCH fetches the media library: an http(s) URL of sophiad's /media (default: http://<api-addr>/media, through mod_http_cache) or a shared directory")
	fs.StringVar(&c.ESLConfirmPrompt, "esl-confirm-prompt", "", "what whoever answers a \"press 1 to accept\" leg hears, as a FreeSWITCH file (default "+esl.DefaultConfirmPrompt+")")
	fs.StringVar(&c.UnknownNumber, "unknown-number", "continue", "a call to a number no user owns: continue (back to the dialplan) or reject")
	fs.StringVar(&c.Region, "region", "FR", "region to read national numbers the PBX passes (0478000001 → +33478000001)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: sophiad [flags]\n\nEvery flag has an environment twin (--api-addr: SOPHIA_API_ADDR); a flag beats its twin.\nSOPHIA_ADMIN_TOKEN sets the secret of the admin API token.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var problems []string
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := lookupEnv(getenv, envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	c.AdminToken = config.Secret(getenv("SOPHIA_ADMIN_TOKEN"))
	c.ARIPassword = config.Secret(ariPassword)
	c.ESLPassword = config.Secret(eslPassword)
	c.LogFormat = format
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		problems = append(problems, fmt.Sprintf("log-level %q: want debug, info, warn or error", level))
	}
	problems = append(problems, c.validate()...)
	if problems != nil {
		return nil, fmt.Errorf("%w: %s", errUsage, strings.Join(problems, "; "))
	}
	return c, nil
}

// lookupEnv treats an empty variable as unset.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func (c *Config) validate() []string {
	var ps []string
	if c.LogFormat != "text" && c.LogFormat != "json" {
		ps = append(ps, fmt.Sprintf("log-format %q: want text or json", c.LogFormat))
	}
	if _, _, err := net.SplitHostPort(c.APIAddr); err != nil {
		ps = append(ps, fmt.Sprintf("api-addr %q: want host:port", c.APIAddr))
	}
	if c.Embedded() && c.DataDir == "" {
		ps = append(ps, "data-dir: required for the embedded store (or set --redis-url)")
	}
	if !c.Embedded() {
		cl, err := config.ParseRedisURL(c.RedisURL) // parses only: connects at first use
		if err != nil {
			ps = append(ps, fmt.Sprintf("redis-url: %v", err))
		} else {
			cl.Close()
		}
	}
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, "{}: \t") {
		ps = append(ps, fmt.Sprintf("redis-prefix %q: want a non-empty word without braces, colons or spaces", c.RedisPrefix))
	}
	if c.ShutdownTimeout <= 0 {
		ps = append(ps, "shutdown-timeout: must be positive")
	}
	if _, err := switchboard.ParseUnknownPolicy(c.UnknownNumber); err != nil {
		ps = append(ps, err.Error())
	}
	if c.ARIURL != "" {
		o := c.ariOptions(nil, c.APIAddr)
		if c.ARIPassword == "" {
			// Said here in sophiad's terms, and not again by the adapter's check.
			ps = append(ps, "ari-password: required with --ari-url (set SOPHIA_ARI_PASSWORD)")
			o.Password = "unset"
		}
		if err := o.Check(); err != nil {
			ps = append(ps, err.Error())
		}
	}
	if c.FreeSWITCH() {
		if err := c.eslOptions(nil, nil, c.APIAddr).Check(); err != nil {
			ps = append(ps, err.Error())
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		ps = append(ps, "SOPHIA_ADMIN_TOKEN: at least 16 characters")
	}
	return ps
}

func newLogger(c *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
