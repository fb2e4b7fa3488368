package config

import (
	"fmt"
	"strconv"
)

// Problem is one reason a sheet, a site or a file is refused. Path names the field with the
// API's JSON names and indexes ("associated_numbers[1].number"); "" means the whole input.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Reason
	}
	return p.Path + ": " + p.Reason
}

// ValidationError carries every problem found in one input, never only the first, and
// never none. The API answers it with 422 and the problems as the error's fields.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid"
	}
	s := e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// problems collects Problems while a validator walks an input.
type problems []Problem

func (ps *problems) add(path, reason string) { *ps = append(*ps, Problem{path, reason}) }

func (ps *problems) addf(path, format string, args ...any) {
	ps.add(path, fmt.Sprintf(format, args...))
}

// need records reason at path unless ok.
func (ps *problems) need(ok bool, path, reason string) {
	if !ok {
		ps.add(path, reason)
	}
}

// err returns the collected problems as a *ValidationError, or nil.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// idx names element i of the list at path: idx("associated_numbers", 1).
func idx(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
