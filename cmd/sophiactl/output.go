package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sophia-pbx/sophia/config"
)

// Output for people: short, aligned, the important first. -o json prints the API's own
// JSON instead, for scripts.

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// forwardSummary says which forwards are on: "busy→user:bob, no_answer→voicemail".
func forwardSummary(f *config.Forwards) string {
	var parts []string
	add := func(name string, on bool, target string) {
		if on {
			parts = append(parts, name+"→"+target)
		}
	}
	add("unconditional", f.Unconditional.Enabled, f.Unconditional.Target)
	for i, r := range f.Scheduled {
		add(fmt.Sprintf("scheduled/%d", i), r.Enabled, r.Target)
	}
	add("no_answer", f.NoAnswer.Enabled, f.NoAnswer.Target)
	add("not_connected", f.NotConnected.Enabled, f.NotConnected.Target)
	add("busy", f.Busy.Enabled, f.Busy.Target)
	add("simultaneous_ring", f.SimultaneousRing.Enabled, strings.Join(f.SimultaneousRing.Targets, "+"))
	if parts == nil {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func humanSheet(w io.Writer, b []byte) error {
	var s config.Sheet
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "user\t%s (%s), site %s, version %d\n", s.ID, s.Name, s.Site, s.Version)
	fmt.Fprintf(tw, "main number\t%s\n", or(s.MainNumber, "-"))
	for _, a := range s.AssociatedNumbers {
		fmt.Fprintf(tw, "associated\t%s %s (callback %s, presentation %s)\n", a.Number, a.Label, onOff(a.Callback), onOff(a.Presentation))
	}
	if s.Device != nil {
		fmt.Fprintf(tw, "device\t%s %s\n", s.Device.ID, s.Device.Endpoint)
	} else {
		fmt.Fprintf(tw, "device\tnone\n")
	}
	fmt.Fprintf(tw, "dnd\t%s\n", onOff(s.DND))
	fmt.Fprintf(tw, "forwards\t%s\n", forwardSummary(&s.Forwards))
	fmt.Fprintf(tw, "no answer after\t%d s\n", s.Forwards.NoAnswer.TimeoutS)
	fmt.Fprintf(tw, "presented number\t%s %s\n", s.PresentedNumber.Mode, s.PresentedNumber.Number)
	fmt.Fprintf(tw, "function keys\t%d\n", len(s.FunctionKeys))
	fmt.Fprintf(tw, "short numbers\t%d\n", len(s.ShortNumbers))
	vm := s.Voicemail
	fmt.Fprintf(tw, "voicemail\t%s (greeting %s, email %s, PIN set: %s)\n", onOff(vm.Enabled), or(vm.Greeting, "none"),
		or(map[bool]string{true: vm.Email.Address}[vm.Email.Enabled], "off"), map[bool]string{true: "yes", false: "no"}[vm.PINSet])
	return tw.Flush()
}

// humanSheetLine is the one-line answer of a shortcut.
func humanSheetLine(w io.Writer, b []byte) error {
	var s config.Sheet
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: dnd %s; forwards: %s (version %d)\n", s.ID, onOff(s.DND), forwardSummary(&s.Forwards), s.Version)
	return nil
}

func humanSite(w io.Writer, b []byte) error {
	var s config.Site
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "site\t%s (%s), version %d\n", s.ID, s.Name, s.Version)
	fmt.Fprintf(tw, "number\t%s\n", or(s.Number, "-"))
	fmt.Fprintf(tw, "region, zone\t%s, %s\n", s.Region, s.Timezone)
	fmt.Fprintf(tw, "outside calls\tinternational %s, premium %s, allow %v, block %v\n",
		onOff(s.OutsideCalls.International), onOff(s.OutsideCalls.Premium), s.OutsideCalls.Allow, s.OutsideCalls.Block)
	fmt.Fprintf(tw, "max forward hops\t%d\n", s.MaxForwardHops)
	return tw.Flush()
}

func tableUsers(w io.Writer, users []*config.Sheet) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSITE\tMAIN NUMBER\tDND\tFORWARDS")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Site, or(u.MainNumber, "-"), onOff(u.DND), forwardSummary(&u.Forwards))
	}
	return tw.Flush()
}

func tableSites(w io.Writer, sites []*config.Site) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tNUMBER\tREGION\tTIMEZONE")
	for _, s := range sites {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, or(s.Number, "-"), s.Region, s.Timezone)
	}
	return tw.Flush()
}

// humanItems prints a page of objects one per line, key=value in key order: for lists
// whose shape sophiactl need not know (audit, media, tokens).
func humanItems(w io.Writer, b []byte) error {
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return err
	}
	if len(page.Items) == 0 {
		fmt.Fprintln(w, "(none)")
	}
	for _, it := range page.Items {
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			v, _ := json.Marshal(it[k])
			parts = append(parts, k+"="+strings.Trim(string(v), `"`))
		}
		fmt.Fprintln(w, strings.Join(parts, " "))
	}
	return nil
}

var (
	humanAudit  = humanItems
	humanMedia  = humanItems
	humanTokens = humanItems
)
