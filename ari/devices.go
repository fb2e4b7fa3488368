package ari

import (
	"context"
	"slices"
	"time"

	cyari "github.com/CyCoreSystems/ari/v6"
)

// deviceLoop applies endpoint state changes, in the order Asterisk sent them, off the
// dispatcher (each is a Redis write). The endpoint syncs after the connect's (every
// EndpointResync, and when a sheet names a device not followed yet) run here too: off
// the dispatcher, whose call events do not wait for them, and in order with the events,
// so that a snapshot never overwrites a newer registration.
func (a *Adapter) deviceLoop(ctx context.Context) {
	resync := time.NewTicker(a.o.EndpointResync)
	defer resync.Stop()
	syncNow := func(why string) {
		if !a.up.Load() {
			return // the sync at the next connect reads every endpoint
		}
		if err := a.syncEndpoints(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("endpoint sync", "why", why, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			syncNow("periodic")
		case <-a.newDevice:
			syncNow("new device")
		case data := <-a.devices:
			ev, err := cyari.DecodeEvent(data)
			e, ok := ev.(*cyari.EndpointStateChange)
			if err != nil || !ok {
				continue
			}
			ep := e.Endpoint.Technology + "/" + e.Endpoint.Resource
			if _, err := a.b.DeviceState(ctx, ep, endpointState(e.Endpoint.State)); err != nil && ctx.Err() == nil {
				a.log.Warn("record device state", "endpoint", ep, "err", err)
			}
		}
	}
}

// syncEndpoints reads every endpoint's state from Asterisk into Redis, and subscribes
// the application to the endpoints users hold, so that their registrations and
// unregistrations arrive as EndpointStateChange events (a subscription survives
// WebSocket reconnects, not an Asterisk restart: it is renewed at each sync).
func (a *Adapter) syncEndpoints(ctx context.Context) error {
	eps, err := a.rest.endpoints(ctx)
	if err != nil {
		return err
	}
	var held []string
	subscribed := map[string]bool{}
	for _, e := range eps {
		ep := e.Technology + "/" + e.Resource
		uid, err := a.b.DeviceState(ctx, ep, endpointState(e.State))
		if err != nil {
			return err
		}
		if uid != "" {
			held = append(held, "endpoint:"+ep)
			subscribed[ep] = true
		}
	}
	if len(held) > 0 {
		slices.Sort(held)
		if err := a.rest.subscribe(ctx, a.o.App, held); err != nil {
			return err
		}
	}
	a.subMu.Lock()
	a.subscribed = subscribed
	a.subMu.Unlock()
	return nil
}

// noticeDevice hears of the device of a user whose sheet changed (switchboard.Board.
// OnDevice): one the last sync did not subscribe to is synced now, not at the next
// periodic resync, so that its registrations are followed from the start. A device
// Asterisk does not know yet is tried again at each change of its sheet and at each
// resync.
func (a *Adapter) noticeDevice(endpoint string) {
	a.subMu.Lock()
	known := a.subscribed[endpoint]
	a.subMu.Unlock()
	if known {
		return
	}
	select {
	case a.newDevice <- struct{}{}:
	default: // a sync is already due: it reads every endpoint
	}
}
