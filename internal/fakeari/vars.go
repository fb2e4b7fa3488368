package fakeari

import (
	"strconv"
	"strings"
)

// setVar is pbx_builtin_setvar on a channel: dialplan functions change the
// party data (ChannelCallerId / ChannelConnectedLine when it changed;
// REDIRECTING() publishes nothing), plain variables give ChannelVarset.
// It reports false for an unknown function. f.mu held.
func (f *Fake) setVar(c *channel, name, value string) bool {
	f.record(c, "variable", name+"="+value)
	fn, arg, isFunc := funcCall(name)
	if !isFunc {
		c.vars[name] = value
		f.chanEvent(c, obj{{"variable", name}, {"value", value}}, "ChannelVarset", nil)
		return true
	}
	switch fn {
	case "CALLERID":
		old := c.caller
		switch arg {
		case "num", "number":
			c.caller.Number = value
		case "name":
			c.caller.Name = value
		case "all":
			c.caller = parseCallerID(value)
		case "pres", "num-pres", "name-pres":
			// Presentation (allowed, prohib…): kept as written; DialRecord.Vars shows it.
			c.vars[name] = value
		default:
			return false
		}
		if c.caller != old {
			f.chanEvent(c, nil, "ChannelCallerId", obj{{"caller_presentation", 0},
				{"caller_presentation_txt", "Presentation Allowed, Not Screened"}})
		}
	case "CONNECTEDLINE":
		old := c.connected
		switch arg {
		case "num", "number":
			c.connected.Number = value
		case "name":
			c.connected.Name = value
		case "all":
			c.connected = parseCallerID(value)
		case "pres", "num-pres", "name-pres":
			c.vars[name] = value
		default:
			return false
		}
		if c.connected != old {
			f.chanEvent(c, nil, "ChannelConnectedLine", nil)
		}
	case "REDIRECTING":
		r := &c.redirect
		switch arg {
		case "from-num", "from-number":
			r.FromNum = value
		case "from-name":
			r.FromName = value
		case "to-num", "to-number":
			r.ToNum = value
		case "to-name":
			r.ToName = value
		case "reason":
			if canon, ok := redirectingReasons[strings.ToLower(value)]; ok {
				r.Reason = canon
			} else {
				r.Reason = value
			}
		case "count":
			r.Count, _ = strconv.Atoi(value)
		default:
			return false
		}
	default:
		// Other functions are accepted and kept as they were written.
		c.vars[name] = value
	}
	return true
}

// getVar reads a variable or function; ok false means "not found".
func (f *Fake) getVar(c *channel, name string) (string, bool, bool) {
	fn, arg, isFunc := funcCall(name)
	if !isFunc {
		v, ok := c.vars[name]
		return v, ok, true
	}
	switch fn {
	case "CALLERID":
		switch arg {
		case "num", "number":
			return c.caller.Number, true, true
		case "name":
			return c.caller.Name, true, true
		case "all":
			return formatCallerID(c.caller), true, true
		}
	case "CONNECTEDLINE":
		switch arg {
		case "num", "number":
			return c.connected.Number, true, true
		case "name":
			return c.connected.Name, true, true
		case "all":
			return formatCallerID(c.connected), true, true
		}
	case "REDIRECTING":
		r := c.redirect
		switch arg {
		case "from-num", "from-number":
			return r.FromNum, true, true
		case "from-name":
			return r.FromName, true, true
		case "to-num", "to-number":
			return r.ToNum, true, true
		case "to-name":
			return r.ToName, true, true
		case "reason":
			if r.Reason == "" {
				return "unknown", true, true
			}
			return r.Reason, true, true
		case "count":
			return strconv.Itoa(r.Count), true, true
		}
	case "CHANNEL":
		switch arg {
		case "name":
			return c.name, true, true
		case "state":
			return c.state, true, true
		case "language":
			return c.language, true, true
		case "uniqueid":
			return c.id, true, true
		case "pjsip,remote_addr":
			if c.tech == "PJSIP" {
				return "127.0.0.1:5070", true, true
			}
			return "", true, true
		}
	case "PJSIP_HEADER":
		if c.tech == "PJSIP" && strings.EqualFold(arg, "read,From") {
			return "<sip:" + c.caller.Number + "@127.0.0.1>;tag=003d94c88edb142e", true, true
		}
		return "", true, true
	}
	if v, ok := c.vars[name]; ok {
		return v, true, true
	}
	return "", false, false
}

func formatCallerID(p Party) string {
	switch {
	case p.Name != "" && p.Number != "":
		return `"` + p.Name + `" <` + p.Number + `>`
	case p.Number != "":
		return "<" + p.Number + ">"
	}
	return p.Name
}

// funcCall splits "CALLERID(num)" into ("CALLERID", "num", true).
func funcCall(name string) (fn, arg string, ok bool) {
	if !strings.HasSuffix(name, ")") {
		return "", "", false
	}
	i := strings.IndexByte(name, '(')
	if i <= 0 {
		return "", "", false
	}
	return strings.ToUpper(name[:i]), name[i+1 : len(name)-1], true
}

func (f *Fake) setVariable(q *req) {
	name := q.str("variable")
	if name == "" {
		q.fail(400, "Variable name is required")
		return
	}
	c := f.findControl(q)
	if c == nil {
		return
	}
	if !f.setVar(c, name, q.str("value")) {
		q.fail(400, "Failed to execute function")
		return
	}
	q.noContent()
}

func (f *Fake) getVariable(q *req) {
	name := q.str("variable")
	if name == "" {
		q.fail(400, "Variable name is required")
		return
	}
	c := f.channels[q.pathParam("id")]
	if c == nil {
		q.fail(404, "Provided channel was not found")
		return
	}
	v, ok, known := f.getVar(c, name)
	switch {
	case !known && strings.HasSuffix(name, ")"):
		q.fail(500, "Unable to read provided function")
	case !ok:
		q.fail(404, "Provided variable was not found")
	default:
		q.reply(200, obj{{"value", v}})
	}
}
