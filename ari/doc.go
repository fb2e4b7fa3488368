// Package ari is sophia's Asterisk adapter: a Stasis application (ARI) that receives every
// call Asterisk's dialplan sends to Stasis(sophia,inbound) or Stasis(sophia,outbound),
// hands it to package switchboard (who it is for, leases, callflow, call log, metrics),
// and carries out the plan with ARI commands. It speaks ARI with the data model and
// event decoding of github.com/CyCoreSystems/ari/v6 (imported as cyari).
//
// It owns the link: the events WebSocket and the REST client (rest.go: every request
// takes a context and has a timeout), connecting in the background (sophiad serves
// without Asterisk), reconnecting with capped, jittered backoff, resyncing after each
// connect (channels that ended while the WebSocket was down; device states), and /readyz
// plus sophia_pbx_link_up{pbx="asterisk"}. It leaves routing to dialplan and callflow,
// and the per-call bookkeeping to switchboard.
//
// # Events
//
// One reader goroutine reads the WebSocket and queues the frames; one dispatcher decodes
// them (cyari.DecodeEvent) and routes each to the call that owns its channel, whose own
// goroutine applies them in wire order. Queues are unbounded: no event of a call is ever
// dropped (ari/v6's stdbus drops when a subscriber lags; it is not used). Undecodable
// events are counted (sophia_ari_events_dropped_total).
//
// # Asterisk's surprises, handled
//
//   - A created leg is dialed only once its own StasisStart arrived (a dial sent right
//     after the create's 200 may get 409), and never twice (that crashed 22.10.1).
//   - An unregistered endpoint fails at creation (500 Allocation failed): unreachable.
//   - A dial timeout is a hangup {32, soft} with no NOANSWER Dial event: no answer.
//   - Events race REST replies: a leg's channel id is chosen and routed before the
//     create is sent; state changes are idempotent (endpoint subscriptions double
//     channel events).
//   - StasisEnd, not ChannelDestroyed, ends the control of a channel.
//   - ApplicationReplaced: another client took the application; the link is reported
//     down and made again with backoff.
//   - A WebSocket drop: calls in flight go on over REST; after the reconnect Asterisk's
//     channel list says which channels ended meanwhile.
//
// # Media
//
// Library media reach Asterisk as sound:http://<sophiad>/media/<name>.wav (sophiad's
// public media route, cached by res_http_media_cache) or from a shared directory
// (Options.Media). Hold music is the channel's music class (CHANNEL(musicclass)): name a
// musiconhold.conf class after the media (deploy/asterisk/musiconhold.conf).
//
// # Supervision
//
// Each user's presence is published as the ARI-controlled device state Stasis:<user>
// (NOT_INUSE, RINGING, INUSE, BUSY for do not disturb, UNAVAILABLE when offline); BLF
// keys follow it through hints (exten => 201,hint,Stasis:alice).
package ari
