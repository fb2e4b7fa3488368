package fakeesl

// Quiescence accounting. The fake knows when it has nothing left to do until its clock
// moves or a client sends something: Server.busy counts the goroutines doing work (a read
// loop handling a command, a bgapi job, the socket application dialling), and every
// connection counts the bytes it read and wrote. The trace replay uses it with a
// ManualClock to step through a trace without waiting in real time: after each step it
// waits until the fake is settled and the client has read every byte the fake wrote, and
// then compares.

// goBusy runs f in a goroutine that counts as work until it returns (or blocks in waitOn).
func (s *Server) goBusy(f func()) {
	s.wg.Add(1)
	s.busy.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.busy.Add(-1)
		f()
	}()
}

// waitOn blocks a busy goroutine on ch; whoever sends on (or closes) ch adds the busy count
// back first, so the fake never looks idle between the wake-up and the waiter running.
func waitOn[T any](s *Server, ch <-chan T) T {
	s.busy.Add(-1)
	return <-ch
}

// connState is one connection as the settle check sees it.
type connState struct {
	id       int
	client   string // the TCP client's address (ours for outbound, the peer's for inbound)
	outbound bool
	rx, tx   int64 // bytes read from / written to the socket
	flushed  bool  // nothing queued, not writing, and closed if it was to be closed
	closed   bool  // the socket is closed
	readDone bool  // the read loop has returned
}

// settleState reports whether no goroutine of the fake is working, and every connection.
func (s *Server) settleState() (idle bool, conns []connState) {
	s.mu.Lock()
	cl := append([]*conn(nil), s.connLog...)
	s.mu.Unlock()
	for _, c := range cl {
		st := connState{id: c.id, outbound: c.outbound}
		if c.outbound {
			st.client = c.nc.LocalAddr().String()
		} else {
			st.client = c.nc.RemoteAddr().String()
		}
		st.rx = c.rx.Load()
		st.readDone = c.readDone.Load()
		c.qmu.Lock()
		st.tx = c.tx
		st.closed = c.ncClosed
		st.flushed = len(c.q) == 0 && !c.writing && (!(c.closing || c.dead) || c.ncClosed)
		c.qmu.Unlock()
		conns = append(conns, st)
	}
	// busy is read last: a read that completed before rx was loaded has counted itself
	// busy before counting its bytes (countingReader), so a stale zero cannot hide it.
	return s.busy.Load() == 0, conns
}
