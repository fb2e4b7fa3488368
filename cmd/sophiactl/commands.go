package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
)

var commands []command

func init() {
	commands = []command{
		{"users list", "", "List users (filters: --site, --name, --number; every page unless --limit).", usersList},
		{"users get", "ID", "Show a user's sheet.", get("users")},
		{"users set", "ID FILE", "Create or replace a user's sheet from a JSON file (- for stdin).\nThe file's version (or --if-match) must be the stored one; version 0 or none creates.", put("users")},
		{"users patch", "ID PATCH", "Change a user's sheet with a JSON merge patch: inline JSON, @FILE, or - for stdin.\nExample: sophiactl users patch alice '{\"forwards\":{\"busy\":{\"enabled\":false}}}'", patch("users")},
		{"users delete", "ID", "Delete a user.", del("users")},
		{"users audit", "ID", "Show a user's audit log, newest first.", audit("users")},
		{"users import", "FILE", "Create or update users from a CSV or JSON file (- for stdin); each row on its own.\nA bad row is reported with its line and field and does not stop the others.", usersImport},
		{"users export", "", "Write every user (filters: --site) as CSV or JSON to stdout or --file.", usersExport},
		{"sites list", "", "List sites.", sitesList},
		{"sites get", "ID", "Show a site.", get("sites")},
		{"sites set", "ID FILE", "Create or replace a site from a JSON file (- for stdin).", put("sites")},
		{"sites patch", "ID PATCH", "Change a site with a JSON merge patch (inline, @FILE or -).", patch("sites")},
		{"sites delete", "ID", "Delete a site.", del("sites")},
		{"sites audit", "ID", "Show a site's audit log.", audit("sites")},
		{"dnd on", "USER", "Turn do-not-disturb on.", shortcut("dnd/on")},
		{"dnd off", "USER", "Turn do-not-disturb off.", shortcut("dnd/off")},
		{"forward set", "USER KIND TARGET...", "Set a forward's target and turn it on. KIND: unconditional, no_answer,\nnot_connected, busy, simultaneous_ring (several targets). TARGET: voicemail, user:<id> or a number.", forwardSet},
		{"forward clear", "USER KIND", "Turn a forward off and forget its target.", forwardClear},
		{"forward on", "USER KIND", "Turn a forward on (KIND may be scheduled/<index>).", forwardToggle("on")},
		{"forward off", "USER KIND", "Turn a forward off (KIND may be scheduled/<index>).", forwardToggle("off")},
		{"route", "USER", "Explain where a call to USER goes, step by step with the rule that fired (nothing is\nwritten). Hypotheses: --at, --from, --to, --active, --respond TARGET=answer|no_answer|busy|offline.\nExample: sophiactl route alice --respond user:alice=offline --respond +33612345678=answer", route},
		{"lint", "[USER...]", "Check sheets against good practice (ghost calls, lost calls, full mailboxes, forward\nloops…); --all checks every user. Exit 8 when any warning or error is found.", lint},
		{"pin set", "USER", "Set a user's voicemail PIN, read from stdin (never shown back).", pinSet},
		{"media list", "", "List the media library.", mediaList},
		{"media upload", "NAME FILE", "Upload a WAV file (PCM) as NAME.", mediaUpload},
		{"media download", "NAME FILE", "Download NAME to FILE (- for stdout).", mediaDownload},
		{"media delete", "NAME", "Delete a media file (refused while a sheet uses it).", del("media")},
		{"tokens list", "", "List API tokens.", tokensList},
		{"tokens create", "NAME", "Create an API token (--scope all | site:<id> | user:<id>); prints its secret once.", tokensCreate},
		{"tokens delete", "NAME", "Delete an API token.", del("tokens")},
		{"whoami", "", "Show the token in use.", whoami},
	}
}

func nargs(args []string, n int, names string) error {
	if len(args) != n {
		return usagef("want %s, got %d argument(s)", names, len(args))
	}
	return nil
}

// printJSON writes b (a JSON answer) indented.
func printJSON(w io.Writer, b []byte) {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		w.Write(b)
		return
	}
	buf.WriteByte('\n')
	w.Write(buf.Bytes())
}

// show prints an answer: as JSON with -o json, else through human.
func show(e *env, b []byte, human func(io.Writer, []byte) error) error {
	if e.json || human == nil {
		printJSON(e.out, b)
		return nil
	}
	return human(e.out, b)
}

func humanFor(kind string) func(io.Writer, []byte) error {
	switch kind {
	case "users":
		return humanSheet
	case "sites":
		return humanSite
	}
	return nil
}

func get(kind string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error {
			if err := nargs(args, 1, "ID"); err != nil {
				return err
			}
			b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/" + kind + "/" + pathEscape(args[0])})
			if err != nil {
				return err
			}
			return show(e, b, humanFor(kind))
		}
	}
}

// readInput reads a file argument: "-" is stdin, "@path" or a path is a file; with
// inline, anything else is the content itself.
func readInput(e *env, arg string, inline bool) ([]byte, error) {
	switch {
	case arg == "-":
		return io.ReadAll(e.in)
	case strings.HasPrefix(arg, "@"):
		return os.ReadFile(arg[1:])
	case inline:
		return []byte(arg), nil
	}
	return os.ReadFile(arg)
}

func put(kind string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		ifMatch := fs.String("if-match", "", "the `version` the write applies to (default: the file's)")
		return func(e *env, args []string) error {
			if err := nargs(args, 2, "ID FILE"); err != nil {
				return err
			}
			body, err := readInput(e, args[1], false)
			if err != nil {
				return err
			}
			b, _, err := e.c.do(e.ctx, request{method: "PUT", path: "/v1/" + kind + "/" + pathEscape(args[0]), body: body, ifMatch: *ifMatch})
			if err != nil {
				return err
			}
			return show(e, b, humanFor(kind))
		}
	}
}

func patch(kind string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		ifMatch := fs.String("if-match", "", "apply only to this `version`")
		return func(e *env, args []string) error {
			if err := nargs(args, 2, "ID PATCH"); err != nil {
				return err
			}
			body, err := readInput(e, args[1], true)
			if err != nil {
				return err
			}
			b, _, err := e.c.do(e.ctx, request{method: "PATCH", path: "/v1/" + kind + "/" + pathEscape(args[0]), body: body,
				contentType: "application/merge-patch+json", ifMatch: *ifMatch})
			if err != nil {
				return err
			}
			return show(e, b, humanFor(kind))
		}
	}
}

func del(kind string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		ifMatch := fs.String("if-match", "", "delete only this `version`")
		return func(e *env, args []string) error {
			if err := nargs(args, 1, "a name"); err != nil {
				return err
			}
			if _, _, err := e.c.do(e.ctx, request{method: "DELETE", path: "/v1/" + kind + "/" + pathEscape(args[0]), ifMatch: *ifMatch}); err != nil {
				return err
			}
			if e.json {
				fmt.Fprintf(e.out, "{\"deleted\":%q}\n", args[0])
			} else {
				fmt.Fprintf(e.out, "deleted %s\n", args[0])
			}
			return nil
		}
	}
}

func audit(kind string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		limit := fs.Int("limit", 20, "entries to show, newest first")
		return func(e *env, args []string) error {
			if err := nargs(args, 1, "ID"); err != nil {
				return err
			}
			b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/" + kind + "/" + pathEscape(args[0]) + "/audit",
				query: url.Values{"limit": {strconv.Itoa(*limit)}}})
			if err != nil {
				return err
			}
			return show(e, b, humanAudit)
		}
	}
}

func usersList(fs *flag.FlagSet) func(*env, []string) error {
	site := fs.String("site", "", "only users of this `site`")
	name := fs.String("name", "", "only users whose name contains this")
	number := fs.String("number", "", "only the user holding this number")
	limit := fs.Int("limit", 0, "at most this many (default: all)")
	return func(e *env, args []string) error {
		if err := nargs(args, 0, "no argument"); err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"site": *site, "name": *name, "number": *number} {
			if v != "" {
				q.Set(k, v)
			}
		}
		users, err := listAll[*config.Sheet](e, "/v1/users", q, *limit)
		if err != nil {
			return err
		}
		if e.json {
			b, _ := json.Marshal(users)
			printJSON(e.out, b)
			return nil
		}
		return tableUsers(e.out, users)
	}
}

// listAll reads every page of a list (or the first max items).
func listAll[T any](e *env, path string, q url.Values, max int) ([]T, error) {
	all := []T{}
	after := ""
	for {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		pageSize := 500
		if max > 0 {
			pageSize = min(500, max-len(all))
		}
		qq.Set("limit", strconv.Itoa(pageSize))
		if after != "" {
			qq.Set("after", after)
		}
		var page api.Page[T]
		if _, err := e.c.getJSON(e.ctx, request{method: "GET", path: path, query: qq}, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == "" || (max > 0 && len(all) >= max) {
			return all, nil
		}
		after = page.Next
	}
}

func sitesList(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		if err := nargs(args, 0, "no argument"); err != nil {
			return err
		}
		sites, err := listAll[*config.Site](e, "/v1/sites", url.Values{}, 0)
		if err != nil {
			return err
		}
		if e.json {
			b, _ := json.Marshal(sites)
			printJSON(e.out, b)
			return nil
		}
		return tableSites(e.out, sites)
	}
}

func shortcut(action string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error {
			if err := nargs(args, 1, "USER"); err != nil {
				return err
			}
			b, _, err := e.c.do(e.ctx, request{method: "POST", path: "/v1/users/" + pathEscape(args[0]) + "/" + action})
			if err != nil {
				return err
			}
			return show(e, b, humanSheetLine)
		}
	}
}

func forwardSet(fs *flag.FlagSet) func(*env, []string) error {
	ringTimeout := fs.Int("ring-timeout", 0, "no_answer: ring `seconds` before forwarding")
	confirm := fs.Bool("confirm", false, "simultaneous_ring: ask the answerer to press 1")
	return func(e *env, args []string) error {
		if len(args) < 3 {
			return usagef("want USER KIND TARGET..., got %d argument(s)", len(args))
		}
		req := api.ForwardRequest{}
		if args[1] == "simultaneous_ring" {
			req.Targets = args[2:]
			req.Confirm = confirm
		} else {
			if len(args) != 3 {
				return usagef("%s takes one target", args[1])
			}
			req.Target = args[2]
		}
		if *ringTimeout != 0 {
			req.TimeoutS = ringTimeout
		}
		body, _ := json.Marshal(req)
		b, _, err := e.c.do(e.ctx, request{method: "PUT", path: "/v1/users/" + pathEscape(args[0]) + "/forwards/" + pathEscape(args[1]), body: body})
		if err != nil {
			return err
		}
		return show(e, b, humanSheetLine)
	}
}

func forwardClear(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		if err := nargs(args, 2, "USER KIND"); err != nil {
			return err
		}
		b, _, err := e.c.do(e.ctx, request{method: "DELETE", path: "/v1/users/" + pathEscape(args[0]) + "/forwards/" + pathEscape(args[1])})
		if err != nil {
			return err
		}
		return show(e, b, humanSheetLine)
	}
}

func forwardToggle(state string) func(*flag.FlagSet) func(*env, []string) error {
	return func(fs *flag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error {
			if err := nargs(args, 2, "USER KIND"); err != nil {
				return err
			}
			kind := args[1]
			if i, ok := strings.CutPrefix(kind, "scheduled/"); ok {
				kind = "scheduled/" + pathEscape(i)
			} else {
				kind = pathEscape(kind)
			}
			b, _, err := e.c.do(e.ctx, request{method: "POST", path: "/v1/users/" + pathEscape(args[0]) + "/forwards/" + kind + "/" + state})
			if err != nil {
				return err
			}
			return show(e, b, humanSheetLine)
		}
	}
}

func pinSet(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		if err := nargs(args, 1, "USER"); err != nil {
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(e.in, 1024))
		if err != nil {
			return err
		}
		pin := strings.TrimSpace(string(raw))
		if pin == "" {
			return usagef("no PIN on stdin (echo 1234 | sophiactl pin set %s)", args[0])
		}
		body, _ := json.Marshal(api.PINRequest{PIN: pin})
		if _, _, err := e.c.do(e.ctx, request{method: "PUT", path: "/v1/users/" + pathEscape(args[0]) + "/voicemail/pin", body: body}); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "PIN of %s set\n", args[0])
		return nil
	}
}

func mediaList(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/media"})
		if err != nil {
			return err
		}
		return show(e, b, humanMedia)
	}
}

func mediaUpload(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		if err := nargs(args, 2, "NAME FILE"); err != nil {
			return err
		}
		data, err := readInput(e, args[1], false)
		if err != nil {
			return err
		}
		b, _, err := e.c.do(e.ctx, request{method: "PUT", path: "/v1/media/" + pathEscape(args[0]), body: data, contentType: "audio/wav"})
		if err != nil {
			return err
		}
		return show(e, b, nil)
	}
}

func mediaDownload(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		if err := nargs(args, 2, "NAME FILE"); err != nil {
			return err
		}
		b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/media/" + pathEscape(args[0])})
		if err != nil {
			return err
		}
		if args[1] == "-" {
			_, err = e.out.Write(b)
			return err
		}
		return os.WriteFile(args[1], b, 0o644)
	}
}

func tokensList(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/tokens"})
		if err != nil {
			return err
		}
		return show(e, b, humanTokens)
	}
}

func tokensCreate(fs *flag.FlagSet) func(*env, []string) error {
	scope := fs.String("scope", "all", "all, site:<id> or user:<id>")
	return func(e *env, args []string) error {
		if err := nargs(args, 1, "NAME"); err != nil {
			return err
		}
		sc := config.Scope{Kind: *scope}
		if k, id, ok := strings.Cut(*scope, ":"); ok {
			sc = config.Scope{Kind: k, ID: id}
		}
		body, _ := json.Marshal(api.TokenRequest{Name: args[0], Scope: sc})
		b, _, err := e.c.do(e.ctx, request{method: "POST", path: "/v1/tokens", body: body})
		if err != nil {
			return err
		}
		if e.json {
			printJSON(e.out, b)
			return nil
		}
		var nt api.NewToken
		if err := json.Unmarshal(b, &nt); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "token %s (%s) created; its secret, shown once:\n%s\n", nt.Token.Name, *scope, nt.Secret)
		return nil
	}
}

func whoami(fs *flag.FlagSet) func(*env, []string) error {
	return func(e *env, args []string) error {
		b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/whoami"})
		if err != nil {
			return err
		}
		return show(e, b, nil)
	}
}
