package esl

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/sophia-pbx/sophia/dialplan"
)

// dialValue renders a value for a dial string's {…} or […] variables: FreeSWITCH
// splits those on commas and unquotes single-quoted values (switch_separate_string), so
// a value holding a separator, a bracket, a quote or a space is single-quoted with its
// own quotes and backslashes escaped. Control characters (which could end the command
// on the wire) are dropped.
func dialValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	if !strings.ContainsAny(v, ",|[]{}<>' \\^") {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// legVar is one variable of a leg, in the order it is written.
type legVar struct{ k, v string }

// bridgeLeg is one leg of a bridge as sophia dials it.
type bridgeLeg struct {
	uuid   string // origination_uuid: names the leg in events and results
	target string // user/1000, sofia/gateway/trunk/+33…; "" = cannot be dialed
	vars   []legVar
}

// dialString renders the bridge argument: global variables, then the legs rung together
// (","), each with its own […] variables.
func dialString(global []legVar, legs []bridgeLeg) string {
	var b strings.Builder
	writeVars := func(open, close byte, vs []legVar) {
		if len(vs) == 0 {
			return
		}
		b.WriteByte(open)
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v.k)
			b.WriteByte('=')
			b.WriteString(dialValue(v.v))
		}
		b.WriteByte(close)
	}
	writeVars('{', '}', global)
	first := true
	for _, l := range legs {
		if l.target == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeVars('[', ']', l.vars)
		b.WriteString(l.target)
	}
	return b.String()
}

// diversion renders a leg's redirect information as a SIP Diversion header (RFC 5806):
// the diverting number and name, the reason, the hop counter. The host is FreeSWITCH's
// ${domain} (expanded when the bridge runs) unless the adapter was given one.
func diversion(r dialplan.Redirect, host string) string {
	if host == "" {
		host = "${domain}"
	}
	var b strings.Builder
	if r.From.Name != "" {
		b.WriteString(`"` + strings.ReplaceAll(r.From.Name, `"`, "") + `" `)
	}
	b.WriteString("<sip:" + url.PathEscape(r.From.Number) + "@" + host + ">")
	b.WriteString(";reason=" + r.Reason.SIP())
	b.WriteString(";counter=" + strconv.Itoa(r.Count))
	return b.String()
}
