//go:build !race

package esl

const raceEnabled = false
