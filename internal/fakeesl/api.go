package fakeesl

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// api runs one API command and returns its output (the api/response body or the
// BACKGROUND_JOB body), then fires the API event as FreeSWITCH does once a command has
// run. It takes s.mu itself; originate waits without holding it.
func (s *Server) api(line string, c *conn) string {
	var after func()
	out := s.apiExec(line, c, &after)
	cmd, arg := lowerFirstWord(line)
	s.mu.Lock()
	e := s.baseEvent("API", "switch_loadable_module.c", "switch_api_execute", 2990)
	e.add("API-Command", cmd)
	if arg != "" {
		e.add("API-Command-Argument", arg)
	}
	s.fire(e)
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return out
}

func (s *Server) apiExec(line string, c *conn, after *func()) string {
	cmd, arg := lowerFirstWord(line)
	if cmd == "originate" {
		return s.originate(arg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uuidCmd := func(need int, f func(ch *Channel, args []string) string) string {
		args := strings.Fields(arg)
		if len(args) == 0 {
			return "-USAGE: <uuid> [cause]\n"
		}
		ch, ok := s.channels[args[0]]
		if !ok {
			return "-ERR No such channel!\n"
		}
		if len(args) < need {
			return "-USAGE: " + cmd + "\n"
		}
		return f(ch, args[1:])
	}
	switch cmd {
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
	case "status":
		up := s.clock.Now().Sub(s.started)
		return fmt.Sprintf("UP 0 years, 0 days, %d hours, %d minutes, %d seconds, %d milliseconds, 0 microseconds\n"+
			"FreeSWITCH (Version 1.10.12-release  64bit) is ready\n%d session(s) since startup\n"+
			"%d session(s) - peak %d, last 5min %d \n0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"+
			"1000 session(s) max\nmin idle cpu 0.00/100.00\nCurrent Stack Size/Max 240K/8192K\n",
			int(up.Hours()), int(up.Minutes())%60, int(up.Seconds())%60, up.Milliseconds()%1000,
			s.sessionID, len(s.channels), len(s.channels), len(s.channels))
	case "uuid_exists":
		if _, ok := s.channels[strings.TrimSpace(arg)]; ok {
			return "true"
		}
		return "false"
	case "uuid_kill":
		return uuidCmd(1, func(ch *Channel, a []string) string {
			cause := "NORMAL_CLEARING"
			if len(a) > 0 && validCause(a[0]) {
				cause = a[0]
			}
			ch.hangup(cause)
			return "+OK\n"
		})
	case "uuid_getvar":
		return uuidCmd(2, func(ch *Channel, a []string) string {
			if v, ok := ch.vars.get(a[0]); ok {
				return v
			}
			return "_undef_"
		})
	case "uuid_setvar":
		return uuidCmd(2, func(ch *Channel, a []string) string {
			if len(a) == 1 {
				ch.vars.del(a[0])
			} else {
				ch.vars.set(a[0], strings.Join(a[1:], " "))
			}
			return "+OK\n"
		})
	case "uuid_setvar_multi":
		return uuidCmd(2, func(ch *Channel, a []string) string {
			for _, kv := range strings.Split(strings.Join(a, " "), ";") {
				k, v, _ := strings.Cut(kv, "=")
				ch.vars.set(strings.TrimSpace(k), v)
			}
			return "+OK\n"
		})
	case "uuid_dump":
		return uuidCmd(1, func(ch *Channel, a []string) string {
			e := ch.event("CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", 0, nil, nil)
			var b strings.Builder
			for _, h := range e.Headers {
				b.WriteString(h.Name + ": " + urlEncode(h.Value) + "\n")
			}
			return b.String()
		})
	case "uuid_break":
		return uuidCmd(1, func(ch *Channel, a []string) string {
			if a := ch.cur; a != nil && a.name != "bridge" {
				if a.onHangup != nil {
					a.onHangup() // stops what it plays (PLAYBACK_STOP)
				}
				ch.finishApp(a)
			}
			return "+OK\n"
		})
	case "uuid_answer":
		return uuidCmd(1, func(ch *Channel, a []string) string { ch.markAnswered(); return "+OK\n" })
	case "uuid_bridge":
		args := strings.Fields(arg)
		if len(args) < 2 {
			return "-USAGE: <uuid> <other_uuid>\n"
		}
		a, ok1 := s.channels[args[0]]
		b, ok2 := s.channels[args[1]]
		if !ok1 || !ok2 {
			return "-ERR Invalid uuid\n"
		}
		s.uuidBridge(a, b)
		return "+OK " + b.UUID + "\n"
	case "uuid_transfer":
		return uuidCmd(2, func(ch *Channel, a []string) string {
			s.transfer(ch, a[0])
			return "+OK\n"
		})
	case "uuid_send_dtmf", "uuid_recv_dtmf":
		args := strings.Fields(arg)
		if len(args) < 2 {
			return "-USAGE: <uuid> <dtmf_data>\n"
		}
		ch, ok := s.channels[args[0]]
		if !ok {
			return "-ERR Cannot locate session!\n"
		}
		digits := strings.Split(args[1], "@")[0]
		if cmd == "uuid_recv_dtmf" {
			ch.receiveDTMF(digits, "APP")
			return "+OK " + ch.UUID + " received DTMF " + digits + ".\n"
		}
		target := ch.peer
		if target == nil {
			target = ch.other
		}
		if target != nil {
			target.receiveDTMF(digits, "UNKNOWN")
		}
		return "+OK " + ch.UUID + " sent DTMF " + digits + ".\n"
	case "uuid_record":
		args := strings.Fields(arg)
		if len(args) == 0 {
			return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
		}
		if _, ok := s.channels[args[0]]; !ok {
			return "-ERR Cannot locate session!\n"
		}
		return "+OK Success\n"
	case "uuid_hold":
		off := strings.HasPrefix(arg, "off ")
		id := strings.TrimSpace(strings.TrimPrefix(arg, "off "))
		ch, ok := s.channels[id]
		if !ok {
			return "-ERR No such channel!\n"
		}
		if off {
			return "-ERR Operation failed\n"
		}
		ch.fireSimple("CHANNEL_HOLD", "switch_channel.c", "switch_channel_perform_mark_hold", 1500)
		if o := ch.other; o != nil && o.holdApp == nil {
			// The partner hears hold music: a playback on it, next to its bridge, that runs
			// until it hangs up (04: uuid_hold off failed, a sendmsg hangup waited behind it).
			moh, ok := o.vars.get("hold_music")
			if !ok {
				moh = s.globalVar("hold_music")
			}
			s.plays = append(s.plays, Playback{UUID: o.UUID, App: "hold_music", File: moh, At: s.clock.Now()})
			// Ended only by the hangup: PLAYBACK ERROR, as traced.
			a := &appRun{name: "playback", arg: moh, uuid: newUUID(), response: "PLAYBACK ERROR"}
			o.holdApp = a
			o.s.fire(o.event("CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2944, nil, a.headers(false)))
		}
		return "+OK Success\n"
	case "show":
		return s.show(arg)
	case "sofia":
		return s.sofia(arg)
	case "sofia_contact":
		return s.sofiaContact(arg)
	case "global_getvar":
		if a := strings.TrimSpace(arg); a != "" {
			return s.globalVar(a)
		}
		keys := make([]string, 0, len(globalVars)+2)
		for k := range globalVars {
			keys = append(keys, k)
		}
		keys = append(keys, "hostname", "domain")
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + s.globalVar(k) + "\n")
		}
		return b.String()
	case "vm_boxcount":
		return "0"
	case "fsctl":
		if strings.TrimSpace(arg) == "shutdown" {
			*after = func() { s.goBusy(s.Shutdown) }
			return "+OK\n"
		}
		return "+OK\n"
	case "hupall":
		cause := "MANAGER_REQUEST"
		if a := strings.Fields(arg); len(a) > 0 && validCause(a[0]) {
			cause = a[0]
		}
		for _, ch := range s.sortedChannels() {
			ch.hangup(cause)
		}
		return "+OK hangup all channels with cause " + cause + "\n"
	case "echo":
		return arg
	}
	return "-ERR " + cmd + " Command not found!\n"
}

// globalVars are vanilla vars.xml's tones and music, as `${us-ring}` expands to them.
var globalVars = map[string]string{
	"hold_music": "local_stream://moh",
	"us-ring":    "%(2000,4000,440,480)",
	"uk-ring":    "%(400,200,400,450);%(400,2000,400,450)",
	"fr-ring":    "%(1500,3500,440)",
	"de-ring":    "%(1000,4000,425)",
	"bong-ring":  "v=-7;%(100,0,941.0,1477.0);v=-7;>=2;+=.1;%(1400,0,350,440)",
	"sit":        "%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7)",
}

func (s *Server) globalVar(k string) string {
	switch k {
	case "hostname":
		return s.opts.Hostname
	case "domain":
		return s.opts.Domain
	}
	return globalVars[k]
}

func (s *Server) sortedChannels() []*Channel {
	out := make([]*Channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].created.Before(out[j].created) || out[i].created.Equal(out[j].created) && out[i].UUID < out[j].UUID
	})
	return out
}

// uuidBridge bridges two parked channels as `uuid_bridge` does (12).
func (s *Server) uuidBridge(a, b *Channel) {
	// Both legs know each other before their park ends (12: the park's COMPLETE shows it).
	a.otherLeg, a.otherLegType = b, "originatee"
	b.otherLeg, b.otherLegType = a, "originator"
	for _, x := range [][2]*Channel{{a, b}, {b, a}} {
		x[0].vars.set("bridge_uuid", x[1].UUID)
		x[0].vars.set("signal_bond", x[1].UUID)
		x[0].vars.set("bridge_channel", x[1].Name)
	}
	for _, ch := range []*Channel{a, b} {
		if p := ch.parkApp; p != nil {
			ch.parkApp = nil
			ch.parked = false
			if r, ok := ch.vars.get("current_application_response"); ok {
				p.response = r
			}
			ch.finishApp(p)
		}
	}
	for _, x := range [][2]*Channel{{a, b}, {b, a}} {
		x[0].s.fire(x[0].event("CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2944, nil,
			[]Header{{"Application", "uuid_bridge"}, {"Application-Data", x[1].UUID}})) // traced: no Application-UUID
	}
	now := s.clock.Now()
	a.other, a.otherType, a.bridgedAt = b, "originatee", now
	b.other, b.otherType, b.bridgedAt = a, "originator", now
	a.state, b.state = "CS_SOFT_EXECUTE", "CS_SOFT_EXECUTE"
	a.s.fire(a.event("CHANNEL_BRIDGE", "switch_ivr_bridge.c", "switch_ivr_uuid_bridge", 2150,
		[]Header{{"Bridge-A-Unique-ID", a.UUID}, {"Bridge-B-Unique-ID", b.UUID}}, nil))
}

// uuidUnbridge ends a uuid_bridge from its A side a: both legs drop signal_bond and
// learn last_bridge_to, then a fires CHANNEL_UNBRIDGE (12).
func uuidUnbridge(a *Channel) {
	b := a.other
	a.other, b.other = nil, nil
	for _, x := range [][2]*Channel{{a, b}, {b, a}} {
		x[0].vars.del("signal_bond")
		x[0].vars.set("last_bridge_to", x[1].UUID)
	}
	a.s.fire(a.event("CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879,
		[]Header{{"Bridge-A-Unique-ID", a.UUID}, {"Bridge-B-Unique-ID", b.UUID}}, nil))
}

// transfer sends ch to a dialplan extension, leaving any uuid_bridge.
func (s *Server) transfer(ch *Channel, ext string) {
	if o := ch.other; o != nil && ch.bridge == nil && o.bridge == nil {
		a := ch
		if ch.otherType == "originator" {
			a = o
		}
		uuidUnbridge(a)
		ch.otherLeg = nil // the transferred leg starts a new profile (12)
		o.hangup("NORMAL_CLEARING")
	}
	ch.state = "CS_EXECUTE"
	if ch.cur != nil && ch.cur.name != "bridge" {
		ch.finishApp(ch.cur)
	}
	ch.runExtension(ext)
}

func (s *Server) show(arg string) string {
	words := strings.Fields(arg)
	asJSON := len(words) >= 3 && words[len(words)-2] == "as" && words[len(words)-1] == "json"
	what := ""
	if len(words) > 0 {
		what = words[0]
	}
	switch what {
	case "channels", "calls":
		chs := s.sortedChannels()
		if asJSON {
			if len(chs) == 0 {
				return "{\"row_count\": 0}\n"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "{\"row_count\":%d,\"rows\":[", len(chs))
			for i, ch := range chs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString("{")
				jsonString(&b, "uuid")
				b.WriteByte(':')
				jsonString(&b, ch.UUID)
				for _, kv := range [][2]string{{"direction", ch.direction}, {"created_epoch", fmt.Sprint(ch.created.Unix())},
					{"name", ch.Name}, {"state", ch.state}, {"cid_name", ch.cidName}, {"cid_num", ch.cidNum},
					{"dest", ch.dest}, {"callstate", ch.callState}, {"call_uuid", ch.UUID}} {
					b.WriteByte(',')
					jsonString(&b, kv[0])
					b.WriteByte(':')
					jsonString(&b, kv[1])
				}
				b.WriteString("}")
			}
			b.WriteString("]}") // no newline after rows (10), unlike the row_count 0 answer
			return b.String()
		}
		var b strings.Builder
		b.WriteString("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context\n")
		if len(chs) == 0 {
			return "\n0 total.\n"
		}
		for _, ch := range chs {
			fmt.Fprintf(&b, "%s,%s,%s,%d,%s,%s,%s,%s,,%s\n", ch.UUID, ch.direction,
				ch.created.Format("2006-01-02 15:04:05"), ch.created.Unix(), ch.Name, ch.state, ch.cidName, ch.cidNum, ch.dest)
		}
		fmt.Fprintf(&b, "\n%d total.\n", len(chs))
		return b.String()
	case "registrations":
		keys := make([]string, 0, len(s.regs))
		for k := range s.regs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if asJSON {
			if len(keys) == 0 {
				return "{\"row_count\": 0}\n"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "{\"row_count\":%d,\"rows\":[", len(keys))
			for i, k := range keys {
				r := s.regs[k]
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('{')
				for j, kv := range [][2]string{{"reg_user", r.User}, {"realm", r.Domain}, {"token", r.callID},
					{"url", "sofia/internal/" + r.Contact}, {"expires", fmt.Sprint(r.exp())},
					{"network_ip", "127.0.0.1"}, {"network_port", r.port()}, {"network_proto", "udp"},
					{"hostname", s.opts.Hostname}, {"metadata", ""}} {
					if j > 0 {
						b.WriteByte(',')
					}
					jsonString(&b, kv[0])
					b.WriteByte(':')
					jsonString(&b, kv[1])
				}
				b.WriteByte('}')
			}
			b.WriteString("]}") // no newline after rows (10), unlike the row_count 0 answer
			return b.String()
		}
		if len(keys) == 0 {
			return "\n0 total.\n" // as show channels: no header line (10)
		}
		var b strings.Builder
		b.WriteString("reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata\n")
		for _, k := range keys {
			r := s.regs[k]
			fmt.Fprintf(&b, "%s,%s,%s,sofia/internal/%s,%d,127.0.0.1,%s,udp,%s,\n", r.User, r.Domain, r.callID, r.Contact,
				r.exp(), r.port(), s.opts.Hostname)
		}
		fmt.Fprintf(&b, "\n%d total.\n", len(keys))
		return b.String()
	}
	return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
}

func (s *Server) sofia(arg string) string {
	w := strings.Fields(arg)
	if len(w) >= 1 && w[0] == "status" {
		if len(w) == 1 {
			// The trace machine's profiles (vanilla with the ports moved, README).
			return "                     Name\t   Type\t                                      Data\tState\n" +
				"=================================================================================================\n" +
				"                127.0.0.1\t  alias\t                                  internal\tALIASED\n" +
				"                 external\tprofile\t             sip:mod_sofia@" + SelfSIPAddr + "\tRUNNING (0)\n" +
				"    external::example.com\tgateway\t                   sip:joeuser@example.com\tNOREG\n" +
				"                 internal\tprofile\t             sip:mod_sofia@127.0.0.1:15060\tRUNNING (0)\n" +
				"=================================================================================================\n" +
				"2 profiles 1 alias\n"
		}
		if len(w) >= 3 && w[1] == "profile" {
			if w[2] != "internal" {
				return "Invalid Profile!\n"
			}
			if len(w) >= 4 && w[3] == "reg" {
				keys := make([]string, 0, len(s.regs))
				for k := range s.regs {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var b strings.Builder
				b.WriteString("\nRegistrations:\n=================================================================================================\n")
				for _, k := range keys {
					r := s.regs[k]
					fmt.Fprintf(&b, "Call-ID:    \t%s\nUser:       \t%s@%s\nContact:    \t\"\" <%s>\nAgent:      \t%s\n"+
						"Status:     \tRegistered(UDP)(unknown) EXP(%s) EXPSECS(%d)\nPing-Status:\tReachable\nPing-Time:\t0.00\n"+
						"Host:       \t%s\nIP:         \t127.0.0.1\nPort:       \t%s\nAuth-User:  \t%s\nAuth-Realm: \t%s\nMWI-Account:\t%s@%s\n\n",
						r.callID, r.User, r.Domain, r.Contact, r.UserAgent, time.Unix(r.exp(), 0).In(s.clock.Now().Location()).Format("2006-01-02 15:04:05"),
						r.exp()-s.clock.Now().Unix(), s.opts.Hostname, r.port(), r.User, r.Domain, r.User, r.Domain)
				}
				fmt.Fprintf(&b, "Total items returned: %d\n=================================================================================================\n", len(keys))
				return b.String()
			}
			return "=================================================================================================\nName             \tinternal\n=================================================================================================\n"
		}
	}
	return "-ERR Usage: sofia status [profile <name>]\n"
}

func (s *Server) sofiaContact(arg string) string {
	a := strings.TrimSpace(arg)
	if i := strings.LastIndex(a, "/"); i >= 0 {
		a = a[i+1:]
	}
	user, domain, _ := strings.Cut(a, "@")
	if domain == "" {
		domain = s.opts.Domain
	}
	if r, ok := s.regs[user+"@"+domain]; ok {
		return "sofia/internal/" + r.Contact
	}
	return "error/user_not_registered"
}

// Shutdown does what `fsctl shutdown` does: every channel hangs up SYSTEM_SHUTDOWN (the
// sockets see their hangup sequence and notices), then every connection gets
// "The system is being shut down." — except the event-subscribed ones, which get the
// ordinary goodbye (09-inbound-fs-shutdown) — and is closed, and the listener stops.
func (s *Server) Shutdown() {
	s.mu.Lock()
	if s.shutting || s.closed {
		s.mu.Unlock()
		return
	}
	s.shutting = true
	e := s.baseEvent("SHUTDOWN", "switch_core.c", "switch_core_destroy", 3000)
	s.fire(e)
	chs := s.sortedChannels()
	for _, ch := range chs {
		ch.verbose = true // traced: every event of a channel shut down carries its variables
	}
	for _, ch := range chs {
		ch.hangup("SYSTEM_SHUTDOWN")
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for _, c := range conns {
		var b strings.Builder
		b.WriteString("Content-Type: text/disconnect-notice\n")
		if c.outbound && c.ch != nil {
			b.WriteString("Controlled-Session-UUID: " + c.ch.UUID + "\nContent-Disposition: disconnect\n")
		}
		if c.listening && !c.outbound {
			b.WriteString("Content-Length: 67\n\n" + goodbye)
		} else {
			b.WriteString("Content-Length: 31\n\nThe system is being shut down.\n")
		}
		c.queue([]byte(b.String()))
		c.closeAfterFlush()
		c.gone = true
		delete(s.conns, c)
	}
	// Only now may lingering channels go (CHANNEL_DESTROY): every socket is closed by then.
	for _, c := range conns {
		c.detach()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
}
