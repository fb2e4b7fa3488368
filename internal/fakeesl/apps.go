package fakeesl

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// apps are the dptools applications the fake runs. Anything else hangs the channel up
// DESTINATION_OUT_OF_ORDER without a CHANNEL_EXECUTE, as 08-errors recorded.
var apps map[string]func(ch *Channel, a *appRun)

func init() {
	apps = map[string]func(ch *Channel, a *appRun){
		"answer":              func(ch *Channel, a *appRun) { ch.markAnswered(); ch.finishApp(a) },
		"pre_answer":          func(ch *Channel, a *appRun) { ch.markProgress(true); ch.finishApp(a) },
		"ring_ready":          func(ch *Channel, a *appRun) { ch.markProgress(false); ch.finishApp(a) },
		"set":                 appSet,
		"export":              appExport,
		"unset":               func(ch *Channel, a *appRun) { ch.vars.del(strings.TrimSpace(a.arg)); ch.finishApp(a) },
		"multiset":            appMultiset,
		"hangup":              appHangup,
		"sleep":               appSleep,
		"playback":            appPlayback,
		"endless_playback":    appForever,
		"echo":                appForever,
		"park":                appPark,
		"socket":              appSocket,
		"bridge":              appBridge,
		"send_dtmf":           appSendDTMF,
		"verbose_events":      func(ch *Channel, a *appRun) { ch.verbose = true; ch.finishApp(a) },
		"play_and_get_digits": appPlayAndGetDigits,
		"log":                 func(ch *Channel, a *appRun) { ch.finishApp(a) },
		"info":                func(ch *Channel, a *appRun) { ch.finishApp(a) },
		"respond":             appRespond,
		"transfer":            appTransfer,
	}
}

func appSet(ch *Channel, a *appRun) {
	k, v, _ := strings.Cut(a.arg, "=")
	k = strings.TrimSpace(k)
	if v == "" {
		ch.vars.del(k)
	} else {
		ch.vars.set(k, v)
	}
	ch.finishApp(a)
}

func appExport(ch *Channel, a *appRun) {
	arg := strings.TrimPrefix(a.arg, "nolocal:")
	k, v, _ := strings.Cut(arg, "=")
	k = strings.TrimSpace(k)
	if !strings.HasPrefix(a.arg, "nolocal:") {
		ch.vars.set(k, v)
	}
	ev, _ := ch.vars.get("export_vars")
	if !containsWord(ev, k) {
		if ev != "" {
			ev += ","
		}
		ch.vars.set("export_vars", ev+k)
	}
	ch.exported().set(k, v)
	ch.finishApp(a)
}

// exported holds the values `export` gives new legs (kept apart for nolocal:).
func (ch *Channel) exported() *varList {
	if ch.exports == nil {
		ch.exports = newVars()
	}
	return ch.exports
}

func containsWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

func appMultiset(ch *Channel, a *appRun) {
	for _, kv := range strings.Fields(a.arg) {
		k, v, _ := strings.Cut(kv, "=")
		ch.vars.set(k, v)
	}
	ch.finishApp(a)
}

func appHangup(ch *Channel, a *appRun) {
	cause := strings.TrimSpace(a.arg)
	if !validCause(cause) {
		cause = "NORMAL_CLEARING"
	}
	ch.hangup(cause)
}

func appSleep(ch *Channel, a *appRun) {
	ms, _ := strconv.Atoi(strings.TrimSpace(a.arg))
	ch.appAfter(a, time.Duration(ms)*time.Millisecond, func() { ch.finishApp(a) })
}

// appAfter finishes a's work after d unless the channel hangs up first.
func (ch *Channel) appAfter(a *appRun, d time.Duration, f func()) {
	s := ch.s
	a.timer = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ch.hungup && !a.finished {
			f()
		}
	})
}

var toneRe = regexp.MustCompile(`%\((\d+),(\d+)`)

// mediaLength estimates how long a file plays: tone_stream://%(on,off,…);loops=N is
// (on+off)·N, silence_stream://N is N ms, local_stream:// never ends, a file 500 ms.
func mediaLength(file string) (time.Duration, bool) {
	switch {
	case strings.HasPrefix(file, "local_stream://"):
		return 0, false
	case strings.HasPrefix(file, "silence_stream://"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(file, "silence_stream://"))
		if ms <= 0 {
			return 0, false
		}
		return time.Duration(ms) * time.Millisecond, true
	case strings.HasPrefix(file, "tone_stream://"):
		total := 0
		for _, m := range toneRe.FindAllStringSubmatch(file, -1) {
			on, _ := strconv.Atoi(m[1])
			off, _ := strconv.Atoi(m[2])
			total += on + off
		}
		loops := 1
		if i := strings.Index(file, "loops="); i >= 0 {
			n, _ := strconv.Atoi(strings.TrimRight(file[i+6:], ";"))
			if n < 0 {
				return 0, false
			}
			if n > 0 {
				loops = n
			}
		}
		if total == 0 {
			total = 1000
		}
		return time.Duration(total*loops) * time.Millisecond, true
	}
	return 500 * time.Millisecond, true
}

func appPlayback(ch *Channel, a *appRun) {
	ch.s.plays = append(ch.s.plays, Playback{UUID: ch.UUID, App: a.name, File: a.arg, At: ch.s.clock.Now()})
	d, ends := mediaLength(a.arg)
	a.response = "FILE PLAYED"
	file := []Header{{"Playback-File-Path", a.arg}}
	ch.s.fire(ch.event("PLAYBACK_START", "switch_ivr_play_say.c", "switch_ivr_play_file", 1500, nil, file))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			ch.s.fire(ch.event("PLAYBACK_STOP", "switch_ivr_play_say.c", "switch_ivr_play_file", 2000, nil,
				append(file, Header{"Playback-Status", "done"})))
		}
	}
	a.onHangup = stop
	if !ends {
		return
	}
	ch.appAfter(a, d*time.Duration(max(a.loops, 1)), func() {
		ch.vars.set("playback_ms", strconv.Itoa(int(d/time.Millisecond)))
		ch.vars.set("playback_seconds", strconv.Itoa(int(d/time.Second)))
		stop()
		ch.finishApp(a)
	})
}

func appForever(ch *Channel, a *appRun) {
	if a.name == "endless_playback" {
		ch.s.plays = append(ch.s.plays, Playback{UUID: ch.UUID, App: a.name, File: a.arg, At: ch.s.clock.Now()})
	}
}

func appPark(ch *Channel, a *appRun) {
	ch.cur = nil
	ch.parkApp = a
	ch.parked = true
	ch.fireSimple("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1002)
	ch.next()
}

func appRespond(ch *Channel, a *appRun) {
	code, _ := strconv.Atoi(strings.Fields(a.arg + " 0")[0])
	switch {
	case code == 180:
		ch.markProgress(false)
	case code == 183:
		ch.markProgress(true)
	case code >= 400:
		ch.hangup(sipCause(code))
		return
	}
	ch.finishApp(a)
}

func appTransfer(ch *Channel, a *appRun) {
	ext := strings.Fields(a.arg + " ")[0]
	ch.finishApp(a)
	ch.runExtension(ext)
}

// runExtension runs the dialplan extension ext on ch (unknown: NO_ROUTE_DESTINATION).
func (ch *Channel) runExtension(ext string) {
	list, ok := ch.s.opts.Dialplan[ext]
	if !ok {
		ch.hangup("NO_ROUTE_DESTINATION")
		return
	}
	ch.dest = ext
	for _, ap := range list {
		ch.enqueue(&appRun{name: ap.Name, arg: ap.Arg, uuid: newUUID()})
	}
}

// appSocket connects the call to a `socket host:port [async] [full]` listener. The app keeps
// running (it is what a hangup completes) while sendmsg applications execute.
func appSocket(ch *Channel, a *appRun) {
	s := ch.s
	f := strings.Fields(a.arg)
	addr := ""
	if len(f) > 0 {
		addr = f[0]
	}
	async := false
	for _, w := range f[1:] {
		if w == "async" {
			async = true
		}
	}
	ch.cur = nil
	ch.parkApp = a
	ch.parked = async
	ch.vars.set("socket_host", strings.Split(addr, ":")[0])
	dial := s.opts.Dial
	if dial == nil {
		dial = net.Dial
	}
	s.goBusy(func() {
		nc, err := dial("tcp", addr)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Debug("fakeesl socket dial", "addr", addr, "err", err)
			if !ch.hungup {
				ch.hangup("DESTINATION_OUT_OF_ORDER")
			}
			return
		}
		if ch.hungup || s.closed {
			_ = nc.Close()
			return
		}
		c := s.newConnLocked(nc, true, ch, "outbound")
		c.async = async
		ch.sock = c
		c.start()
	})
	ch.next()
}

func appSendDTMF(ch *Channel, a *appRun) {
	digits := strings.Split(a.arg, "@")[0]
	// Digits sent on one loopback leg arrive on its twin; on a bridged leg, on the other.
	target := ch.peer
	if target == nil {
		target = ch.other
	}
	if target != nil {
		target.receiveDTMF(digits, "UNKNOWN")
	}
	ch.finishApp(a)
}

// receiveDTMF fires one DTMF event per digit on ch and feeds whoever waits for digits.
func (ch *Channel) receiveDTMF(digits, source string) {
	for _, d := range digits {
		if ch.hungup {
			return
		}
		ch.s.fire(ch.event("DTMF", "switch_channel.c", "switch_channel_dequeue_dtmf", 1500, nil,
			[]Header{{"DTMF-Digit", string(d)}, {"DTMF-Duration", "2000"}, {"DTMF-Source", source}}))
		if ch.dtmfWait != nil {
			ch.dtmfWait(string(d))
		}
	}
}

// appPlayAndGetDigits: min max tries timeout terminators file invalid var regexp digit_timeout.
func appPlayAndGetDigits(ch *Channel, a *appRun) {
	f := strings.Fields(a.arg)
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	maxd, _ := strconv.Atoi(get(1))
	tries, _ := strconv.Atoi(get(2))
	timeout, _ := strconv.Atoi(get(3))
	term := get(4)
	variable := get(7)
	if tries <= 0 {
		tries = 1
	}
	ch.s.plays = append(ch.s.plays, Playback{UUID: ch.UUID, App: a.name, File: get(5), At: ch.s.clock.Now()})
	got := ""
	finish := func(ok bool) {
		ch.dtmfWait = nil
		if ok && got != "" {
			ch.vars.set(variable, got)
			ch.vars.set("read_result", "success")
		} else {
			ch.vars.set("read_result", "failure")
		}
		ch.finishApp(a)
	}
	ch.dtmfWait = func(d string) {
		if strings.Contains(term, d) {
			finish(true)
			return
		}
		got += d
		if maxd > 0 && len(got) >= maxd {
			finish(true)
		}
	}
	a.onHangup = func() { ch.dtmfWait = nil }
	ch.appAfter(a, time.Duration(tries*timeout)*time.Millisecond, func() { finish(got != "") })
}
