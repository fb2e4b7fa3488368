//go:build race

package esl

// raceEnabled: the race detector slows the fake FreeSWITCH and sophia alike (~10×).
const raceEnabled = true
