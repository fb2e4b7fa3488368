package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
)

// errAdvice: lint found warnings or errors (exit 8); each was printed.
var errAdvice = errors.New("some sheets need attention")

// repeated is a flag that may be given several times (--respond).
type repeated []string

func (r *repeated) String() string     { return fmt.Sprint(*r) }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// route explains where a call to a user goes (GET /v1/users/{id}/route).
func route(fs *flag.FlagSet) func(*env, []string) error {
	at := fs.String("at", "", "when the call happens, RFC 3339 (default: now)")
	from := fs.String("from", "", "the caller's `number` (default: withheld)")
	to := fs.String("to", "", "the `number` dialed (default: the user's main number)")
	active := fs.Int("active", 0, "the user's calls in progress")
	var respond repeated
	fs.Var(&respond, "respond", "`TARGET=RESPONSE`, repeatable: TARGET user:<id> or a number,\nRESPONSE answer, no_answer, busy or offline (default no_answer; devices not named are online)")
	return func(e *env, args []string) error {
		if err := nargs(args, 1, "USER"); err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"at": *at, "from": *from, "to": *to} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *active != 0 {
			q.Set("active", strconv.Itoa(*active))
		}
		for _, r := range respond {
			q.Add("respond", r)
		}
		b, _, err := e.c.do(e.ctx, request{method: "GET", path: "/v1/users/" + pathEscape(args[0]) + "/route", query: q})
		if err != nil {
			return err
		}
		return show(e, b, func(w io.Writer, b []byte) error {
			var x callflow.Explanation
			if err := json.Unmarshal(b, &x); err != nil {
				return err
			}
			return x.WriteText(w)
		})
	}
}

// lint checks sheets against good practice (GET /v1/users/{id}/advice).
func lint(fs *flag.FlagSet) func(*env, []string) error {
	all := fs.Bool("all", false, "check every user (of --site, if given)")
	site := fs.String("site", "", "with --all: only users of this `site`")
	return func(e *env, args []string) error {
		ids := args
		switch {
		case *all && len(args) > 0:
			return usagef("give users or --all, not both")
		case !*all && len(args) == 0:
			return usagef("want USER... or --all")
		case *all:
			q := url.Values{}
			if *site != "" {
				q.Set("site", *site)
			}
			users, err := listAll[*config.Sheet](e, "/v1/users", q, 0)
			if err != nil {
				return err
			}
			ids = make([]string, len(users))
			for i, u := range users {
				ids[i] = u.ID
			}
		}
		answers := make([]api.AdviceAnswer, 0, len(ids))
		serious := 0
		for _, id := range ids {
			var a api.AdviceAnswer
			if _, err := e.c.getJSON(e.ctx, request{method: "GET", path: "/v1/users/" + pathEscape(id) + "/advice"}, &a); err != nil {
				return fmt.Errorf("advice of %s: %w", id, err)
			}
			for _, it := range a.Advice {
				if it.Severity != callflow.SeverityInfo {
					serious++
				}
			}
			answers = append(answers, a)
		}
		if e.json {
			b, _ := json.Marshal(answers)
			printJSON(e.out, b)
		} else {
			tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
			items := 0
			for _, a := range answers {
				for _, it := range a.Advice {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.User, it.Severity, it.Code, it.Field, it.Message)
					items++
				}
			}
			tw.Flush()
			fmt.Fprintf(e.out, "%d user(s) checked, %d item(s), %d warning(s) or error(s)\n", len(answers), items, serious)
		}
		if serious > 0 {
			return errAdvice
		}
		return nil
	}
}
