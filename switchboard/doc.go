// Package switchboard is what every PBX adapter does per call, whatever the PBX: the
// Asterisk adapter (package ari) and the FreeSWITCH adapter (package esl) hand it a
// normalized call and a Driver, and it does the rest.
//
// It owns:
//   - finding whose call it is: the dialed number through the number index (inbound),
//     the device the call comes from (outbound; config.Store.OutboundView reads the
//     caller and whoever the dialed number reaches in one round trip); a number no user
//     owns is given back to the PBX's dialplan or rejected (Options.Unknown), and counted;
//   - the active-call leases in Redis (config.Store.AcquireCall / RenewCall /
//     ReleaseCall): one per user in the call (the called user, the caller of an outbound
//     call, whoever answers), acquired after the routing decision read the user's count,
//     renewed while the call lives (Board.Run), released when it ends, so max
//     simultaneous calls and call waiting hold across daemons and a dead daemon's count
//     expires with its leases;
//   - running callflow (Run for inbound, RunOutbound for outbound; a call from one user to
//     another is the caller's outbound and the callee's inbound, both applied);
//   - the end of every call: one record in each involved user's bounded call log
//     (config.Store.RecordCall), and the metrics dashboards start from (metrics.go);
//   - supervision: each user's presence (idle, ringing, in call, do not disturb,
//     offline), computed from what it sees (rings, answers, device states, sheets) and
//     handed to every Publisher (the adapters: Asterisk's Stasis:<user> device state,
//     FreeSWITCH's presence) whenever it changes.
//
// It leaves routing to dialplan (through callflow), and every PBX command to the
// adapter's Driver. Nothing here knows a PBX.
//
// # Plugging an adapter in
//
//	board, _ := switchboard.New(switchboard.Options{Store: st, Registerer: reg})
//	go board.Run(ctx)                       // lease renewal, presence publishing, sheet changes
//	board.AddPublisher(myAdapter)           // Publish(ctx, user, Presence) on every change
//	board.SetLink("asterisk", true)         // the PBX link state, for the dashboard
//	uid, err := board.DeviceState(ctx, "PJSIP/alice", config.DeviceOnline) // from the PBX's events
//
//	// per call, in the goroutine that owns the call:
//	call := &switchboard.Call{ID: chanID, Direction: switchboard.Inbound,
//		From: dialplan.Party{Number: cid, Name: name}, To: exten, Arrived: time.Now()}
//	res := board.Handle(ctx, call, driver) // driver: callflow.Driver + Continue + Talk
//
// The driver calls call.Dialed() when it sends the first leg's dial (the call-setup
// latency metric), and implements Talk: after an answered Ring it returns when the
// conversation ends, so that the call's end is recorded when it really ends.
package switchboard
